//! `/v1/blacklist/…`: the card blacklist (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::Platform;

use crate::error::ApiError;
use crate::extract::{Body, Caller, Query};
use crate::routes::terminal::{binary, ExportQuery};

/// `POST /v1/blacklist`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlacklistAddRequest {
    /// The card's 卡识别码, hex.
    pub card_id: String,
    /// `lost`, `suspended`, `cancelled` or `replaced`.
    pub reason: String,
}

/// Puts a card on the list (from the next published version).
#[utoipa::path(post, path = "/v1/blacklist", request_body = BlacklistAddRequest, security(("bearer" = [])),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn add(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<BlacklistAddRequest>,
) -> Result<StatusCode, ApiError> {
    platform
        .blacklist_add(&session, &req.card_id, &req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a card off the list (from the next published version).
#[utoipa::path(post, path = "/v1/blacklist/{card_id}/remove", security(("bearer" = [])),
    params(("card_id" = String, Path, description = "卡识别码, hex")), responses((status = 204)))]
pub async fn remove(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(card_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    platform.blacklist_remove(&session, &card_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A published version.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionBody {
    /// The version.
    pub version: i64,
}

/// Publishes the changes as the next version.
#[utoipa::path(post, path = "/v1/blacklist/publish", security(("bearer" = [])), responses((status = 200, body = VersionBody)))]
pub async fn publish(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<VersionBody>, ApiError> {
    Ok(Json(VersionBody {
        version: platform.blacklist_publish(&session).await?,
    }))
}

/// A signed full list or delta, `application/octet-stream`.
#[utoipa::path(get, path = "/v1/blacklist/export", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream")))]
pub async fn export(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    Ok(binary(
        platform
            .blacklist_export(&session, q.version, q.delta_from)
            .await?,
    ))
}
