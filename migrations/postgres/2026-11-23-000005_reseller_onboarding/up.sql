-- What a reseller told us when applying.
ALTER TABLE partner_orgs ADD COLUMN partner_type TEXT NOT NULL DEFAULT '';
ALTER TABLE partner_orgs ADD COLUMN company_size TEXT NOT NULL DEFAULT '';
ALTER TABLE partner_orgs ADD COLUMN application_note TEXT NOT NULL DEFAULT '';

-- The partner agreement; a changed text is a new version that every reseller org accepts again.
ALTER TABLE programs ADD COLUMN agreement_text TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN agreement_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE agreement_acceptances (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    version BIGINT NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    ip TEXT NOT NULL,
    UNIQUE (partner_org_id, version)
);
