DROP TABLE stripe_events;
DROP TABLE payout_entries;
DROP TABLE payouts;
DROP TABLE payout_runs;
DROP TABLE payout_accounts;
ALTER TABLE programs DROP COLUMN payout_day;
ALTER TABLE programs DROP COLUMN payout_minimum_minor;
