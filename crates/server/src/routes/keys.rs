//! `/v1/keys/…`: the KMS (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage, Transition};
use sscard_core::platform::{ops, ExportTarget, KeyView, NewKey, PendingApproval, Platform};
use sscard_core::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::checked;

/// `POST /v1/keys`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Key name.
    pub name: String,
    /// `sm4`, `3des`, `sm2` or `hmac-sm3`.
    pub algorithm: String,
    /// One of the usage names (e.g. `card-iauth-master`, `kek`, `encrypt`).
    pub usage: String,
    /// `ministry`, `province` or `city` (default `city`).
    pub level: Option<String>,
    /// 6-digit region code, required below the ministry level.
    pub region: Option<String>,
    /// May leave the platform wrapped (one-way).
    #[serde(default)]
    pub exportable: bool,
    /// Rotate automatically every this many days.
    pub rotate_every_days: Option<u32>,
    /// Comes into use at this UTC time (`YYYY-MM-DD` or
    /// `YYYY-MM-DDTHH:MM:SSZ`); pre-active until then.
    pub activate_at: Option<String>,
    /// Stops protecting at this UTC time and is deactivated.
    pub expire_at: Option<String>,
}

fn time_field(what: &str, value: Option<&str>) -> Result<i64, ApiError> {
    value.map_or(Ok(0), |text| {
        sscard_core::clock::parse_time(text).ok_or_else(|| {
            ApiError(Error::Invalid(format!(
                "{what} {text:?} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
            )))
        })
    })
}

fn parse<T>(what: &str, value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| ApiError(Error::Invalid(format!("unknown {what} {value:?}"))))
}

/// Creates a key inside the platform (201). An exportable key waits for a
/// second security administrator instead (202 with the approval id).
#[utoipa::path(post, path = "/v1/keys", request_body = CreateRequest, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 202, body = PendingBody),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<CreateRequest>,
) -> Result<Response, ApiError> {
    let name = req.name.clone();
    let new = checked(
        &platform,
        &session,
        &ops::KEY_MANAGE,
        "key.create",
        &name,
        new_key(req),
    )
    .await?;
    if new.exportable {
        let pending = platform.request_create_exportable(&session, &new).await?;
        return Ok(accepted(pending).into_response());
    }
    let view = platform.create_key(&session, &new).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `POST /v1/keys/{name}/usage`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRequest {
    /// The new usage name.
    pub usage: String,
}

/// Requests a change of a key's usage; completes on approval.
#[utoipa::path(post, path = "/v1/keys/{name}/usage", request_body = UsageRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 202, body = PendingBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn usage(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<UsageRequest>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    let usage = checked(
        &platform,
        &session,
        &ops::KEY_MANAGE,
        "key.set-usage",
        &name,
        parse("usage", &req.usage, KeyUsage::parse),
    )
    .await?;
    Ok(accepted(
        platform
            .request_usage_change(&session, &name, usage)
            .await?,
    ))
}

/// A public key, PEM.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyPublicBody {
    /// SPKI PEM.
    pub pem: String,
}

/// The public key of the newest version of an SM2 key.
#[utoipa::path(get, path = "/v1/keys/{name}/public", security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = KeyPublicBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn public(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyPublicBody>, ApiError> {
    Ok(Json(KeyPublicBody {
        pem: platform.public_key(&session, &name).await?,
    }))
}

/// The answer to a request filed for approval.
fn accepted(pending: PendingApproval) -> (StatusCode, Json<PendingBody>) {
    (
        StatusCode::ACCEPTED,
        Json(PendingBody {
            approval: pending.approval,
            kcv: pending.kcv,
        }),
    )
}

/// One custodian's component.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The component, hex.
    #[schema(value_type = String)]
    pub key: Zeroizing<String>,
    /// Its check value, 3, 4 or 8 bytes of hex.
    pub kcv: String,
}

/// `POST /v1/keys/import`
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ImportRequest {
    /// As for creation.
    #[serde(flatten)]
    pub key: CreateRequest,
    /// 2 or 3 components.
    pub components: Vec<Component>,
}

/// A request waiting for a second security administrator.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingBody {
    /// The approval id.
    pub approval: String,
    /// For an import, the check value of the combined key.
    pub kcv: Option<String>,
}

fn new_key(req: CreateRequest) -> Result<NewKey, ApiError> {
    Ok(NewKey {
        name: req.name,
        algorithm: parse("algorithm", &req.algorithm, KeyAlgorithm::parse)?,
        usage: parse("usage", &req.usage, KeyUsage::parse)?,
        level: parse(
            "level",
            req.level.as_deref().unwrap_or("city"),
            KeyLevel::parse,
        )?,
        region: req.region,
        exportable: req.exportable,
        rotate_every_ms: i64::from(req.rotate_every_days.unwrap_or(0)) * 24 * 60 * 60 * 1000,
        activate_ms: time_field("activate_at", req.activate_at.as_deref())?,
        expire_ms: time_field("expire_at", req.expire_at.as_deref())?,
    })
}

/// Imports a key by components; completes once another security administrator approves.
#[utoipa::path(post, path = "/v1/keys/import", request_body = ImportRequest, security(("bearer" = [])),
    responses((status = 202, body = PendingBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn import(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<ImportRequest>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    let name = req.key.name.clone();
    let input = (|| {
        let mut parts = Vec::new();
        for (i, c) in req.components.iter().enumerate() {
            let bad = |what: &str| {
                ApiError(Error::Invalid(format!(
                    "component {}: {what} is not hex",
                    i + 1
                )))
            };
            let key = Zeroizing::new(hex::decode(c.key.as_str()).map_err(|_| bad("key"))?);
            let kcv = hex::decode(&c.kcv).map_err(|_| bad("check value"))?;
            parts.push((key, kcv));
        }
        Ok((new_key(req.key)?, parts))
    })();
    let (new, parts) = checked(
        &platform,
        &session,
        &ops::KEY_MANAGE,
        "key.import",
        &name,
        input,
    )
    .await?;
    let pending = platform.import_key(&session, &new, &parts).await?;
    Ok(accepted(pending))
}

/// Requests the destruction of a key not in use; completes on approval.
#[utoipa::path(post, path = "/v1/keys/{name}/destroy", security(("bearer" = [])), params(("name" = String, Path, description = "key name")),
    responses((status = 202, body = PendingBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn destroy(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    Ok(accepted(platform.request_destroy(&session, &name).await?))
}

/// Every key with the check value of each version.
#[utoipa::path(get, path = "/v1/keys", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    Ok(Json(platform.list_keys(&session).await?))
}

/// One key: state, versions, check values.
#[utoipa::path(get, path = "/v1/keys/{name}", security(("bearer" = [])), params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn show(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(platform.show_key(&session, &name).await?))
}

/// Adds a version.
#[utoipa::path(post, path = "/v1/keys/{name}/rotate", security(("bearer" = [])), params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = Object), (status = 409, body = crate::error::ErrorBody)))]
pub async fn rotate(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(platform.rotate_key(&session, &name).await?))
}

/// `POST /v1/keys/{name}/min-version`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinVersionRequest {
    /// Versions below this are retired.
    pub min_version: i64,
}

/// Retires versions below a minimum.
#[utoipa::path(post, path = "/v1/keys/{name}/min-version", request_body = MinVersionRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
pub async fn min_version(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<MinVersionRequest>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(
        platform
            .set_min_version(&session, &name, req.min_version)
            .await?,
    ))
}

/// `POST /v1/keys/{name}/state`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyStateRequest {
    /// `activate`, `suspend`, `deactivate` or `compromise`.
    pub transition: String,
}

/// Moves a key through its lifecycle.
#[utoipa::path(post, path = "/v1/keys/{name}/state", request_body = KeyStateRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::ErrorBody)))]
pub async fn state(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<KeyStateRequest>,
) -> Result<Json<KeyView>, ApiError> {
    let transition = checked(
        &platform,
        &session,
        &ops::KEY_MANAGE,
        "key.state",
        &name,
        Transition::parse(&req.transition).ok_or_else(|| {
            ApiError(Error::Invalid(format!(
                "unknown transition {:?}",
                req.transition
            )))
        }),
    )
    .await?;
    Ok(Json(
        platform.transition_key(&session, &name, transition).await?,
    ))
}

/// `POST /v1/keys/{name}/export`: one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Wrap under this platform KEK.
    pub wrap_with: Option<String>,
    /// Envelope to this SM2 public key (SPKI PEM).
    pub to_pub: Option<String>,
}

/// Requests a wrapped export of an exportable key; the export file is
/// fetched from `GET /v1/approvals/{id}` by the requester once approved.
#[utoipa::path(post, path = "/v1/keys/{name}/export", request_body = ExportRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 202, body = PendingBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn export(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<ExportRequest>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    let target = match (req.wrap_with, req.to_pub) {
        (Some(kek), None) => ExportTarget::Kek(kek),
        (None, Some(pem)) => ExportTarget::Recipient(pem),
        _ => {
            return Err(ApiError(Error::Invalid(
                "give exactly one of wrap_with and to_pub".into(),
            )))
        }
    };
    Ok(accepted(
        platform.request_export(&session, &name, &target).await?,
    ))
}

/// `POST /v1/keys/import-wrapped`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportWrappedRequest {
    /// The export file (`sscard-wrapped-key/1`, wrapped under a KEK this platform holds).
    pub file: String,
}

/// Imports a key from an export file of another platform that shares the
/// KEK; completes once another security administrator approves.
#[utoipa::path(post, path = "/v1/keys/import-wrapped", request_body = ImportWrappedRequest, security(("bearer" = [])),
    responses((status = 202, body = PendingBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn import_wrapped(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<ImportWrappedRequest>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    Ok(accepted(
        platform
            .import_wrapped(&session, req.file.as_bytes())
            .await?,
    ))
}
