//! `/v1/sys/…`: health, unseal, seal, keyring rotation and rewrap.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::Platform;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller, Peer};

/// `GET /v1/sys/health`
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthBody {
    /// `sscard init` has been run.
    pub initialized: bool,
    /// This node is sealed.
    pub sealed: bool,
    /// sscard version.
    pub version: String,
}

/// Health of this node. No authentication.
#[utoipa::path(get, path = "/v1/sys/health", responses((status = 200, body = HealthBody)))]
pub async fn health(State(platform): State<Arc<Platform>>) -> Result<Json<HealthBody>, ApiError> {
    let h = platform.health().await?;
    Ok(Json(HealthBody {
        initialized: h.initialized,
        sealed: h.sealed,
        version: h.version.into(),
    }))
}

/// `POST /v1/sys/unseal`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// The contents of one share file.
    #[schema(value_type = String)]
    pub share: Zeroizing<String>,
    /// Forget the shares given so far instead of giving this one (the
    /// share proves a custodian asks).
    #[serde(default)]
    pub reset: bool,
}

/// Progress of unsealing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UnsealBody {
    /// Still sealed.
    pub sealed: bool,
    /// Distinct shares given.
    pub progress: u8,
    /// Shares needed.
    pub threshold: u8,
}

/// Gives one share, or with `reset` forgets those given so far. No
/// authentication: the share is the credential. A malformed or wrong share
/// is refused at once (403 `bad_share`) and does not count; a share whose
/// index was given already is refused (409 `duplicate_share`).
#[utoipa::path(post, path = "/v1/sys/unseal", request_body = UnsealRequest,
    responses((status = 200, body = UnsealBody), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn unseal(
    State(platform): State<Arc<Platform>>,
    Peer(source): Peer,
    Body(req): Body<UnsealRequest>,
) -> Result<Json<UnsealBody>, ApiError> {
    let p = if req.reset {
        platform.unseal_reset(req.share.as_bytes(), &source).await?
    } else {
        platform.unseal_from(req.share.as_bytes(), &source).await?
    };
    Ok(Json(UnsealBody {
        sealed: p.sealed,
        progress: p.progress,
        threshold: p.threshold,
    }))
}

/// Seals this node (security administrator).
#[utoipa::path(post, path = "/v1/sys/seal", security(("bearer" = [])),
    responses((status = 200, body = UnsealBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn seal(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<HealthBody>, ApiError> {
    platform.seal(&session).await?;
    health(State(platform)).await
}

/// New keyring term.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RotateBody {
    /// The term new secrets are sealed under.
    pub term: u32,
}

/// Adds a keyring term, without downtime (security administrator).
#[utoipa::path(post, path = "/v1/sys/rotate", security(("bearer" = [])),
    responses((status = 200, body = RotateBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn rotate(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<RotateBody>, ApiError> {
    Ok(Json(RotateBody {
        term: platform.rotate_keyring(&session).await?,
    }))
}

/// `POST /v1/sys/rewrap`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewrapRequest {
    /// Values to reseal in this call (1 to 10000, default 500).
    pub limit: Option<usize>,
}

/// How far the rewrap has come.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RewrapBody {
    /// The term values are sealed under now.
    pub term: u32,
    /// Values resealed by this call.
    pub resealed: usize,
    /// Values still sealed under an older term; call again until 0.
    pub remaining: usize,
}

/// Reseals stored values of older keyring terms under the newest term, a
/// batch per call (security administrator).
#[utoipa::path(post, path = "/v1/sys/rewrap", request_body = RewrapRequest, security(("bearer" = [])),
    responses((status = 200, body = RewrapBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn rewrap(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<RewrapRequest>,
) -> Result<Json<RewrapBody>, ApiError> {
    let limit = req.limit.unwrap_or(500);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError(sscard_core::Error::Invalid(
            "limit is 1 to 10000".into(),
        )));
    }
    let p = platform.rewrap_stored(&session, limit).await?;
    Ok(Json(RewrapBody {
        term: p.term,
        resealed: p.resealed,
        remaining: p.remaining,
    }))
}
