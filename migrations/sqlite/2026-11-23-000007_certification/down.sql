DROP TABLE certifications;
DROP TABLE quiz_attempts;
DROP TABLE module_progress;
DROP TABLE quiz_questions;
DROP TABLE course_modules;
DROP TABLE courses;
