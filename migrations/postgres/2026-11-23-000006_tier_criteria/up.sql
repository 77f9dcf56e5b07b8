-- What an org needs over the last 12 months to hold a tier. All zero: the tier is open to everyone.
ALTER TABLE tiers ADD COLUMN min_won_revenue_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tiers ADD COLUMN min_certified_reps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tiers ADD COLUMN min_won_deals BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tiers ADD COLUMN min_sales_revenue_minor BIGINT NOT NULL DEFAULT 0;

-- Days an org keeps its tier after it stops qualifying (it is warned by email meanwhile).
ALTER TABLE programs ADD COLUMN tier_grace_days BIGINT NOT NULL DEFAULT 60;

-- A manual placement holds until tier_override_until (or indefinitely when that is NULL).
ALTER TABLE partner_orgs ADD COLUMN tier_override BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE partner_orgs ADD COLUMN tier_override_until TIMESTAMP;
-- Set while an org no longer qualifies for its tier and the grace period runs.
ALTER TABLE partner_orgs ADD COLUMN demotion_warned_at TIMESTAMP;

ALTER TABLE partner_tier_history ADD COLUMN metrics TEXT NOT NULL DEFAULT '';
