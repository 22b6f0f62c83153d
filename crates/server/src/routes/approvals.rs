//! `/v1/approvals/…`: dual control (security administrators).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sscard_core::platform::{ApprovalOutcome, ApprovalStatus, ApprovalView, Platform};

use crate::error::ApiError;
use crate::extract::Caller;

/// Pending requests, oldest first.
#[utoipa::path(get, path = "/v1/approvals", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<Vec<ApprovalView>>, ApiError> {
    Ok(Json(platform.list_approvals(&session).await?))
}

/// Approves another administrator's request and carries it out.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", security(("bearer" = [])), params(("id" = String, Path, description = "approval id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn approve(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> Result<Json<ApprovalOutcome>, ApiError> {
    Ok(Json(platform.approve(&session, &id).await?))
}

/// Denies a pending request.
#[utoipa::path(post, path = "/v1/approvals/{id}/deny", security(("bearer" = [])), params(("id" = String, Path, description = "approval id")),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn deny(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    platform.deny(&session, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The state of one approval; for its requester, what it produced.
#[utoipa::path(get, path = "/v1/approvals/{id}", security(("bearer" = [])), params(("id" = String, Path, description = "approval id")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn status(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> Result<Json<ApprovalStatus>, ApiError> {
    Ok(Json(platform.approval_status(&session, &id).await?))
}
