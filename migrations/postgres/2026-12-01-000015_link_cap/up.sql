-- How many referral links one affiliate may have (issue 21, L7): settable by admins on the affiliate settings page.
ALTER TABLE programs ADD COLUMN max_links_per_partner BIGINT NOT NULL DEFAULT 1000 CHECK (max_links_per_partner > 0);
