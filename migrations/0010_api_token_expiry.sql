-- API tokens may expire: a token past its expires_at authenticates no one, exactly like an
-- unknown one. NULL means the token does not expire.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
