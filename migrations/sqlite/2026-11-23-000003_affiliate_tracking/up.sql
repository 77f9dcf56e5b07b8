-- Affiliate program settings live on the program.
ALTER TABLE programs ADD COLUMN cookie_window_days BIGINT NOT NULL DEFAULT 30;
ALTER TABLE programs ADD COLUMN attribution_model TEXT NOT NULL DEFAULT 'last_click';
ALTER TABLE programs ADD COLUMN terms_text TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN terms_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE programs ADD COLUMN auto_approve_affiliates BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE programs ADD COLUMN default_landing_url TEXT NOT NULL DEFAULT '';
-- One domain per line; links may point at these domains and their subdomains.
ALTER TABLE programs ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN min_seconds_to_convert BIGINT NOT NULL DEFAULT 10;
ALTER TABLE programs ADD COLUMN max_conversions_per_ip_hour BIGINT NOT NULL DEFAULT 5;
-- One IP address per line; their clicks are recorded as filtered.
ALTER TABLE programs ADD COLUMN blocked_ips TEXT NOT NULL DEFAULT '';

ALTER TABLE partner_orgs ADD COLUMN promotion_method TEXT NOT NULL DEFAULT '';
ALTER TABLE partner_orgs ADD COLUMN terms_version BIGINT;
ALTER TABLE partner_orgs ADD COLUMN terms_accepted_at TIMESTAMP;

CREATE TABLE links (
    id INTEGER PRIMARY KEY NOT NULL,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    code TEXT NOT NULL UNIQUE,
    destination_url TEXT NOT NULL,
    sub_id TEXT NOT NULL DEFAULT '',
    utm_source TEXT NOT NULL DEFAULT '',
    utm_medium TEXT NOT NULL DEFAULT '',
    utm_campaign TEXT NOT NULL DEFAULT '',
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX links_partner ON links (partner_org_id);

CREATE TABLE coupons (
    id INTEGER PRIMARY KEY NOT NULL,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    code TEXT NOT NULL,
    -- Lowercased: codes are unique without regard to case.
    code_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE clicks (
    id INTEGER PRIMARY KEY NOT NULL,
    click_id TEXT NOT NULL UNIQUE,
    link_id BIGINT NOT NULL REFERENCES links (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    clicked_at TIMESTAMP NOT NULL,
    ip_hash TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    referrer TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    -- The click id the visitor's cookie held when this click happened: clicks of one browser form a chain.
    prior_click_id TEXT,
    -- NULL for a countable click; else why it does not count: bot, head, duplicate, blocked_ip.
    filtered_reason TEXT
);
CREATE INDEX clicks_partner_time ON clicks (partner_org_id, clicked_at);
CREATE INDEX clicks_link ON clicks (link_id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    external_id TEXT NOT NULL,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    bound_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, external_id)
);

CREATE TABLE conversions (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    partner_org_id BIGINT REFERENCES partner_orgs (id),
    attributed_by TEXT,
    click_id TEXT,
    customer_external_id TEXT,
    coupon_code TEXT,
    product TEXT,
    customer_email TEXT,
    ip_hash TEXT,
    occurred_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- Fraud review: none, held (flagged, waiting for a person), approved, rejected.
    review_status TEXT NOT NULL DEFAULT 'none',
    flag_reasons TEXT NOT NULL DEFAULT '',
    review_reason TEXT,
    UNIQUE (program_id, external_id)
);
CREATE INDEX conversions_partner_time ON conversions (partner_org_id, occurred_at);
CREATE INDEX conversions_review ON conversions (review_status);

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY NOT NULL,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    refund_id TEXT NOT NULL,
    conversion_id BIGINT NOT NULL REFERENCES conversions (id),
    amount_minor BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, refund_id)
);
