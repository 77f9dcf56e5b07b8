DROP TABLE agreement_acceptances;
ALTER TABLE programs DROP COLUMN agreement_version;
ALTER TABLE programs DROP COLUMN agreement_text;
ALTER TABLE partner_orgs DROP COLUMN application_note;
ALTER TABLE partner_orgs DROP COLUMN company_size;
ALTER TABLE partner_orgs DROP COLUMN partner_type;
