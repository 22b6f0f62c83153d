//! `/v1/terminals/…` (system administrator: registry, enrollment, allowed
//! software; terminals themselves: challenge and sign-in) and
//! `/v1/terminal/…` (a signed-in terminal: blacklist, events).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{Enrollment, NewTerminal, Platform, SigninOutcome};
use sscard_core::terminal_records::{AlertRecord, TerminalRecord};
use sscard_core::Error;

use crate::error::ApiError;
use crate::extract::{Body, Caller, TerminalCaller};
use crate::routes::hex_field;

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
        }
    }
}

/// `POST /v1/terminals`
#[derive(Deserialize, utoipa::ToSchema)]
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
pub struct StateRequest {
    /// `suspended`, `active` or `revoked`.
    pub state: String,
}

/// Suspends, reactivates or revokes a terminal.
#[utoipa::path(post, path = "/v1/terminals/{no}/state", request_body = StateRequest, security(("bearer" = [])),
    params(("no" = String, Path, description = "terminal number")), responses((status = 200, body = TerminalBody)))]
pub async fn state(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(no): Path<String>,
    Body(req): Body<StateRequest>,
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
    let der = sscard_gm::x509::from_pem(req.csr.as_bytes())
        .map_err(|e| ApiError(Error::Invalid(format!("csr: {e}"))))?;
    Ok(Json(platform.enroll_terminal(&session, &no, &der).await?))
}

/// `POST /v1/terminals/software`
#[derive(Deserialize, utoipa::ToSchema)]
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

/// A sign-in challenge.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChallengeBody {
    /// Single-use, two minutes, hex.
    pub nonce: String,
}

/// A single-use sign-in challenge (no token: the terminal asks).
#[utoipa::path(post, path = "/v1/terminals/{no}/challenge",
    params(("no" = String, Path, description = "terminal number")), responses((status = 200, body = ChallengeBody)))]
pub async fn challenge(
    State(platform): State<Arc<Platform>>,
    Path(no): Path<String>,
) -> Result<Json<ChallengeBody>, ApiError> {
    Ok(Json(ChallengeBody {
        nonce: platform.signin_challenge(&no).await?,
    }))
}

/// `POST /v1/terminals/{no}/signin`
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SigninRequest {
    /// The challenge.
    pub nonce: String,
    /// SM2 signature (DER, hex) of `sscard-signin/1|<no>|<nonce>|<software_hash>`.
    pub signature: String,
    /// SM3 of the running software, hex.
    pub software_hash: String,
}

/// Sign-in: the session, working keys and blacklist version.
#[utoipa::path(post, path = "/v1/terminals/{no}/signin", request_body = SigninRequest,
    params(("no" = String, Path, description = "terminal number")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::ErrorBody)))]
pub async fn signin(
    State(platform): State<Arc<Platform>>,
    Path(no): Path<String>,
    Body(req): Body<SigninRequest>,
) -> Result<Json<SigninOutcome>, ApiError> {
    let signature = hex_field("signature", &req.signature)?;
    Ok(Json(
        platform
            .signin(&no, &req.nonce, &signature, &req.software_hash)
            .await?,
    ))
}

/// `?version=V&delta_from=V0`
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// The version (default: the newest).
    pub version: Option<i64>,
    /// Make a delta from this version.
    pub delta_from: Option<i64>,
}

/// The signed blacklist file as `application/octet-stream`.
pub fn binary(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

/// The blacklist for a signed-in terminal: a delta from its version, or the full list.
#[utoipa::path(get, path = "/v1/terminal/blacklist", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream")))]
pub async fn blacklist(
    State(platform): State<Arc<Platform>>,
    TerminalCaller(terminal): TerminalCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    Ok(binary(
        platform
            .terminal_blacklist(&terminal, q.version, q.delta_from)
            .await?,
    ))
}

/// `POST /v1/terminal/events`
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EventRequest {
    /// Event kind (`card-auth-failed`, `blacklisted-card`, `pin-blocked`,
    /// `psam-missing`, `tamper`, `software-integrity`, `signin-failed`).
    pub kind: String,
    /// The card (卡识别码, hex), if any.
    #[serde(default)]
    pub card_id: String,
    /// A short description.
    #[serde(default)]
    pub detail: String,
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

/// A signed-in terminal reports a security event; the answer lists the alerts it raised.
#[utoipa::path(post, path = "/v1/terminal/events", request_body = EventRequest, security(("bearer" = [])),
    responses((status = 200, body = Vec<AlertBody>)))]
pub async fn report(
    State(platform): State<Arc<Platform>>,
    TerminalCaller(terminal): TerminalCaller,
    Body(req): Body<EventRequest>,
) -> Result<Json<Vec<AlertBody>>, ApiError> {
    let raised = platform
        .report_event(&terminal, &req.kind, &req.card_id, &req.detail)
        .await?;
    Ok(Json(raised.into_iter().map(Into::into).collect()))
}
