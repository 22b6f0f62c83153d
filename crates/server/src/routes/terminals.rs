//! `/v1/terminals/…` for the system administrator: the registry,
//! enrollment and keying, allowed software, the CRL. What terminals call
//! themselves is in `terminal`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{ops, Enrollment, NewTerminal, Platform};
use sscard_core::terminal_records::{AlertRecord, TerminalRecord};
use sscard_core::Error;

use crate::error::ApiError;
use crate::extract::{Body, Caller};
use crate::routes::checked;

/// A terminal as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TerminalBody {
    /// Terminal number.
    pub terminal_no: String,
    /// Device serial.
    pub serial: String,
    /// Institution.
    pub institution: String,
    /// Location.
    pub location: String,
    /// Kind.
    pub kind: String,
    /// `registered`, `active`, `suspended`, `revoked`.
    pub state: String,
    /// Bound PSAM.
    pub psam: String,
    /// Certificate serial, hex.
    pub cert_serial: String,
    /// `sm2` or `mac`.
    pub auth: String,
    /// Keyings of a MAC terminal.
    pub key_version: i64,
}

impl From<TerminalRecord> for TerminalBody {
    fn from(t: TerminalRecord) -> Self {
        Self {
            terminal_no: t.terminal_no,
            serial: t.serial,
            institution: t.institution,
            location: t.location,
            kind: t.kind,
            state: t.state,
            psam: t.psam,
            cert_serial: t.cert_serial,
            auth: t.auth,
            key_version: t.key_version,
        }
    }
}

/// `POST /v1/terminals`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Terminal number, 12 digits.
    pub terminal_no: String,
    /// Device serial.
    pub serial: String,
    /// Institution.
    pub institution: String,
    /// Location.
    #[serde(default)]
    pub location: String,
    /// Kind (default `counter`).
    pub kind: Option<String>,
    /// Terminal number of a bound PSAM.
    #[serde(default)]
    pub psam: String,
    /// How it signs in: `sm2` (default; it enrolls for a certificate) or
    /// `mac` (it is keyed with a terminal master key).
    pub auth: Option<String>,
}

/// Registers a terminal.
#[utoipa::path(post, path = "/v1/terminals", request_body = RegisterRequest, security(("bearer" = [])),
    responses((status = 201, body = TerminalBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn register(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<RegisterRequest>,
) -> Result<(StatusCode, Json<TerminalBody>), ApiError> {
    let new = NewTerminal {
        terminal_no: req.terminal_no,
        serial: req.serial,
        institution: req.institution,
        location: req.location,
        kind: req.kind.unwrap_or_else(|| "counter".into()),
        psam: req.psam,
        auth: req.auth.unwrap_or_else(|| "sm2".into()),
    };
    let t = platform.register_terminal(&session, &new).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Every terminal.
#[utoipa::path(get, path = "/v1/terminals", security(("bearer" = [])), responses((status = 200, body = Vec<TerminalBody>)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<Vec<TerminalBody>>, ApiError> {
    Ok(Json(
        platform
            .list_terminals(&session)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `POST /v1/terminals/{no}/state`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalStateRequest {
    /// `suspended`, `active` or `revoked`.
    pub state: String,
}

/// Suspends, reactivates or revokes a terminal.
#[utoipa::path(post, path = "/v1/terminals/{no}/state", request_body = TerminalStateRequest, security(("bearer" = [])),
    params(("no" = String, Path, description = "terminal number")), responses((status = 200, body = TerminalBody)))]
pub async fn state(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(no): Path<String>,
    Body(req): Body<TerminalStateRequest>,
) -> Result<Json<TerminalBody>, ApiError> {
    Ok(Json(
        platform
            .terminal_state(&session, &no, &req.state)
            .await?
            .into(),
    ))
}

/// `POST /v1/terminals/{no}/enroll`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The terminal's PKCS#10 request, PEM.
    pub csr: String,
}

/// Issues a registered terminal's certificate.
#[utoipa::path(post, path = "/v1/terminals/{no}/enroll", request_body = EnrollRequest, security(("bearer" = [])),
    params(("no" = String, Path, description = "terminal number")), responses((status = 200, body = Object)))]
pub async fn enroll(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(no): Path<String>,
    Body(req): Body<EnrollRequest>,
) -> Result<Json<Enrollment>, ApiError> {
    let der = checked(
        &platform,
        &session,
        &ops::TERMINAL_MANAGE,
        "terminal.enroll",
        &no,
        sscard_gm::x509::from_pem(req.csr.as_bytes())
            .map_err(|e| ApiError(Error::Invalid(format!("csr: {e}")))),
    )
    .await?;
    Ok(Json(platform.enroll_terminal(&session, &no, &der).await?))
}

/// A MAC terminal's new terminal master key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyingBody {
    /// The terminal master key, hex: shown once, to load into the terminal.
    pub key: String,
    /// Its check value.
    pub kcv: String,
    /// How many times the terminal has been keyed.
    pub key_version: i64,
    /// The platform CA's certificate, PEM (it verifies blacklists).
    pub ca_certificate: String,
}

/// Keys a MAC terminal: its next terminal master key, given once.
#[utoipa::path(post, path = "/v1/terminals/{no}/key", security(("bearer" = [])),
    params(("no" = String, Path, description = "terminal number")), responses((status = 200, body = KeyingBody)))]
pub async fn key(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(no): Path<String>,
) -> Result<Json<KeyingBody>, ApiError> {
    let keying = platform.key_terminal(&session, &no).await?;
    Ok(Json(KeyingBody {
        key: keying.key.to_string(),
        kcv: keying.kcv.clone(),
        key_version: keying.key_version,
        ca_certificate: keying.ca_certificate.clone(),
    }))
}

/// `POST /v1/terminals/software`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoftwareRequest {
    /// Version label.
    pub version: String,
    /// SM3 of the software, hex.
    pub sm3: String,
}

/// Allows a terminal software version (by its SM3 hash) at sign-in.
#[utoipa::path(post, path = "/v1/terminals/software", request_body = SoftwareRequest, security(("bearer" = [])),
    responses((status = 204)))]
pub async fn software(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<SoftwareRequest>,
) -> Result<StatusCode, ApiError> {
    platform
        .allow_software(&session, &req.version, &req.sm3)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The revocation list of terminal certificates (X.509 CRL, DER), public.
#[utoipa::path(get, path = "/v1/terminals/crl", responses((status = 200, content_type = "application/pkix-crl")))]
pub async fn crl(State(platform): State<Arc<Platform>>) -> Result<Response, ApiError> {
    let der = platform.terminal_crl().await?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response())
}

/// An alert as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertBody {
    /// Id.
    pub id: String,
    /// When, ms.
    pub time_ms: i64,
    /// The rule.
    pub rule: String,
    /// What it counted.
    pub subject: String,
    /// Events in the window.
    pub count: i64,
    /// What was done.
    pub action: String,
    /// `open` or `acknowledged`.
    pub state: String,
}

impl From<AlertRecord> for AlertBody {
    fn from(a: AlertRecord) -> Self {
        Self {
            id: a.id,
            time_ms: a.time_ms,
            rule: a.rule,
            subject: a.subject,
            count: a.count,
            action: a.action,
            state: a.state,
        }
    }
}
