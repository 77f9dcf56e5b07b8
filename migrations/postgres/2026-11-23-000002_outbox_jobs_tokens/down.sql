DROP TABLE invitations;
DROP TABLE password_resets;
DROP TABLE job_status;
DROP TABLE outbox;
