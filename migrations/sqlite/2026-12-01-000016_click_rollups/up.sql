-- Hourly click counts per link and filter reason ('' for counted clicks), written in the same transaction as the
-- clicks they count (issue 22): dashboards read these instead of summing raw clicks.
CREATE TABLE click_rollups (
    hour TIMESTAMP NOT NULL,
    link_id BIGINT NOT NULL REFERENCES links (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    filtered_reason TEXT NOT NULL CHECK (filtered_reason IN ('', 'bot', 'head', 'duplicate', 'blocked_ip')),
    clicks BIGINT NOT NULL CHECK (clicks >= 0),
    PRIMARY KEY (hour, link_id, filtered_reason)
);
CREATE INDEX click_rollups_link_hour ON click_rollups (link_id, hour);
CREATE INDEX click_rollups_partner_hour ON click_rollups (partner_org_id, hour);
-- The clicks stored before this migration, counted once.
INSERT INTO click_rollups (hour, link_id, partner_org_id, filtered_reason, clicks)
    SELECT strftime('%Y-%m-%d %H:00:00', clicked_at), link_id, partner_org_id, COALESCE(filtered_reason, ''), COUNT(*)
    FROM clicks GROUP BY 1, 2, 3, 4;
