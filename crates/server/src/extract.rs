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

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(bad_request("malformed_json", rejection.body_text())),
        }
    }
}

/// The caller's session, from `Authorization: Bearer <token>`.
pub struct Caller(pub Session);

impl FromRequestParts<Arc<Platform>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError(Error::Unauthenticated("no bearer token")).into_response())?;
        platform
            .authenticate(token.trim())
            .await
            .map(Caller)
            .map_err(|e| ApiError(e).into_response())
    }
}
