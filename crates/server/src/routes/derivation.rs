//! `/v1/keys/{name}/card`: the derivation service (加密机 functions).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{ops, CardOperation, Platform};
use sscard_core::Error;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::{checked, hex_field};

/// `POST /v1/keys/{name}/card`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// `mac`, `verify-mac` or `encrypt`.
    pub operation: String,
    /// 8-byte diversification factors, hex, one per level.
    pub factors: Vec<String>,
    /// The data, hex.
    pub data: String,
    /// Initial value of a MAC, hex (one block).
    pub iv: Option<String>,
    /// Leftmost bytes of a MAC.
    pub len: Option<usize>,
    /// The MAC to verify, hex.
    pub mac: Option<String>,
}

/// The result, hex (empty when a MAC verified).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CardComputeBody {
    /// Hex.
    pub data: String,
}

/// Derivation service: computes under the card key derived from a master.
#[utoipa::path(post, path = "/v1/keys/{name}/card", request_body = CardRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "master key name")),
    responses((status = 200, body = CardComputeBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn card(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<CardRequest>,
) -> Result<Json<CardComputeBody>, ApiError> {
    let input = (|| {
        let factors = req
            .factors
            .iter()
            .map(|f| hex_field("a factor", f))
            .collect::<Result<Vec<_>, _>>()?;
        let iv = req.iv.as_deref().map(|v| hex_field("iv", v)).transpose()?;
        let operation = match req.operation.as_str() {
            "mac" => CardOperation::Mac { iv, len: req.len },
            "verify-mac" => CardOperation::VerifyMac {
                iv,
                mac: hex_field("mac", req.mac.as_deref().unwrap_or_default())?,
            },
            "encrypt" => CardOperation::EncryptBlocks,
            other => {
                return Err(ApiError(Error::Invalid(format!(
                    "unknown operation {other:?}"
                ))))
            }
        };
        let data = hex_field("data", &req.data)?;
        Ok((factors, operation, data))
    })();
    let (factors, operation, data) = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.derive",
        &name,
        input,
    )
    .await?;
    let out = platform
        .card_compute(&session, &name, &factors, &operation, &data)
        .await?;
    Ok(Json(CardComputeBody {
        data: hex::encode(out),
    }))
}
