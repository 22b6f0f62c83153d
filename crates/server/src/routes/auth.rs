//! `/v1/auth/…`: login and password change.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::Platform;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller, Peer};

/// `POST /v1/auth/login`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub user: String,
    /// Password.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
}

/// A bearer token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginBody {
    /// Send as `Authorization: Bearer <token>`.
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
    /// Expiry, ms since the epoch.
    pub expires_ms: i64,
    /// Only `POST /v1/auth/password` is allowed until the one-time password is changed.
    pub password_change_required: bool,
    /// The operator's role.
    pub role: Option<String>,
}

/// Logs in; five failures lock the account for 15 minutes.
#[utoipa::path(post, path = "/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginBody), (status = 401, body = crate::error::ErrorBody),
              (status = 423, body = crate::error::ErrorBody)))]
pub async fn login(
    State(platform): State<Arc<Platform>>,
    Peer(source): Peer,
    Body(req): Body<LoginRequest>,
) -> Result<Json<LoginBody>, ApiError> {
    let out = platform
        .login_from(&req.user, &req.password, &source)
        .await?;
    Ok(Json(LoginBody {
        token: out.token,
        expires_ms: out.expires_ms,
        password_change_required: out.password_change_required,
        role: out.role.map(|r| r.to_string()),
    }))
}

/// `POST /v1/auth/password`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The current (or one-time) password.
    #[schema(value_type = String)]
    pub old_password: Zeroizing<String>,
    /// At least 12 characters.
    #[schema(value_type = String)]
    pub new_password: Zeroizing<String>,
}

/// Changes the caller's password; every token of theirs ends.
#[utoipa::path(post, path = "/v1/auth/password", request_body = PasswordRequest, security(("bearer" = [])),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn password(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    platform
        .change_password(&session, &req.old_password, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
