//! `/v1/audit/…`: the audit log (audit administrator).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::audit::AuditRecord;
use sscard_core::platform::{ops, Platform};

use crate::error::ApiError;
use crate::extract::{Caller, Query};

/// `GET /v1/audit?limit=N`
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditListQuery {
    /// How many of the newest records (1–1000, default 50).
    pub limit: Option<i64>,
}

/// Records in sequence order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListBody {
    /// The records, each as exported.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<AuditRecord>,
}

/// The newest records.
#[utoipa::path(get, path = "/v1/audit", params(AuditListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Query(q): Query<AuditListQuery>,
) -> Result<Json<ListBody>, ApiError> {
    let page = platform.audit_list(&session, q.limit.unwrap_or(50)).await?;
    Ok(Json(ListBody {
        records: page.records,
    }))
}

/// The whole log as JSON lines, one record per line in canonical form.
#[utoipa::path(get, path = "/v1/audit/export", security(("bearer" = [])),
    responses((status = 200, content_type = "application/x-ndjson", body = String), (status = 403, body = crate::error::ErrorBody)))]
pub async fn export(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<impl IntoResponse, ApiError> {
    let mut text = String::new();
    platform
        .audit_export(&session, |r| {
            text.push_str(&r.to_line());
            text.push('\n');
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text))
}

/// The result of verifying the stored chain.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyBody {
    /// Intact.
    pub intact: bool,
    /// Records checked.
    pub records: i64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// First bad record.
    pub first_bad_seq: Option<i64>,
    /// Why.
    pub reason: Option<String>,
}

/// Verifies the stored chain and its signed checkpoints.
#[utoipa::path(get, path = "/v1/audit/verify", security(("bearer" = [])),
    responses((status = 200, body = VerifyBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn verify(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<VerifyBody>, ApiError> {
    let r = platform.audit_verify(&session).await?;
    Ok(Json(VerifyBody {
        intact: r.intact,
        records: r.records,
        checkpoints: r.checkpoints,
        first_bad_seq: r.first_bad_seq,
        reason: r.reason,
    }))
}

/// The audit signing public key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPublicKeyBody {
    /// SPKI PEM of the SM2 key that signs checkpoints.
    pub pem: String,
}

/// The key to check checkpoint signatures offline (audit administrator).
#[utoipa::path(get, path = "/v1/audit/public-key", security(("bearer" = [])),
    responses((status = 200, body = AuditPublicKeyBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn public_key(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<AuditPublicKeyBody>, ApiError> {
    platform.authorize(&session, &ops::AUDIT_READ).await?;
    Ok(Json(AuditPublicKeyBody {
        pem: platform.audit_public_key().await?,
    }))
}
