//! Extractors: a JSON body and a query string whose rejections are an
//! `ErrorBody`, the session of a bearer token, the peer's address; and the
//! layer that audits every refused request no operation recorded.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sscard_core::platform::{Platform, Session, Source};
use sscard_core::Error;

use crate::error::{bad_request, ApiError, ErrorCode};

tokio::task_local! {
    /// Who the request's caller is, once a token named them: the layer
    /// that audits unrecorded refusals records them under that name.
    static CALLER: RefCell<Option<String>>;
}

fn note_caller(name: String) {
    let _ = CALLER.try_with(|c| *c.borrow_mut() = Some(name));
}

/// Where a request came from: the peer's address, as the listener saw it.
pub fn source_of(extensions: &axum::http::Extensions) -> Source {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(Source::local, |ConnectInfo(addr)| {
            Source::address(addr.ip())
        })
}

/// Runs a request, and audits its refusal (a 4xx answer) if no operation
/// recorded one: a body or query string that does not parse, a missing or
/// unknown token, a route that does not exist, input refused before its
/// operation. Such a record names the caller when a token named them, the
/// route by its template and the answer's code; a refusal of an unknown
/// caller is counted as the platform counts unauthenticated refusals.
pub async fn record_refusals(
    State(platform): State<Arc<Platform>>,
    request: Request,
    next: Next,
) -> Response {
    let route = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(no route)", MatchedPath::as_str)
    );
    let source = source_of(request.extensions());
    let token = bearer(request.headers()).map(|t| zeroize::Zeroizing::new(t.to_string()));
    let (answer, recorded, mut caller) = CALLER
        .scope(RefCell::new(None), async {
            let (answer, recorded) = sscard_core::platform::refusal_scope(next.run(request)).await;
            (answer, recorded, CALLER.with(|c| c.borrow().clone()))
        })
        .await;
    let mut recorded = recorded;
    let unrouted = route.ends_with("(no route)")
        || answer.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED;
    if unrouted && !recorded && caller.is_none() {
        // A route that read no token (one that does not exist, a method it
        // does not take): the token sent still names the caller, and a
        // token refused is recorded as such (once).
        if let Some(token) = token.as_deref() {
            let (session, token_refused) =
                sscard_core::platform::refusal_scope(platform.authenticate_from(token, &source))
                    .await;
            caller = session.ok().map(|s| s.operator.to_string());
            recorded = token_refused;
        }
    }
    if answer.status().is_client_error() && !recorded {
        let code = answer
            .extensions()
            .get::<ErrorCode>()
            .map_or("refused", |c| c.0);
        if let Err(e) = platform
            .audit_unrecorded_refusal(caller.as_deref(), &route, code, &source)
            .await
        {
            // A refusal that cannot be recorded is not answered as if it were.
            return ApiError(e).into_response();
        }
    }
    answer
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
/// over the size limit a 413 with code `too_large`. (The refusal layer
/// audits either.)
pub struct Body<T>(pub T);

impl<T> FromRequest<Arc<Platform>> for Body<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, platform: &Arc<Platform>) -> Result<Self, Self::Rejection> {
        // The rejection is not Send: keep only its status and text across the await.
        let parsed = axum::Json::<T>::from_request(req, platform)
            .await
            .map_err(|rejection| (rejection.status(), rejection.body_text()));
        match parsed {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err((status, _)) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError(Error::TooLarge { limit: BODY_LIMIT }).into_response())
            }
            Err((_, message)) => Err(bad_request("malformed_json", message)),
        }
    }
}

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A query string; one that does not parse is a 400 with code
/// `malformed_query` in the usual JSON error body (audited by the refusal
/// layer).
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| bad_request("malformed_query", rejection.body_text()))
    }
}

/// The token of `Authorization: Bearer <token>`, if there is one.
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// A request without a token: 423 on a sealed node (it serves nothing), 401
/// otherwise.
fn no_token(platform: &Platform, what: &'static str) -> Response {
    let error = if platform.is_sealed() {
        Error::Sealed
    } else {
        Error::Unauthenticated(what)
    };
    ApiError(error).into_response()
}

/// The caller's session, from `Authorization: Bearer <token>`.
pub struct Caller(pub Session);

impl FromRequestParts<Arc<Platform>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &Arc<Platform>,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(no_token(platform, "no bearer token"));
        };
        let session = platform
            .authenticate_from(token.trim(), &source_of(&parts.extensions))
            .await
            .map_err(|e| ApiError(e).into_response())?;
        note_caller(session.operator.to_string());
        Ok(Caller(session))
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
        let Some(token) = bearer(&parts.headers) else {
            return Err(no_token(platform, "no terminal session"));
        };
        let caller = platform
            .terminal_of_session_from(token.trim(), &source_of(&parts.extensions))
            .await
            .map_err(|e| ApiError(e).into_response())?;
        note_caller(format!("terminal-{}", caller.terminal.terminal_no));
        Ok(TerminalCaller(caller))
    }
}
