//! What terminals call: `/v1/terminals/{no}/challenge` and `…/signin`
//! (no token: the terminal proves itself), and, with the session token,
//! `/v1/terminal/…`: sign-out, the blacklist, event reports.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{Platform, SigninOutcome};

use crate::error::ApiError;
use crate::extract::{Body, Peer, Query, TerminalCaller};
use crate::routes::terminals::AlertBody;

/// A sign-in challenge.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChallengeBody {
    /// Single-use, two minutes, hex.
    pub nonce: String,
}

/// A single-use sign-in challenge (no token: the terminal asks); at most
/// three live per terminal.
#[utoipa::path(post, path = "/v1/terminals/{no}/challenge",
    params(("no" = String, Path, description = "terminal number")),
    responses((status = 200, body = ChallengeBody),
        (status = 403, description = "unregistered or revoked terminal", body = crate::error::ErrorBody),
        (status = 429, description = "the terminal holds three unspent challenges", body = crate::error::ErrorBody)))]
pub async fn challenge(
    State(platform): State<Arc<Platform>>,
    Peer(source): Peer,
    Path(no): Path<String>,
) -> Result<Json<ChallengeBody>, ApiError> {
    Ok(Json(ChallengeBody {
        nonce: platform.signin_challenge_from(&no, &source).await?,
    }))
}

/// `POST /v1/terminals/{no}/signin`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    /// The challenge.
    pub nonce: String,
    /// The proof over `sscard-signin/1|<no>|<nonce>|<software_hash>`, hex:
    /// an SM2 signature (DER) by an SM2 terminal's key, or the SM4 CBC-MAC
    /// (16 bytes) under a MAC terminal's master key.
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
    Peer(source): Peer,
    Path(no): Path<String>,
    Body(req): Body<SigninRequest>,
) -> Result<Json<SigninOutcome>, ApiError> {
    // A signature that is not hex is no signature: the platform refuses the
    // sign-in as it refuses a wrong one (audited, an event, the challenge
    // spent), so that no malformed answer escapes the record.
    let signature = hex::decode(&req.signature).unwrap_or_default();
    Ok(Json(
        platform
            .signin_from(&no, &req.nonce, &signature, &req.software_hash, &source)
            .await?,
    ))
}

/// Sign-out: the session's token and working keys are dead from now on.
#[utoipa::path(post, path = "/v1/terminal/signout", security(("bearer" = [])), responses((status = 204)))]
pub async fn signout(
    State(platform): State<Arc<Platform>>,
    TerminalCaller(caller): TerminalCaller,
) -> Result<StatusCode, ApiError> {
    platform.signout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
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
    TerminalCaller(caller): TerminalCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    Ok(binary(
        platform
            .terminal_blacklist(&caller.terminal, q.version, q.delta_from)
            .await?,
    ))
}

/// `POST /v1/terminal/events`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
    /// SM4 CBC-MAC (16 bytes, hex) of `sscard-event/1|<no>|<kind>|<card_id>|<detail>`
    /// under the session's MAC working key.
    pub mac: String,
}

/// A signed-in terminal reports a security event; the answer lists the alerts it raised.
#[utoipa::path(post, path = "/v1/terminal/events", request_body = EventRequest, security(("bearer" = [])),
    responses((status = 200, body = Vec<AlertBody>)))]
pub async fn report(
    State(platform): State<Arc<Platform>>,
    TerminalCaller(caller): TerminalCaller,
    Body(req): Body<EventRequest>,
) -> Result<Json<Vec<AlertBody>>, ApiError> {
    // A MAC that is not hex is refused as a wrong MAC is (audited).
    let mac = hex::decode(&req.mac).unwrap_or_default();
    let raised = platform
        .report_event(&caller, &req.kind, &req.card_id, &req.detail, &mac)
        .await?;
    Ok(Json(raised.into_iter().map(Into::into).collect()))
}
