//! Authentication primitives: password hashing and random tokens. Who the signed-in user is belongs to `accounts`;
//! the cookie session and CSRF protection to `platform::http`.

pub mod password;
pub mod token;
