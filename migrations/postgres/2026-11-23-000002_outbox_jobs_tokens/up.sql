-- Transactional outbox: a message is written in the same transaction as the decision it reports, and a job
-- delivers it. Content is rendered at write time, so what is sent is what was decided.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    -- Stable across retries, so a duplicate after a crash is recognisable.
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A delivery worker's lease on the row; another worker may take it only after it lapses.
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- The last run of each periodic job, for /admin/jobs.
CREATE TABLE job_status (
    name TEXT PRIMARY KEY NOT NULL,
    last_started_at TIMESTAMP NOT NULL,
    last_finished_at TIMESTAMP NOT NULL,
    last_duration_ms BIGINT NOT NULL,
    last_ok BOOLEAN NOT NULL,
    last_detail TEXT NOT NULL,
    runs BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE password_resets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets (user_id);

CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('partner_admin', 'partner_user')),
    token_hash TEXT NOT NULL UNIQUE,
    invited_by_user_id BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX invitations_org ON invitations (partner_org_id);
