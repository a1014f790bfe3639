-- Sync health (the console's page, GET /api/v1/ops/health and /metrics) counts e-mail
-- deliveries of one kind and outcome in the last hour; without this index each count read the
-- whole table.
CREATE INDEX email_deliveries_by_kind ON email_deliveries (kind, state, at);
