//! Extractors: a JSON body whose rejection is an `ErrorBody`, and the
//! session of a bearer token.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sscard_core::platform::{Platform, Session};
use sscard_core::Error;

use crate::error::{bad_request, ApiError};

/// A JSON body; malformed JSON is a 400 with code `malformed_json`.
pub struct Body<T>(pub T);

impl<T> FromRequest<Arc<Platform>> for Body<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, platform: &Arc<Platform>) -> Result<Self, Self::Rejection> {
        let route = req.uri().path().to_string();
        // The rejection is not Send: keep only its text across the await.
        let parsed = axum::Json::<T>::from_request(req, platform)
            .await
            .map_err(|rejection| rejection.body_text());
        match parsed {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(message) => {
                if let Err(e) = platform
                    .audit_rejected_request(&route, "malformed JSON")
                    .await
                {
                    return Err(ApiError(e).into_response());
                }
                Err(bad_request("malformed_json", message))
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
            let error = match platform
                .audit_rejected_request(&route, "no bearer token")
                .await
            {
                Ok(()) => Error::Unauthenticated("no bearer token"),
                Err(e) => e,
            };
            return Err(ApiError(error).into_response());
        };
        platform
            .authenticate(token.trim())
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
        let Some(token) = bearer(parts) else {
            return Err(ApiError(Error::Unauthenticated("no terminal session")).into_response());
        };
        platform
            .terminal_of_session(token.trim())
            .await
            .map(TerminalCaller)
            .map_err(|e| ApiError(e).into_response())
    }
}
