//! `/v1/operators/…`: accounts (system administrator) and roles (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{ops, Platform};
use sscard_core::{Error, Role};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::checked;

/// An account as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorBody {
    /// User name.
    pub user: String,
    /// Role, if granted.
    pub role: Option<String>,
    /// Disabled.
    pub disabled: bool,
    /// Still on a one-time password.
    pub must_change_password: bool,
    /// Locked until (ms since the epoch), 0 if not.
    pub locked_until_ms: i64,
}

/// Lists accounts (system and security administrators).
#[utoipa::path(get, path = "/v1/operators", security(("bearer" = [])),
    responses((status = 200, body = [OperatorBody]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<Vec<OperatorBody>>, ApiError> {
    let ops = platform.list_operators(&session).await?;
    Ok(Json(
        ops.into_iter()
            .map(|o| OperatorBody {
                user: o.user,
                role: o.role.map(|r| r.to_string()),
                disabled: o.disabled,
                must_change_password: o.must_change_password,
                locked_until_ms: o.locked_until_ms,
            })
            .collect(),
    ))
}

/// `POST /v1/operators`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorAddRequest {
    /// User name of the new account.
    pub user: String,
}

/// The new account's one-time password, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AddBody {
    /// User name.
    pub user: String,
    /// One-time password, to change at first login.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
}

/// Creates an account without a role (system administrator).
#[utoipa::path(post, path = "/v1/operators", request_body = OperatorAddRequest, security(("bearer" = [])),
    responses((status = 201, body = AddBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn add(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<OperatorAddRequest>,
) -> Result<(StatusCode, Json<AddBody>), ApiError> {
    let password = platform.add_operator(&session, &req.user).await?;
    Ok((
        StatusCode::CREATED,
        Json(AddBody {
            user: req.user,
            password,
        }),
    ))
}

/// Disables an account (system administrator).
#[utoipa::path(post, path = "/v1/operators/{name}/disable", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn disable(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    platform.disable_operator(&session, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/operators/{name}/grant`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// `system`, `security` or `audit`.
    pub role: String,
}

/// Grants the one role of an account (security administrator; never to oneself).
#[utoipa::path(post, path = "/v1/operators/{name}/grant", request_body = GrantRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn grant(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<GrantRequest>,
) -> Result<StatusCode, ApiError> {
    let role = checked(
        &platform,
        &session,
        &ops::OPERATOR_GRANT,
        ops::OPERATOR_GRANT.name,
        &name,
        Role::parse(&req.role).ok_or_else(|| {
            ApiError(Error::Invalid(format!(
                "unknown role {:?}: system, security or audit",
                req.role
            )))
        }),
    )
    .await?;
    platform.grant_role(&session, &name, role).await?;
    Ok(StatusCode::NO_CONTENT)
}
