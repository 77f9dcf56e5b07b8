-- Days a commission waits (refund window) before it is approved for payout.
ALTER TABLE programs ADD COLUMN hold_days BIGINT NOT NULL DEFAULT 30;

-- Ordered commission rules; the first that matches a conversion sets its commission.
CREATE TABLE commission_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    applies_to TEXT NOT NULL,
    rate_type TEXT NOT NULL,
    -- Basis points for percent rules, minor units of the program currency for flat rules.
    rate BIGINT NOT NULL,
    product_filter TEXT NOT NULL DEFAULT '',
    tier_id BIGINT REFERENCES tiers (id),
    -- From this many sales in the partner's calendar month on, volume_rate applies instead of rate.
    volume_threshold BIGINT,
    volume_rate BIGINT,
    recurrence TEXT NOT NULL DEFAULT 'lifetime',
    recurring_months BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX commission_rules_program ON commission_rules (program_id, position);

-- Every money movement of a partner. Rows are never rewritten: only `status` moves forward
-- (pending -> approved -> paid, or -> void). Balances are sums over rows.
CREATE TABLE ledger_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    available_at TIMESTAMP NOT NULL,
    -- What caused the entry: ('conversion', id), ('refund', id), ('manual', audit id)...; one entry of a kind per source.
    source_type TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    conversion_id BIGINT REFERENCES conversions (id),
    rule_id BIGINT REFERENCES commission_rules (id),
    explanation TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    status_changed_at TIMESTAMP NOT NULL,
    status_reason TEXT,
    UNIQUE (source_type, source_id, kind)
);
CREATE INDEX ledger_partner ON ledger_entries (partner_org_id, status);
CREATE INDEX ledger_due ON ledger_entries (status, available_at);
CREATE INDEX ledger_conversion ON ledger_entries (conversion_id);
