-- Rate limits that must hold across restarts and instances: password-reset requests and invitations per address
-- and per IP (platform::rate_limit). Sign-in attempts are counted per IP too.
CREATE TABLE rate_limit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX rate_limit_events_bucket_time ON rate_limit_events (bucket, at);
CREATE INDEX login_attempts_ip_time ON login_attempts (ip, attempted_at);
