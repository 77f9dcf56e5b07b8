-- Content for partners: a file kept in the database (so a backup of the database is a backup of everything) or a
-- link, shown only to the orgs it is meant for.
CREATE TABLE assets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    min_tier_rank BIGINT NOT NULL DEFAULT 0,
    partner_kinds TEXT NOT NULL DEFAULT '',
    required_course_id BIGINT REFERENCES courses (id),
    link_url TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT '',
    file_bytes BYTEA,
    created_at TIMESTAMP NOT NULL
);
