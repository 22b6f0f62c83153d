//! `/v1/keys/…`: the KMS (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage, Transition};
use sscard_core::platform::{CardOperation, DataKey, ExportTarget, KeyView, NewKey, Platform};
use sscard_core::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller};

/// `POST /v1/keys`
#[derive(Deserialize, utoipa::ToSchema)]
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
}

fn parse<T>(what: &str, value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| ApiError(Error::Invalid(format!("unknown {what} {value:?}"))))
}

/// Creates a key inside the platform.
#[utoipa::path(post, path = "/v1/keys", request_body = CreateRequest, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<CreateRequest>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let new = new_key(req)?;
    Ok((
        StatusCode::CREATED,
        Json(platform.create_key(&session, &new).await?),
    ))
}

/// One custodian's component.
#[derive(Deserialize, utoipa::ToSchema)]
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
    let pending = platform
        .import_key(&session, &new_key(req.key)?, &parts)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingBody {
            approval: pending.approval,
            kcv: pending.kcv,
        }),
    ))
}

/// Requests the destruction of a key not in use; completes on approval.
#[utoipa::path(post, path = "/v1/keys/{name}/destroy", security(("bearer" = [])), params(("name" = String, Path, description = "key name")),
    responses((status = 202, body = PendingBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn destroy(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<PendingBody>), ApiError> {
    let pending = platform.request_destroy(&session, &name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingBody {
            approval: pending.approval,
            kcv: pending.kcv,
        }),
    ))
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
pub struct StateRequest {
    /// `activate`, `suspend`, `deactivate` or `compromise`.
    pub transition: String,
}

/// Moves a key through its lifecycle.
#[utoipa::path(post, path = "/v1/keys/{name}/state", request_body = StateRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::ErrorBody)))]
pub async fn state(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<StateRequest>,
) -> Result<Json<KeyView>, ApiError> {
    let transition = Transition::parse(&req.transition).ok_or_else(|| {
        ApiError(Error::Invalid(format!(
            "unknown transition {:?}",
            req.transition
        )))
    })?;
    Ok(Json(
        platform.transition_key(&session, &name, transition).await?,
    ))
}

/// `POST /v1/keys/{name}/encrypt`
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EncryptRequest {
    /// The plaintext, hex.
    #[schema(value_type = String)]
    pub plaintext: Zeroizing<String>,
}

/// `POST /v1/keys/{name}/decrypt`
#[derive(Deserialize, utoipa::ToSchema)]
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
    let plain = Zeroizing::new(
        hex::decode(req.plaintext.as_str())
            .map_err(|_| ApiError(Error::Invalid("plaintext must be hex".into())))?,
    );
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

/// `POST /v1/keys/{name}/card`
#[derive(Deserialize, utoipa::ToSchema)]
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
pub struct CardBody {
    /// Hex.
    pub data: String,
}

fn hex_field(what: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(value).map_err(|_| ApiError(Error::Invalid(format!("{what} is not hex"))))
}

/// Derivation service: computes under the card key derived from a master.
#[utoipa::path(post, path = "/v1/keys/{name}/card", request_body = CardRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "master key name")),
    responses((status = 200, body = CardBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn card(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<CardRequest>,
) -> Result<Json<CardBody>, ApiError> {
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
    let out = platform
        .card_compute(&session, &name, &factors, &operation, &data)
        .await?;
    Ok(Json(CardBody {
        data: hex::encode(out),
    }))
}

/// `POST /v1/keys/{name}/export`: one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
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
    let pending = platform.request_export(&session, &name, &target).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingBody {
            approval: pending.approval,
            kcv: pending.kcv,
        }),
    ))
}

/// `POST /v1/keys/{name}/rewrap`, `/hmac`, `/sign`, `/verify`: the input.
#[derive(Deserialize, utoipa::ToSchema)]
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
    let data = platform
        .rewrap(&session, &name, field(&req.ciphertext, "ciphertext")?)
        .await?;
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
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = CardBody)))]
pub async fn hmac(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<Json<CardBody>, ApiError> {
    let data = hex_field("data", field(&req.data, "data")?)?;
    Ok(Json(CardBody {
        data: platform.hmac(&session, &name, &data).await?,
    }))
}

/// SM2 signature (DER, hex) with user ID 1234567812345678.
#[utoipa::path(post, path = "/v1/keys/{name}/sign", request_body = TransitRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = CardBody)))]
pub async fn sign(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<TransitRequest>,
) -> Result<Json<CardBody>, ApiError> {
    let data = hex_field("data", field(&req.data, "data")?)?;
    Ok(Json(CardBody {
        data: platform.sign(&session, &name, &data).await?,
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
    let data = hex_field("data", field(&req.data, "data")?)?;
    let signature = hex_field("signature", field(&req.signature, "signature")?)?;
    platform.verify(&session, &name, &data, &signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/keys/{name}/encrypt-batch` and `/decrypt-batch`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchRequest {
    /// Plaintexts (hex) to encrypt, or ciphertexts to decrypt.
    #[schema(value_type = Vec<String>)]
    pub items: Vec<Zeroizing<String>>,
}

/// The results, in the order of the request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchBody {
    /// Ciphertexts, or plaintexts in hex.
    #[schema(value_type = Vec<String>)]
    pub items: Vec<Zeroizing<String>>,
}

/// Largest batch accepted in one request.
const MAX_BATCH: usize = 1000;

fn check_batch(items: &[Zeroizing<String>]) -> Result<(), ApiError> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError(Error::Invalid(format!(
            "a batch holds 1 to {MAX_BATCH} items"
        ))));
    }
    Ok(())
}

/// Encrypts each item with the newest version; stops at the first failure.
#[utoipa::path(post, path = "/v1/keys/{name}/encrypt-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn encrypt_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, ApiError> {
    check_batch(&req.items)?;
    let mut items = Vec::with_capacity(req.items.len());
    for (i, item) in req.items.iter().enumerate() {
        let plain = Zeroizing::new(
            hex::decode(item.as_str())
                .map_err(|_| ApiError(Error::Invalid(format!("item {}: not hex", i + 1))))?,
        );
        items.push(Zeroizing::new(
            platform.encrypt(&session, &name, &plain).await?,
        ));
    }
    Ok(Json(BatchBody { items }))
}

/// Decrypts each item with the version it names; stops at the first failure.
#[utoipa::path(post, path = "/v1/keys/{name}/decrypt-batch", request_body = BatchRequest, security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")), responses((status = 200, body = BatchBody)))]
pub async fn decrypt_batch(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(name): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<Json<BatchBody>, ApiError> {
    check_batch(&req.items)?;
    let mut items = Vec::with_capacity(req.items.len());
    for item in &req.items {
        let plain = platform.decrypt(&session, &name, item).await?;
        items.push(Zeroizing::new(hex::encode(plain.as_slice())));
    }
    Ok(Json(BatchBody { items }))
}

/// `POST /v1/keys/import-wrapped`
#[derive(Deserialize, utoipa::ToSchema)]
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
    let pending = platform
        .import_wrapped(&session, req.file.as_bytes())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingBody {
            approval: pending.approval,
            kcv: pending.kcv,
        }),
    ))
}
