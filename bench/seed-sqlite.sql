-- 10,000 approved affiliates (copies of the demo affiliate), a link each, and 1,000,000 clicks over the last 30
-- days spread over every link, the demo affiliate's included.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO partner_orgs (program_id, name, kind, status, status_reason, tier_id, country, website_domain, created_at,
    updated_at, promotion_method, terms_version, terms_accepted_at, partner_type, company_size, application_note,
    tier_override, tier_override_until, demotion_warned_at)
SELECT o.program_id, 'Bench Partner ' || n.i, o.kind, o.status, NULL, o.tier_id, o.country, 'bench' || n.i || '.example',
    o.created_at, o.updated_at, o.promotion_method, o.terms_version, o.terms_accepted_at, o.partner_type,
    o.company_size, o.application_note, o.tier_override, NULL, NULL
FROM n, partner_orgs o
WHERE o.id = (SELECT partner_org_id FROM users WHERE email = 'affiliate@demo.concord.test');

INSERT INTO links (partner_org_id, code, destination_url, sub_id, utm_source, utm_medium, utm_campaign, is_default, created_at)
SELECT id, 'bench-' || id, 'https://shop.example/', '', '', '', '', true, created_at
FROM partner_orgs WHERE name LIKE 'Bench Partner %';

CREATE TEMP TABLE link_numbers AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, partner_org_id FROM links;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
INSERT INTO clicks (click_id, link_id, partner_org_id, clicked_at, ip_hash, user_agent, referrer, sub_id, prior_click_id, filtered_reason)
SELECT 'bench' || n.i, l.id, l.partner_org_id, datetime('now', '-' || (n.i % 30) || ' days', '-' || (n.i % 1440) || ' minutes'),
    'ip' || (n.i % 50000), 'Mozilla/5.0 bench', '', '', NULL, NULL
FROM n JOIN link_numbers l ON l.n = n.i % (SELECT count(*) FROM link_numbers);
ANALYZE;
