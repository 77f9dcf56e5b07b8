-- A manual batch that was not paid is cancelled, not failed: payouts and batches get the status 'cancelled'.
ALTER TABLE payout_runs DROP CONSTRAINT payout_runs_status_check,
    ADD CONSTRAINT payout_runs_status_check CHECK (status IN ('running', 'finished', 'cancelled'));
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check,
    ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'paid', 'failed', 'reversed', 'cancelled'));
