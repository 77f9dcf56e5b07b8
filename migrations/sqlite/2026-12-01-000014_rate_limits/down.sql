DROP INDEX login_attempts_ip_time;
DROP TABLE rate_limit_events;
