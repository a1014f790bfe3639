-- Each org link's last sObject Describe of Contact and Account, as Salesforce sent it, with
-- the validators it came with (ETag, Last-Modified): the mapping editor revalidates it with a
-- conditional request, and a 304 keeps this body.
CREATE TABLE sobject_describes (
    org_link_id   TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    sobject       TEXT NOT NULL CHECK (sobject IN ('Contact', 'Account')),
    body          TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    fetched_at    BIGINT NOT NULL,
    PRIMARY KEY (org_link_id, sobject)
);
