-- Install-wide key/value settings (generated session key, one-time setup token hash).
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE programs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    currency TEXT NOT NULL CHECK (char_length(currency) = 3),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE tiers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    name TEXT NOT NULL,
    rank BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    margin_bps BIGINT NOT NULL DEFAULT 0 CHECK (margin_bps BETWEEN 0 AND 10000),
    commission_override_bps BIGINT CHECK (commission_override_bps BETWEEN 0 AND 10000),
    mdf_allowance_minor BIGINT NOT NULL DEFAULT 0 CHECK (mdf_allowance_minor >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, name),
    UNIQUE (program_id, rank)
);

CREATE TABLE partner_orgs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('affiliate', 'reseller', 'referral')),
    status TEXT NOT NULL CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    status_reason TEXT,
    tier_id BIGINT REFERENCES tiers (id),
    country TEXT NOT NULL DEFAULT '',
    website_domain TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX partner_orgs_status ON partner_orgs (program_id, status);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'partner_admin', 'partner_user')),
    partner_org_id BIGINT REFERENCES partner_orgs (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    -- Staff belong to no partner org; partner users always belong to one.
    CHECK ((role IN ('admin', 'manager')) = (partner_org_id IS NULL))
);

-- Server-side sessions: the cookie carries a random token, the database its hash, so logout and disabling a user
-- end a session everywhere at once.
CREATE TABLE sessions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_email_time ON login_attempts (email, attempted_at);

CREATE TABLE partner_tier_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    from_tier_id BIGINT REFERENCES tiers (id),
    to_tier_id BIGINT REFERENCES tiers (id),
    -- Names are copied so the history still reads after a tier is renamed or removed.
    from_tier_name TEXT NOT NULL DEFAULT '',
    to_tier_name TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    changed_by_user_id BIGINT REFERENCES users (id),
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX partner_tier_history_org ON partner_tier_history (partner_org_id, changed_at);

-- Append-only record of decisions. Labels are copied so the log still reads after a rename or deletion.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_user_id BIGINT REFERENCES users (id),
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id BIGINT,
    subject_label TEXT NOT NULL,
    reason TEXT,
    before_summary TEXT,
    after_summary TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (created_at);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);

CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
