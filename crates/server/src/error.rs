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
    /// Stable, one per kind of refusal: `malformed_json`, `invalid`,
    /// `bad_share` (400); `unauthenticated`, `bad_credentials` (401);
    /// `forbidden_role`, `refused`, `disabled`, `password_change_required`,
    /// `self_approval`, `not_exportable`, `mac_mismatch`, `signature_invalid` (403); `not_found` (404); `conflict`, `already_initialized`,
    /// `not_initialized`, `key_state`, `key_version_retired`, `approval_closed` (409); `sealed`, `locked` (423); `internal` (500).
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
    /// Status and code of each kind of error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match &self.0 {
            Error::Sealed => (StatusCode::LOCKED, "sealed"),
            Error::NotInitialized => (StatusCode::CONFLICT, "not_initialized"),
            Error::AlreadyInitialized => (StatusCode::CONFLICT, "already_initialized"),
            Error::BadShare(_) => (StatusCode::BAD_REQUEST, "bad_share"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Error::Locked { .. } => (StatusCode::LOCKED, "locked"),
            Error::Disabled => (StatusCode::FORBIDDEN, "disabled"),
            Error::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
            Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden_role"),
            Error::Refused(_) => (StatusCode::FORBIDDEN, "refused"),
            Error::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::KeyState { .. } => (StatusCode::CONFLICT, "key_state"),
            Error::KcvMismatch { .. } => (StatusCode::BAD_REQUEST, "kcv_mismatch"),
            Error::SelfApproval => (StatusCode::FORBIDDEN, "self_approval"),
            Error::ApprovalClosed { .. } => (StatusCode::CONFLICT, "approval_closed"),
            Error::NotExportable(_) => (StatusCode::FORBIDDEN, "not_exportable"),
            Error::KeyVersionRetired { .. } => (StatusCode::CONFLICT, "key_version_retired"),
            Error::Crypto(sscard_gm::Error::AuthenticationFailed) => {
                (StatusCode::FORBIDDEN, "mac_mismatch")
            }
            Error::Crypto(_) => (StatusCode::BAD_REQUEST, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
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
        (status, Json(ErrorBody { code, message })).into_response()
    }
}

/// A request error found before the platform sees the request.
pub fn bad_request(code: &'static str, message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(ErrorBody { code, message })).into_response()
}
