-- Deal registration settings of the program.
ALTER TABLE programs ADD COLUMN deal_sla_hours BIGINT NOT NULL DEFAULT 48;
ALTER TABLE programs ADD COLUMN deal_protection_days BIGINT NOT NULL DEFAULT 90;
-- Deals below this amount (program currency) without any conflict are approved at once; NULL: never.
ALTER TABLE programs ADD COLUMN deal_auto_approve_below_minor BIGINT;
ALTER TABLE programs ADD COLUMN deal_requires_certification BOOLEAN NOT NULL DEFAULT FALSE;
-- Whether reps see every deal of their org, or only their own.
ALTER TABLE programs ADD COLUMN deal_reps_see_org BOOLEAN NOT NULL DEFAULT TRUE;

-- The open stages an approved deal moves through, in order; won and lost are outcomes, not stages.
CREATE TABLE deal_stages (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    probability_percent BIGINT NOT NULL CHECK (probability_percent BETWEEN 0 AND 100),
    UNIQUE (program_id, name)
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    name TEXT NOT NULL,
    UNIQUE (program_id, name)
);

CREATE TABLE deal_custom_fields (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    position BIGINT NOT NULL,
    label TEXT NOT NULL,
    field_type TEXT NOT NULL CHECK (field_type IN ('text', 'number', 'date', 'select')),
    -- Choices of a select field, one per line.
    options TEXT NOT NULL DEFAULT '',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    -- Removed fields stay for the deals that hold their values.
    active BOOLEAN NOT NULL DEFAULT TRUE
);

-- Customers the vendor sells to directly; a registration for one of them is a conflict.
CREATE TABLE direct_accounts (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    company_name TEXT NOT NULL,
    company_key TEXT NOT NULL,
    domain TEXT NOT NULL DEFAULT '',
    account_owner TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, company_key, domain)
);
CREATE INDEX direct_accounts_domain ON direct_accounts (program_id, domain);

CREATE TABLE deals (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    registered_by_user_id BIGINT NOT NULL REFERENCES users (id),
    customer_name TEXT NOT NULL,
    -- Normalised name and registrable domain, which conflict detection compares.
    customer_key TEXT NOT NULL,
    customer_domain TEXT NOT NULL DEFAULT '',
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_title TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    expected_close_date DATE NOT NULL,
    -- Product names, one per line, as chosen (a later rename of the list leaves the deal as registered).
    products TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    -- Values of the custom fields: a JSON array of {"field_id", "label", "value"}.
    custom_fields TEXT NOT NULL DEFAULT '[]',
    -- Why the partner registers despite a possible conflict.
    justification TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('submitted', 'info_requested', 'approved', 'rejected', 'expired',
                                           'won_reported', 'won', 'lost')),
    status_reason TEXT,
    stage_id BIGINT REFERENCES deal_stages (id),
    -- The SLA clock runs from the latest submission; the report measures from the first (created_at).
    submitted_at TIMESTAMP NOT NULL,
    first_decided_at TIMESTAMP,
    approved_at TIMESTAMP,
    protection_until TIMESTAMP,
    escalated_at TIMESTAMP,
    expiry_warned_at TIMESTAMP,
    won_amount_minor BIGINT,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deals_org ON deals (partner_org_id, status);
CREATE INDEX deals_queue ON deals (program_id, status, submitted_at);
CREATE INDEX deals_customer_key ON deals (program_id, customer_key);
CREATE INDEX deals_customer_domain ON deals (program_id, customer_domain);

-- The one protection extension a partner may ask for, and the answer.
CREATE TABLE deal_extensions (
    id INTEGER PRIMARY KEY NOT NULL,
    deal_id BIGINT NOT NULL UNIQUE REFERENCES deals (id),
    justification TEXT NOT NULL,
    requested_by_user_id BIGINT NOT NULL REFERENCES users (id),
    requested_at TIMESTAMP NOT NULL,
    -- NULL while undecided; granted_days NULL after a decision means refused.
    decided_at TIMESTAMP,
    granted_days BIGINT,
    refusal_reason TEXT
);

-- Every change of a deal: who, what, why. The timeline on the deal's page.
CREATE TABLE deal_events (
    id INTEGER PRIMARY KEY NOT NULL,
    deal_id BIGINT NOT NULL REFERENCES deals (id),
    actor_user_id BIGINT REFERENCES users (id),
    actor_label TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX deal_events_deal ON deal_events (deal_id, id);
