//! The one place where platform errors become HTTP statuses and stable codes.
//! A 5xx says nothing internal: the detail goes to the log, under the
//! request id the client also sees.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use sscard_core::Error;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, one per kind of refusal: `malformed_json`, `malformed_query`,
    /// `invalid`, `kcv_mismatch` (400); `unauthenticated`,
    /// `bad_credentials` (401); `forbidden_role`, `refused`, `disabled`,
    /// `password_change_required`, `self_approval`, `not_exportable`,
    /// `mac_mismatch`, `signature_invalid`, `bad_share`, `weak_key` (403); `not_found`
    /// (404); `method_not_allowed` (405); `conflict`, `already_initialized`, `not_initialized`,
    /// `key_state`, `key_version_retired`, `approval_closed`,
    /// `duplicate_share` (409); `too_large` (413); `sealed`, `locked` (423);
    /// `too_many_requests` (429); `internal` (500).
    pub code: &'static str,
    /// What was wrong, for a person.
    pub message: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl ApiError {
    /// Status and code of each kind of error, from the platform's one
    /// exhaustive mapping ([`Error::code_and_status`]).
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let (code, status) = self.0.code_and_status();
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() && code == "internal" {
            tracing::error!(error = %self.0, "request failed");
            "internal error; the server log has the detail under this response's request id"
                .to_string()
        } else {
            self.0.to_string()
        };
        error_response(status, code, message)
    }
}

/// The error of one item of a batch: its message names the item (from 1),
/// whatever refused it; an internal failure says no more than elsewhere.
#[derive(Debug)]
pub struct ItemError {
    /// The item's place in the batch, from 1.
    pub index: usize,
    /// What refused it.
    pub error: ApiError,
}

impl IntoResponse for ItemError {
    fn into_response(self) -> Response {
        let (status, code) = self.error.status_and_code();
        if status.is_server_error() {
            return self.error.into_response();
        }
        error_response(
            status,
            code,
            format!("item {}: {}", self.index, self.error.0),
        )
    }
}

/// The stable code of an error answer, kept on the response for the layer
/// that audits refusals no operation recorded.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// An error answer: `{"code", "message"}` with its status.
pub fn error_response(status: StatusCode, code: &'static str, message: String) -> Response {
    let mut response = (status, Json(ErrorBody { code, message })).into_response();
    response.extensions_mut().insert(ErrorCode(code));
    response
}

/// A request error found before the platform sees the request.
pub fn bad_request(code: &'static str, message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, code, message)
}
