//! Extractors: a JSON body whose rejection is an `ErrorBody`, and the
//! session of a bearer token.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sscard_core::platform::{Platform, Session, Source};
use sscard_core::Error;

use crate::error::{bad_request, ApiError};

/// Where a request came from: the peer's address, as the listener saw it.
pub fn source_of(extensions: &axum::http::Extensions) -> Source {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(Source::local, |ConnectInfo(addr)| {
            Source::address(addr.ip())
        })
}

/// The peer's address of a request, for the routes that take no token.
pub struct Peer(pub Source);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(source_of(&parts.extensions)))
    }
}

/// A JSON body. Malformed JSON is a 400 with code `malformed_json`; a body
/// over the size limit a 413 with code `too_large`. Either is audited.
pub struct Body<T>(pub T);

impl<T> FromRequest<Arc<Platform>> for Body<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, platform: &Arc<Platform>) -> Result<Self, Self::Rejection> {
        let route = req.uri().path().to_string();
        let source = source_of(req.extensions());
        // The rejection is not Send: keep only its status and text across the await.
        let parsed = axum::Json::<T>::from_request(req, platform)
            .await
            .map_err(|rejection| (rejection.status(), rejection.body_text()));
        match parsed {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err((status, message)) => {
                let too_large = status == StatusCode::PAYLOAD_TOO_LARGE;
                let reason = if too_large {
                    "body too large"
                } else {
                    "malformed JSON"
                };
                if let Err(e) = platform
                    .audit_rejected_request(&route, reason, &source)
                    .await
                {
                    return Err(ApiError(e).into_response());
                }
                if too_large {
                    return Err(ApiError(Error::TooLarge { limit: BODY_LIMIT }).into_response());
                }
                Err(bad_request("malformed_json", message))
            }
        }
    }
}

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A query string; one that does not parse is a 400 with code
/// `malformed_query` in the usual JSON error body, and is audited.
pub struct Query<T>(pub T);

impl<T> FromRequestParts<Arc<Platform>> for Query<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => {
                let message = rejection.body_text();
                let route = parts.uri.path().to_string();
                let source = source_of(&parts.extensions);
                if let Err(e) = platform
                    .audit_rejected_request(&route, "malformed query", &source)
                    .await
                {
                    return Err(ApiError(e).into_response());
                }
                Err(bad_request("malformed_query", message))
            }
        }
    }
}

/// The token of `Authorization: Bearer <token>`, if there is one.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The caller's session, from `Authorization: Bearer <token>`.
pub struct Caller(pub Session);

impl FromRequestParts<Arc<Platform>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts) else {
            let route = parts.uri.path().to_string();
            // A sealed node serves nothing: say so before asking for a token.
            let (reason, refusal) = if platform.is_sealed() {
                ("sealed", Error::Sealed)
            } else {
                ("no bearer token", Error::Unauthenticated("no bearer token"))
            };
            let error = match platform
                .audit_rejected_request(&route, reason, &source_of(&parts.extensions))
                .await
            {
                Ok(()) => refusal,
                Err(e) => e,
            };
            return Err(ApiError(error).into_response());
        };
        platform
            .authenticate_from(token.trim(), &source_of(&parts.extensions))
            .await
            .map(Caller)
            .map_err(|e| ApiError(e).into_response())
    }
}

/// A signed-in terminal, from `Authorization: Bearer <session>` (the token
/// of `POST /v1/terminals/{no}/signin`).
pub struct TerminalCaller(pub sscard_core::platform::SignedInTerminal);

impl FromRequestParts<Arc<Platform>> for TerminalCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        let source = source_of(&parts.extensions);
        let Some(token) = bearer(parts) else {
            let route = parts.uri.path().to_string();
            let (reason, refusal) = if platform.is_sealed() {
                ("sealed", Error::Sealed)
            } else {
                (
                    "no terminal session",
                    Error::Unauthenticated("no terminal session"),
                )
            };
            let error = match platform
                .audit_rejected_request(&route, reason, &source)
                .await
            {
                Ok(()) => refusal,
                Err(e) => e,
            };
            return Err(ApiError(error).into_response());
        };
        platform
            .terminal_of_session_from(token.trim(), &source)
            .await
            .map(TerminalCaller)
            .map_err(|e| ApiError(e).into_response())
    }
}
