//! Who is asking: password hashing, random tokens, the typed session, the signed-in user and the guards that keep
//! staff pages for staff and the portal for partners, and CSRF protection for every form.

pub mod csrf;
pub mod guard;
pub mod login;
pub mod password;
pub mod session;
pub mod token;

pub use guard::{CurrentUser, MaybeUser};
pub use session::TypedSession;
