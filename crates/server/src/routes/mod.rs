//! One file per area of the API; each handler declares, through the core
//! operation it calls, the roles it admits.

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod blacklist;
pub mod cards;
pub mod derivation;
pub mod events;
pub mod keys;
pub mod operators;
pub mod sys;
pub mod terminal;
pub mod terminals;
pub mod transit;

use sscard_core::platform::{Operation, Platform, Session};
use sscard_core::Error;

use crate::error::ApiError;

/// The input a handler read from its request, or the refusal of it audited
/// as the operation's (after the role check the operation would make).
pub(crate) async fn checked<T>(
    platform: &Platform,
    session: &Session,
    op: &Operation,
    action: &str,
    target: &str,
    input: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match input {
        Ok(v) => Ok(v),
        Err(ApiError(e)) => Err(ApiError(
            platform.refuse_input(session, op, action, target, e).await,
        )),
    }
}

/// Decodes a hex field of a request, naming it when it is not hex.
pub(crate) fn hex_field(what: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(value).map_err(|_| ApiError(Error::Invalid(format!("{what} is not hex"))))
}
