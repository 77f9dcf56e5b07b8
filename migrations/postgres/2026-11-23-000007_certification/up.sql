CREATE TABLE courses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    pass_mark_percent BIGINT NOT NULL CHECK (pass_mark_percent BETWEEN 1 AND 100),
    validity_months BIGINT NOT NULL CHECK (validity_months >= 1),
    retake_cooldown_hours BIGINT NOT NULL DEFAULT 0,
    -- Comma-separated partner kinds the course is for; empty: every kind.
    partner_kinds TEXT NOT NULL DEFAULT '',
    min_tier_rank BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE course_modules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link_url TEXT NOT NULL DEFAULT ''
);

CREATE TABLE quiz_questions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    prompt TEXT NOT NULL,
    -- One option per line; `correct` lists the 1-based numbers of the right options, comma-separated.
    options TEXT NOT NULL,
    correct TEXT NOT NULL
);

CREATE TABLE module_progress (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    module_id BIGINT NOT NULL REFERENCES course_modules (id),
    completed_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, module_id)
);

CREATE TABLE quiz_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    score_percent BIGINT NOT NULL,
    passed BOOLEAN NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, course_id, attempted_at);

CREATE TABLE certifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    partner_org_id BIGINT NOT NULL REFERENCES partner_orgs (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    passed_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    reminded_at TIMESTAMP
);
CREATE INDEX certifications_org ON certifications (partner_org_id, expires_at);
