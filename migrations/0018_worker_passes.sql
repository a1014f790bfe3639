-- Each background worker's last pass, one row per worker, upserted once per round: when it
-- started and finished, how it went (a failed pass keeps a short summary of why, never a
-- secret), its last success, when the loop runs it next, and counts of passes and failures,
-- so ops can see a worker that stopped passing.
CREATE TABLE worker_passes (
    worker          TEXT PRIMARY KEY
        CHECK (worker IN ('invitations', 'link_notices', 'inbox', 'writeback')),
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
    error           TEXT,
    last_success_at BIGINT,
    next_run_at     BIGINT NOT NULL,
    passes          BIGINT NOT NULL,
    failures        BIGINT NOT NULL
);
-- Items each worker finished and gave up on, per hour: the write-back outbox deletes a row once
-- written, so its throughput is known only from here. Written only by a pass that did something.
CREATE TABLE worker_hours (
    worker TEXT NOT NULL,
    hour   BIGINT NOT NULL,
    done   BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    PRIMARY KEY (worker, hour)
);
