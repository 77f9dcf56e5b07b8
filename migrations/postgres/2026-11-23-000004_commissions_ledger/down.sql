DROP TABLE ledger_entries;
DROP TABLE commission_rules;
ALTER TABLE programs DROP COLUMN hold_days;
