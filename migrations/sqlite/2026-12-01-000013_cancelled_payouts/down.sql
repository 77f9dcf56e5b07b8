-- Cancelled payouts and batches go back to what they were called before: failed and finished.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE payout_runs_rebuilt (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    rail TEXT NOT NULL CHECK (rail IN ('stripe', 'manual')),
    status TEXT NOT NULL CHECK (status IN ('running', 'finished')),
    started_by TEXT NOT NULL,
    -- The manual batch's payment reference, given when it is marked paid.
    reference TEXT NOT NULL DEFAULT '',
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
INSERT INTO payout_runs_rebuilt (id, program_id, rail, status, started_by, reference, started_at, finished_at)
    SELECT id, program_id, rail, CASE status WHEN 'cancelled' THEN 'finished' ELSE status END, started_by, reference, started_at, finished_at FROM payout_runs;
DROP TABLE payout_runs;
ALTER TABLE payout_runs_rebuilt RENAME TO payout_runs;
CREATE UNIQUE INDEX payout_runs_one_running ON payout_runs (program_id) WHERE status = 'running';

CREATE TABLE payouts_rebuilt (
    id INTEGER PRIMARY KEY NOT NULL,
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
INSERT INTO payouts_rebuilt (id, run_id, partner_org_id, amount_minor, currency, rail, status, stripe_account_id,
        stripe_transfer_id, failure_message, reference, ledger_entry_id, period_from, period_to, claimed_until,
        attempts, created_at, paid_at, updated_at)
    SELECT id, run_id, partner_org_id, amount_minor, currency, rail, CASE status WHEN 'cancelled' THEN 'failed' ELSE status END, stripe_account_id,
        stripe_transfer_id, failure_message, reference, ledger_entry_id, period_from, period_to, claimed_until,
        attempts, created_at, paid_at, updated_at FROM payouts;
DROP TABLE payouts;
ALTER TABLE payouts_rebuilt RENAME TO payouts;
CREATE INDEX payouts_run ON payouts (run_id, status);
CREATE INDEX payouts_org ON payouts (partner_org_id, created_at);
COMMIT;
PRAGMA foreign_keys = ON;
