//! The one rule for names the platform stores and shows (operators, keys):
//! short, lower-case ASCII, safe in URLs, file names and audit records.

use crate::{Error, Result};

/// Checks a name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
/// `what` names the kind of name in the error ("user name", "key name").
pub(crate) fn check(name: &str, what: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "a {what} is 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )))
    }
}
