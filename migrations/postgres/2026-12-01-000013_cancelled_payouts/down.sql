-- Cancelled payouts and batches go back to what they were called before: failed and finished.
UPDATE payout_runs SET status = 'finished' WHERE status = 'cancelled';
UPDATE payouts SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE payout_runs DROP CONSTRAINT payout_runs_status_check,
    ADD CONSTRAINT payout_runs_status_check CHECK (status IN ('running', 'finished'));
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check,
    ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'paid', 'failed', 'reversed'));
