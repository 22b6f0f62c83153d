//! Batch forms of the transit operations: 1 to 1000 items per request,
//! answered in order. Each item passes the same checks and leaves the same
//! audit record as a single call; a batch stops at its first failure.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{ops, Platform, Session};
use sscard_core::Error;
use zeroize::Zeroizing;

use crate::error::{ApiError, ItemError};
use crate::extract::{Body, Caller};
use crate::routes::{checked, hex_field};

/// `POST /v1/keys/{name}/<operation>-batch`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Plaintexts (hex) to encrypt, ciphertexts to decrypt or rewrap, data
    /// (hex) to HMAC or sign.
    #[schema(value_type = Vec<String>)]
    pub items: Vec<Zeroizing<String>>,
}

/// The results, in the order of the request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchBody {
    /// Ciphertexts, plaintexts in hex, tags or DER signatures in hex.
    #[schema(value_type = Vec<String>)]
    pub items: Vec<Zeroizing<String>>,
}

/// Largest batch accepted in one request.
const MAX_BATCH: usize = 1000;

/// The operations that have a batch form.
#[derive(Clone, Copy)]
enum Operation {
    Encrypt,
    Decrypt,
    Rewrap,
    Hmac,
    Sign,
}

impl Operation {
    /// Runs one item.
    async fn run(
        self,
        platform: &Platform,
        session: &Session,
        name: &str,
        item: &str,
    ) -> Result<Zeroizing<String>, ApiError> {
        let data = |action: &'static str| {
            let parsed = hex_field("the item", item).map(Zeroizing::new);
            checked(platform, session, &ops::KEY_USE, action, name, parsed)
        };
        Ok(Zeroizing::new(match self {
            Self::Encrypt => {
                let data = data("key.encrypt").await?;
                platform.encrypt(session, name, &data).await?
            }
            Self::Decrypt => hex::encode(platform.decrypt(session, name, item).await?.as_slice()),
            Self::Rewrap => platform.rewrap(session, name, item).await?,
            Self::Hmac => {
                let data = data("key.hmac").await?;
                platform.hmac(session, name, &data).await?
            }
            Self::Sign => {
                let data = data("key.sign").await?;
                platform.sign(session, name, &data).await?
            }
        }))
    }
}

async fn run_batch(
    platform: &Platform,
    session: &Session,
    name: &str,
    operation: Operation,
    items: &[Zeroizing<String>],
) -> Result<Json<BatchBody>, Response> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError(Error::Invalid(format!(
            "a batch holds 1 to {MAX_BATCH} items"
        )))
        .into_response());
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let index = i + 1;
        let result = operation
            .run(platform, session, name, item)
            .await
            .map_err(|error| ItemError { index, error }.into_response())?;
        out.push(result);
    }
    Ok(Json(BatchBody { items: out }))
}

/// Encrypts each item (hex) with the newest version.
#[utoipa::path(post, path = "/v1/keys/{name}/encrypt-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn encrypt_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, Response> {
    run_batch(&platform, &session, &name, Operation::Encrypt, &req.items).await
}

/// Decrypts each ciphertext with the version it names.
#[utoipa::path(post, path = "/v1/keys/{name}/decrypt-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn decrypt_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, Response> {
    run_batch(&platform, &session, &name, Operation::Decrypt, &req.items).await
}

/// Re-encrypts each ciphertext under the newest version.
#[utoipa::path(post, path = "/v1/keys/{name}/rewrap-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn rewrap_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, Response> {
    run_batch(&platform, &session, &name, Operation::Rewrap, &req.items).await
}

/// HMAC-SM3 of each item (hex).
#[utoipa::path(post, path = "/v1/keys/{name}/hmac-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn hmac_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, Response> {
    run_batch(&platform, &session, &name, Operation::Hmac, &req.items).await
}

/// SM2 signature (DER, hex) of each item (hex).
#[utoipa::path(post, path = "/v1/keys/{name}/sign-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn sign_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, Response> {
    run_batch(&platform, &session, &name, Operation::Sign, &req.items).await
}
