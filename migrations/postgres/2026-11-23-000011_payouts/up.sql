-- Payouts: the smallest balance worth paying (minor units, the same number in every currency), and the day of the
-- month the payouts job starts a batch by itself (NULL: only by hand).
ALTER TABLE programs ADD COLUMN payout_minimum_minor BIGINT NOT NULL DEFAULT 5000 CHECK (payout_minimum_minor >= 0);
ALTER TABLE programs ADD COLUMN payout_day BIGINT CHECK (payout_day BETWEEN 1 AND 28);

-- An org's Stripe Connect (Express) account, and what Stripe last said about it.
CREATE TABLE payout_accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_org_id BIGINT NOT NULL UNIQUE REFERENCES partner_orgs (id),
    stripe_account_id TEXT NOT NULL UNIQUE,
    payouts_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    details_submitted BOOLEAN NOT NULL DEFAULT FALSE,
    -- What Stripe still needs ("external_account", "individual.dob.day"...), one per line.
    requirements TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A batch of payouts. At most one runs at a time per program, so two admins (or the schedule and an admin)
-- starting a batch at once start one.
CREATE TABLE payout_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    rail TEXT NOT NULL CHECK (rail IN ('stripe', 'manual')),
    status TEXT NOT NULL CHECK (status IN ('running', 'finished')),
    started_by TEXT NOT NULL,
    -- The manual batch's payment reference, given when it is marked paid.
    reference TEXT NOT NULL DEFAULT '',
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE UNIQUE INDEX payout_runs_one_running ON payout_runs (program_id) WHERE status = 'running';

-- One payment to one org in one currency. Written with its negative ledger entry in one transaction; its id is
-- the Stripe idempotency key, so a resumed payout can never become a second transfer.
CREATE TABLE payouts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES payout_runs (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    rail TEXT NOT NULL CHECK (rail IN ('stripe', 'manual')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'reversed')),
    stripe_account_id TEXT,
    stripe_transfer_id TEXT UNIQUE,
    failure_message TEXT,
    reference TEXT NOT NULL DEFAULT '',
    ledger_entry_id BIGINT REFERENCES ledger_entries (id),
    -- When the earliest and latest settled entries were earned: the statement's period.
    period_from TIMESTAMP NOT NULL,
    period_to TIMESTAMP NOT NULL,
    -- A worker's lease while it talks to Stripe.
    claimed_until TIMESTAMP,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    paid_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payouts_run ON payouts (run_id, status);
CREATE INDEX payouts_org ON payouts (partner_org_id, created_at);

-- The ledger entries a payout settles.
CREATE TABLE payout_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id BIGINT NOT NULL REFERENCES payouts (id),
    ledger_entry_id BIGINT NOT NULL REFERENCES ledger_entries (id),
    UNIQUE (payout_id, ledger_entry_id)
);
CREATE INDEX payout_entries_entry ON payout_entries (ledger_entry_id);

-- Stripe webhook events already handled, so a redelivered event changes nothing twice.
CREATE TABLE stripe_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
