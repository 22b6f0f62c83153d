//! # sscard-server
//!
//! The HTTP API of the platform under `/v1`: JSON bodies, errors as
//! `{"code", "message"}` (mapped in [`error`]), a request id on every
//! response, the OpenAPI document at `/v1/openapi.json`, Prometheus metrics
//! at `/metrics`.

#![forbid(unsafe_code)]

pub mod error;
mod extract;
mod metrics;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use sscard_core::platform::Platform;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::error::ErrorBody;

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "sscard platform API", description = "Security platform of the social security card One-Card system"),
    paths(
        routes::sys::health, routes::sys::unseal, routes::sys::seal, routes::sys::rotate, routes::sys::rewrap,
        routes::auth::login, routes::auth::password,
        routes::operators::list, routes::operators::add, routes::operators::disable, routes::operators::grant,
        routes::audit::list, routes::audit::export, routes::audit::verify, routes::audit::public_key,
        routes::keys::create, routes::keys::list, routes::keys::show, routes::keys::rotate,
        routes::keys::min_version, routes::keys::state, routes::transit::encrypt, routes::transit::decrypt,
        routes::keys::import, routes::keys::destroy, routes::derivation::card, routes::keys::export,
        routes::approvals::status, routes::transit::rewrap, routes::transit::datakey, routes::transit::hmac,
        routes::transit::sign, routes::transit::verify, routes::batch::encrypt_batch, routes::batch::decrypt_batch,
        routes::batch::rewrap_batch, routes::batch::hmac_batch, routes::batch::sign_batch,
        routes::keys::import_wrapped, routes::keys::usage, routes::keys::public,
        routes::cards::provision_region, routes::cards::prepare, routes::cards::job,
        routes::cards::issued, routes::cards::psam_job,
        routes::terminals::register, routes::terminals::list, routes::terminals::state, routes::terminals::enroll,
        routes::terminals::key, routes::terminals::software, routes::terminals::crl,
        routes::terminal::challenge, routes::terminal::signin, routes::terminal::signout,
        routes::terminal::blacklist, routes::terminal::report,
        routes::blacklist::add, routes::blacklist::remove, routes::blacklist::publish, routes::blacklist::export,
        routes::events::list, routes::events::alerts, routes::events::ack, routes::events::rule,
        routes::approvals::list, routes::approvals::approve, routes::approvals::deny,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The request id header, set when the client sent none and echoed back.
pub const REQUEST_ID: &str = "x-request-id";

/// The whole API over a platform.
pub fn router(platform: Arc<Platform>) -> Router {
    let metrics = Arc::new(metrics::Metrics::default());
    let request_id = HeaderName::from_static(REQUEST_ID);
    let api = Router::new()
        .route("/v1/sys/health", get(routes::sys::health))
        .route("/v1/sys/unseal", post(routes::sys::unseal))
        .route("/v1/sys/seal", post(routes::sys::seal))
        .route("/v1/sys/rotate", post(routes::sys::rotate))
        .route("/v1/sys/rewrap", post(routes::sys::rewrap))
        .route("/v1/auth/login", post(routes::auth::login))
        .route("/v1/auth/password", post(routes::auth::password))
        .route(
            "/v1/operators",
            get(routes::operators::list).post(routes::operators::add),
        )
        .route(
            "/v1/operators/{name}/disable",
            post(routes::operators::disable),
        )
        .route("/v1/operators/{name}/grant", post(routes::operators::grant))
        .route(
            "/v1/keys",
            get(routes::keys::list).post(routes::keys::create),
        )
        .route("/v1/keys/import", post(routes::keys::import))
        .route(
            "/v1/keys/provision-region",
            post(routes::cards::provision_region),
        )
        .route("/v1/cards/prepare", post(routes::cards::prepare))
        .route("/v1/cards/{card_id}/job", post(routes::cards::job))
        .route("/v1/cards/{card_id}/issued", post(routes::cards::issued))
        .route("/v1/psams/job", post(routes::cards::psam_job))
        .route(
            "/v1/terminals",
            get(routes::terminals::list).post(routes::terminals::register),
        )
        .route("/v1/terminals/software", post(routes::terminals::software))
        .route("/v1/terminals/crl", get(routes::terminals::crl))
        .route("/v1/terminals/{no}/state", post(routes::terminals::state))
        .route("/v1/terminals/{no}/enroll", post(routes::terminals::enroll))
        .route("/v1/terminals/{no}/key", post(routes::terminals::key))
        .route(
            "/v1/terminals/{no}/challenge",
            post(routes::terminal::challenge),
        )
        .route("/v1/terminals/{no}/signin", post(routes::terminal::signin))
        .route("/v1/terminal/signout", post(routes::terminal::signout))
        .route("/v1/terminal/blacklist", get(routes::terminal::blacklist))
        .route("/v1/terminal/events", post(routes::terminal::report))
        .route("/v1/blacklist", post(routes::blacklist::add))
        .route(
            "/v1/blacklist/{card_id}/remove",
            post(routes::blacklist::remove),
        )
        .route("/v1/blacklist/publish", post(routes::blacklist::publish))
        .route("/v1/blacklist/export", get(routes::blacklist::export))
        .route("/v1/events", get(routes::events::list))
        .route("/v1/events/rules", post(routes::events::rule))
        .route("/v1/alerts", get(routes::events::alerts))
        .route("/v1/alerts/{id}/ack", post(routes::events::ack))
        .route(
            "/v1/keys/import-wrapped",
            post(routes::keys::import_wrapped),
        )
        .route("/v1/keys/{name}", get(routes::keys::show))
        .route("/v1/keys/{name}/destroy", post(routes::keys::destroy))
        .route("/v1/keys/{name}/usage", post(routes::keys::usage))
        .route("/v1/keys/{name}/public", get(routes::keys::public))
        .route("/v1/keys/{name}/card", post(routes::derivation::card))
        .route("/v1/keys/{name}/export", post(routes::keys::export))
        .route("/v1/keys/{name}/rewrap", post(routes::transit::rewrap))
        .route(
            "/v1/keys/{name}/encrypt-batch",
            post(routes::batch::encrypt_batch),
        )
        .route(
            "/v1/keys/{name}/decrypt-batch",
            post(routes::batch::decrypt_batch),
        )
        .route(
            "/v1/keys/{name}/rewrap-batch",
            post(routes::batch::rewrap_batch),
        )
        .route(
            "/v1/keys/{name}/hmac-batch",
            post(routes::batch::hmac_batch),
        )
        .route(
            "/v1/keys/{name}/sign-batch",
            post(routes::batch::sign_batch),
        )
        .route("/v1/keys/{name}/datakey", post(routes::transit::datakey))
        .route("/v1/keys/{name}/hmac", post(routes::transit::hmac))
        .route("/v1/keys/{name}/sign", post(routes::transit::sign))
        .route("/v1/keys/{name}/verify", post(routes::transit::verify))
        .route("/v1/approvals/{id}", get(routes::approvals::status))
        .route("/v1/approvals", get(routes::approvals::list))
        .route(
            "/v1/approvals/{id}/approve",
            post(routes::approvals::approve),
        )
        .route("/v1/approvals/{id}/deny", post(routes::approvals::deny))
        .route("/v1/keys/{name}/rotate", post(routes::keys::rotate))
        .route(
            "/v1/keys/{name}/min-version",
            post(routes::keys::min_version),
        )
        .route("/v1/keys/{name}/state", post(routes::keys::state))
        .route("/v1/keys/{name}/encrypt", post(routes::transit::encrypt))
        .route("/v1/keys/{name}/decrypt", post(routes::transit::decrypt))
        .route("/v1/audit", get(routes::audit::list))
        .route("/v1/audit/export", get(routes::audit::export))
        .route("/v1/audit/verify", get(routes::audit::verify))
        .route("/v1/audit/public-key", get(routes::audit::public_key))
        .route(
            "/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .fallback(|| async {
            error::error_response(StatusCode::NOT_FOUND, "not_found", "no such route".into())
        })
        .method_not_allowed_fallback(|| async {
            error::error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method".into(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&platform),
            extract::record_refusals,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(extract::BODY_LIMIT))
        .with_state(Arc::clone(&platform));
    let metrics_route = Router::new()
        .route("/metrics", get(metrics::render))
        .with_state((platform, Arc::clone(&metrics)));
    api.merge(metrics_route)
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::count))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Appends a signed audit checkpoint whenever records have waited longer
/// than `every`; runs until the process ends.
pub async fn checkpoint_timer(platform: Arc<Platform>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let max_age = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    loop {
        tick.tick().await;
        if let Err(e) = platform.checkpoint_if_stale(max_age).await {
            tracing::warn!(error = %e, "audit checkpoint failed");
        }
    }
}

/// Writes the counts of repeated refusals of unauthenticated callers every
/// `every` (see `sscard_core::platform::Platform::flush_refusals`); runs
/// until the process ends.
pub async fn refusal_timer(platform: Arc<Platform>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = platform.flush_refusals(false).await {
            tracing::warn!(error = %e, "writing refusal counts failed");
        }
    }
}

/// Runs the key schedule every `every` (rotation periods, activation and
/// expiry dates) until the process ends.
pub async fn key_schedule_timer(platform: Arc<Platform>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match platform.rotate_due_keys().await {
            Ok(rotated) if !rotated.is_empty() => {
                tracing::info!(keys = ?rotated, "scheduled key rotation")
            }
            Ok(_) | Err(sscard_core::Error::Sealed) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled key rotation failed"),
        }
        match platform.apply_key_dates().await {
            Ok(changed) => {
                for (key, state) in changed {
                    tracing::info!(key, state = state.as_str(), "key date reached");
                }
            }
            Err(sscard_core::Error::Sealed) => {}
            Err(e) => tracing::warn!(error = %e, "key dates failed"),
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    platform: Arc<Platform>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(platform).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The TLS configuration (rustls) of the certificate chain and key of two
/// PEM files; read before the server announces itself, so that a file that
/// cannot serve is refused first.
///
/// # Errors
/// A file that cannot be read, or holds no certificate or no key rustls
/// takes (`std::io::Error` naming the cause).
pub async fn tls_config(
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
) -> std::io::Result<axum_server::tls_rustls::RustlsConfig> {
    // One process-wide provider; a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert_pem, key_pem).await
}

/// Serves the API over TLS with `config` (from [`tls_config`]), on an
/// already bound listener, until `shutdown` completes.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    platform: Arc<Platform>,
    config: axum_server::tls_rustls::RustlsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(router(platform).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}
