ALTER TABLE programs DROP COLUMN max_links_per_partner;
