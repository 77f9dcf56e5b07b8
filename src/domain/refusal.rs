//! A refusal: why a rule turned down an input or an action, in words for the person who asked. Pure checks return
//! it instead of a bare `String`, so a signature says "this can be refused, and here is how it is explained", and
//! the explanation travels as an error (`std::error::Error`) where a caller needs one.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl Refusal {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The explanation, as shown next to the field or on the page.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// Read as the text it explains (`refusal.contains("500.00 EUR")`).
impl std::ops::Deref for Refusal {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for Refusal {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        Self(message.to_string())
    }
}

/// Pages and JSON errors carry the explanation as text.
impl From<Refusal> for String {
    fn from(refusal: Refusal) -> Self {
        refusal.0
    }
}
