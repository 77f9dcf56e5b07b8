-- Market development funds: the program's reimbursement rate and claim deadline.
-- A claim pays at most this share (basis points) of the activity's actual cost.
ALTER TABLE programs ADD COLUMN mdf_reimbursement_bps BIGINT NOT NULL DEFAULT 5000
    CHECK (mdf_reimbursement_bps BETWEEN 1 AND 10000);
-- Days after an activity's end within which its claim must be filed.
ALTER TABLE programs ADD COLUMN mdf_claim_days BIGINT NOT NULL DEFAULT 60 CHECK (mdf_claim_days >= 1);

-- A fund for one period. Orgs receive allocations per tier or per partner, and optionally accrue a share of their
-- confirmed won revenue in the period.
CREATE TABLE mdf_funds (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    name TEXT NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    -- The period is starts_on..=ends_on; unused funds expire after ends_on.
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    -- Basis points of each org's confirmed won revenue in the period (deals in the fund's currency); 0: none.
    accrual_bps BIGINT NOT NULL DEFAULT 0 CHECK (accrual_bps BETWEEN 0 AND 10000),
    -- Set once by the expiry job, which records what expired per org in mdf_expiries.
    expired_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, name),
    CHECK (starts_on <= ends_on)
);

-- X for every org of a tier, or X for one org. An org with both receives both.
CREATE TABLE mdf_allocations (
    id INTEGER PRIMARY KEY NOT NULL,
    fund_id BIGINT NOT NULL REFERENCES mdf_funds (id),
    tier_id BIGINT REFERENCES tiers (id),
    partner_org_id BIGINT REFERENCES partner_orgs (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((tier_id IS NULL) <> (partner_org_id IS NULL)),
    UNIQUE (fund_id, tier_id),
    UNIQUE (fund_id, partner_org_id)
);

CREATE TABLE mdf_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    fund_id BIGINT NOT NULL REFERENCES mdf_funds (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    requested_by_user_id BIGINT NOT NULL REFERENCES users (id),
    activity_type TEXT NOT NULL CHECK (activity_type IN ('event', 'digital_ads', 'content', 'training', 'other')),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    requested_minor BIGINT NOT NULL CHECK (requested_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    expected_leads BIGINT NOT NULL DEFAULT 0 CHECK (expected_leads >= 0),
    expected_pipeline_minor BIGINT NOT NULL DEFAULT 0 CHECK (expected_pipeline_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('submitted', 'info_requested', 'approved', 'declined', 'completed',
                                           'closed')),
    status_reason TEXT,
    -- What the approval reserves: all or part of the requested amount.
    approved_minor BIGINT,
    decided_at TIMESTAMP,
    -- The last day a claim may be filed (ends_on + the program's claim days), set on approval.
    claim_due_on DATE,
    claim_reminded_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (starts_on <= ends_on)
);
CREATE INDEX mdf_requests_fund ON mdf_requests (fund_id, partner_org_id, status);
CREATE INDEX mdf_requests_status ON mdf_requests (status, created_at);

-- One claim per request; a claim returned for more information is corrected and filed again.
CREATE TABLE mdf_claims (
    id INTEGER PRIMARY KEY NOT NULL,
    request_id BIGINT NOT NULL UNIQUE REFERENCES mdf_requests (id),
    submitted_by_user_id BIGINT NOT NULL REFERENCES users (id),
    actual_cost_minor BIGINT NOT NULL CHECK (actual_cost_minor > 0),
    claimed_minor BIGINT NOT NULL CHECK (claimed_minor > 0),
    leads_generated BIGINT NOT NULL DEFAULT 0 CHECK (leads_generated >= 0),
    results TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('submitted', 'info_requested', 'approved', 'rejected')),
    status_reason TEXT,
    submitted_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mdf_claims_status ON mdf_claims (status, submitted_at);

-- Deals of the org's own registrations that the activity produced; ROI counts their won revenue.
CREATE TABLE mdf_claim_deals (
    id INTEGER PRIMARY KEY NOT NULL,
    claim_id BIGINT NOT NULL REFERENCES mdf_claims (id),
    deal_id BIGINT NOT NULL REFERENCES deals (id),
    UNIQUE (claim_id, deal_id)
);

-- Proof of performance. The bytes live under CONCORD_DATA_DIR/uploads with a random name; these rows say whose
-- they are. They hang off the request so files uploaded with a claim form that had errors are kept.
CREATE TABLE mdf_proof_files (
    id INTEGER PRIMARY KEY NOT NULL,
    request_id BIGINT NOT NULL REFERENCES mdf_requests (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    stored_name TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    uploaded_by_user_id BIGINT NOT NULL REFERENCES users (id),
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX mdf_proof_files_request ON mdf_proof_files (request_id);

-- Funds that expired unused: at the period end, and again when a reservation of an expired fund lapses.
CREATE TABLE mdf_expiries (
    id INTEGER PRIMARY KEY NOT NULL,
    fund_id BIGINT NOT NULL REFERENCES mdf_funds (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mdf_expiries_fund ON mdf_expiries (fund_id, partner_org_id);

-- The request's timeline, claim steps included.
CREATE TABLE mdf_events (
    id INTEGER PRIMARY KEY NOT NULL,
    request_id BIGINT NOT NULL REFERENCES mdf_requests (id),
    actor_user_id BIGINT REFERENCES users (id),
    actor_label TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mdf_events_request ON mdf_events (request_id, id);
