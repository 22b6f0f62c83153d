//! `/v1/cards/…` and `/v1/psams/…`: data preparation and issuance, and
//! `/v1/keys/provision-region` (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_card::perso::{Holder, Job};
use sscard_core::key::KeyAlgorithm;
use sscard_core::platform::{ops, Platform, ProvisionedKey, PsamJob};
use sscard_core::store::CardRecord;
use sscard_core::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::{checked, hex_field};

fn algorithm(name: Option<&str>) -> Result<KeyAlgorithm, ApiError> {
    match name.unwrap_or("sm4") {
        "sm4" => Ok(KeyAlgorithm::Sm4),
        "3des" => Ok(KeyAlgorithm::Tdes),
        other => Err(ApiError(Error::Invalid(format!(
            "a card algorithm is sm4 or 3des, not {other:?}"
        )))),
    }
}

/// `POST /v1/keys/provision-region`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// 6-digit region code.
    pub region: String,
    /// `sm4` (default) or `3des`.
    pub algorithm: Option<String>,
}

/// What provisioning did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProvisionBody {
    /// One entry per card master.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<ProvisionedKey>,
}

/// Creates, or derives from the province level, every card master of a
/// region; idempotent.
#[utoipa::path(post, path = "/v1/keys/provision-region", request_body = ProvisionRequest, security(("bearer" = [])),
    responses((status = 200, body = ProvisionBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn provision_region(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<ProvisionRequest>,
) -> Result<Json<ProvisionBody>, ApiError> {
    let alg = checked(
        &platform,
        &session,
        &ops::CARD_ISSUE,
        "key.provision-region",
        &req.region,
        algorithm(req.algorithm.as_deref()),
    )
    .await?;
    Ok(Json(ProvisionBody {
        keys: platform
            .provision_region(&session, &req.region, alg)
            .await?,
    }))
}

/// A card of the registry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CardRecordBody {
    /// 卡识别码, hex.
    pub card_id: String,
    /// Region code.
    pub region: String,
    /// 卡号.
    pub card_no: String,
    /// Card factor, hex: the blank chip is made with it.
    pub card_factor: String,
    /// `sm4` or `3des`.
    pub algorithm: String,
    /// `prepared` or `issued`.
    pub state: String,
}

impl From<CardRecord> for CardRecordBody {
    fn from(c: CardRecord) -> Self {
        Self {
            card_id: c.card_id,
            region: c.region,
            card_no: c.card_no,
            card_factor: c.card_factor,
            algorithm: c.algorithm,
            state: c.state,
        }
    }
}

/// A card holder as a request carries it (the schema of
/// `sscard_card::perso::Holder`, which the routes read).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HolderSchema {
    /// 社会保障号码: the 18-character citizen ID number (GB 11643).
    ssn: String,
    /// Name.
    name: String,
    /// `1` male or `2` female (GB/T 2261.1); `male`/`female`/`男`/`女` are read too.
    sex: String,
    /// Ethnicity code, `01`–`56` (GB/T 3304).
    ethnicity: String,
    /// Birth date, `YYYYMMDD` or `YYYY-MM-DD`.
    birth_date: String,
    /// Birthplace region code, 6 digits.
    birth_place: String,
    /// The region that issues the card, 6 digits.
    region: String,
}

/// `POST /v1/cards/prepare`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareRequest {
    /// The holder.
    #[schema(value_type = HolderSchema)]
    pub holder: Holder,
}

/// Registers a holder's card (or returns the one prepared before).
#[utoipa::path(post, path = "/v1/cards/prepare", request_body = PrepareRequest, security(("bearer" = [])),
    responses((status = 200, body = CardRecordBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn prepare(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<PrepareRequest>,
) -> Result<Json<CardRecordBody>, ApiError> {
    Ok(Json(
        platform.prepare_card(&session, &req.holder).await?.into(),
    ))
}

/// `POST /v1/cards/{card_id}/job`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The holder the card was prepared for.
    #[schema(value_type = HolderSchema)]
    pub holder: Holder,
    /// The chip's SM2 transport public key (SEC1, hex), from GET DATA DF01.
    pub chip_key: String,
    /// The first PIN (default 123456).
    #[schema(value_type = Option<String>)]
    pub pin: Option<Zeroizing<String>>,
}

/// The personalization job of a prepared card for its chip.
#[utoipa::path(post, path = "/v1/cards/{card_id}/job", request_body = JobRequest, security(("bearer" = [])),
    params(("card_id" = String, Path, description = "卡识别码, hex")),
    responses((status = 200, body = Object), (status = 409, body = crate::error::ErrorBody)))]
pub async fn job(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(card_id): Path<String>,
    Body(req): Body<JobRequest>,
) -> Result<Json<Job>, ApiError> {
    let chip = checked(
        &platform,
        &session,
        &ops::CARD_ISSUE,
        "card.personalize",
        &card_id,
        hex_field("chip_key", &req.chip_key),
    )
    .await?;
    let pin = req.pin.unwrap_or_else(|| Zeroizing::new("123456".into()));
    Ok(Json(
        platform
            .card_job(&session, &card_id, &req.holder, &chip, &pin)
            .await?,
    ))
}

/// Confirms a card personalized.
#[utoipa::path(post, path = "/v1/cards/{card_id}/issued", security(("bearer" = [])),
    params(("card_id" = String, Path, description = "卡识别码, hex")),
    responses((status = 200, body = CardRecordBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn issued(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(card_id): Path<String>,
) -> Result<Json<CardRecordBody>, ApiError> {
    Ok(Json(platform.card_issued(&session, &card_id).await?.into()))
}

/// `POST /v1/psams/job`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PsamRequest {
    /// Region code.
    pub region: String,
    /// Terminal number, 12 digits.
    pub terminal_no: String,
    /// `sm4` (default) or `3des`: the chip's cipher.
    pub algorithm: Option<String>,
    /// The PSAM chip's SM2 transport public key (SEC1, hex).
    pub chip_key: String,
}

/// The issuance job of a PSAM: the region's masters enveloped to its chip.
#[utoipa::path(post, path = "/v1/psams/job", request_body = PsamRequest, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
pub async fn psam_job(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<PsamRequest>,
) -> Result<(StatusCode, Json<PsamJob>), ApiError> {
    let input = algorithm(req.algorithm.as_deref())
        .and_then(|alg| Ok((alg, hex_field("chip_key", &req.chip_key)?)));
    let (alg, chip) = checked(
        &platform,
        &session,
        &ops::CARD_ISSUE,
        "psam.issue",
        &req.terminal_no,
        input,
    )
    .await?;
    let job = platform
        .psam_job(&session, &req.region, &req.terminal_no, alg, &chip)
        .await?;
    Ok((StatusCode::OK, Json(job)))
}
