//! `/v1/keys/{name}/…` for applications (as Vault's transit): encrypt,
//! decrypt, rewrap, data keys, HMAC, sign and verify.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{ops, DataKey, Platform};
use sscard_core::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::{checked, hex_field};

/// `POST /v1/keys/{name}/encrypt`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptRequest {
    /// The plaintext, hex.
    #[schema(value_type = String)]
    pub plaintext: Zeroizing<String>,
}

/// `POST /v1/keys/{name}/decrypt`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecryptRequest {
    /// `sscard:v<N>:<hex>`.
    pub ciphertext: String,
}

/// Ciphertext or plaintext.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DataBody {
    /// `sscard:v<N>:<hex>` from encrypt, hex from decrypt.
    #[schema(value_type = String)]
    pub data: Zeroizing<String>,
}

/// Encrypts with the newest version of an `encrypt` key.
#[utoipa::path(post, path = "/v1/keys/{name}/encrypt", request_body = EncryptRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = DataBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn encrypt(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<EncryptRequest>,
) -> Result<Json<DataBody>, ApiError> {
    let plain = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.encrypt",
        &name,
        hex::decode(req.plaintext.as_str())
            .map(Zeroizing::new)
            .map_err(|_| ApiError(Error::Invalid("plaintext must be hex".into()))),
    )
    .await?;
    let data = platform.encrypt(&session, &name, &plain).await?;
    Ok(Json(DataBody {
        data: Zeroizing::new(data),
    }))
}

/// Decrypts with the version the ciphertext names.
#[utoipa::path(post, path = "/v1/keys/{name}/decrypt", request_body = DecryptRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = DataBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decrypt(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<DecryptRequest>,
) -> Result<Json<DataBody>, ApiError> {
    let plain = platform.decrypt(&session, &name, &req.ciphertext).await?;
    Ok(Json(DataBody {
        data: Zeroizing::new(hex::encode(plain.as_slice())),
    }))
}

/// `POST /v1/keys/{name}/rewrap`, `/hmac`, `/sign`, `/verify`: the input.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitRequest {
    /// For rewrap: `sscard:v<N>:…`.
    pub ciphertext: Option<String>,
    /// For hmac, sign, verify: the data, hex.
    pub data: Option<String>,
    /// For verify: the DER signature, hex.
    pub signature: Option<String>,
}

fn field<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError(Error::Invalid(format!("{what} is missing"))))
}

/// Re-encrypts a ciphertext under the newest version.
#[utoipa::path(post, path = "/v1/keys/{name}/rewrap", request_body = TransitRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = DataBody)))]
pub async fn rewrap(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<Json<DataBody>, ApiError> {
    let ciphertext = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.decrypt",
        &name,
        field(&req.ciphertext, "ciphertext"),
    )
    .await?;
    let data = platform.rewrap(&session, &name, ciphertext).await?;
    Ok(Json(DataBody {
        data: Zeroizing::new(data),
    }))
}

/// A new data key, in clear and wrapped under a data master.
#[utoipa::path(post, path = "/v1/keys/{name}/datakey", security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = Object)))]
pub async fn datakey(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<Json<DataKey>, ApiError> {
    Ok(Json(platform.data_key(&session, &name).await?))
}

/// HMAC-SM3 under an HMAC key.
#[utoipa::path(post, path = "/v1/keys/{name}/hmac", request_body = TransitRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = DataBody)))]
pub async fn hmac(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<Json<DataBody>, ApiError> {
    let data = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.hmac",
        &name,
        field(&req.data, "data").and_then(|d| hex_field("data", d)),
    )
    .await?;
    Ok(Json(DataBody {
        data: Zeroizing::new(platform.hmac(&session, &name, &data).await?),
    }))
}

/// SM2 signature (DER, hex) with user ID 1234567812345678.
#[utoipa::path(post, path = "/v1/keys/{name}/sign", request_body = TransitRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = DataBody)))]
pub async fn sign(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<Json<DataBody>, ApiError> {
    let data = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.sign",
        &name,
        field(&req.data, "data").and_then(|d| hex_field("data", d)),
    )
    .await?;
    Ok(Json(DataBody {
        data: Zeroizing::new(platform.sign(&session, &name, &data).await?),
    }))
}

/// Verifies an SM2 signature; 403 `signature_invalid` if it does not verify.
#[utoipa::path(post, path = "/v1/keys/{name}/verify", request_body = TransitRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody)))]
pub async fn verify(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<StatusCode, ApiError> {
    let input = field(&req.data, "data")
        .and_then(|d| hex_field("data", d))
        .and_then(|d| {
            let s = field(&req.signature, "signature").and_then(|s| hex_field("signature", s))?;
            Ok((d, s))
        });
    let (data, signature) = checked(
        &platform,
        &session,
        &ops::KEY_USE,
        "key.verify",
        &name,
        input,
    )
    .await?;
    platform.verify(&session, &name, &data, &signature).await?;
    Ok(StatusCode::NO_CONTENT)
}
