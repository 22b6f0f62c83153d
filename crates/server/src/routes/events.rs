//! `/v1/events`, `/v1/alerts`: security events, their rules and alerts
//! (security administrator).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sscard_core::platform::{EventRule, Platform};

use crate::error::ApiError;
use crate::extract::{Body, Caller, Query};
use crate::routes::terminals::AlertBody;

/// An event as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventBody {
    /// Id.
    pub id: String,
    /// When, ms.
    pub time_ms: i64,
    /// Kind.
    pub kind: String,
    /// Terminal.
    pub terminal_no: String,
    /// Card.
    pub card_id: String,
    /// Institution.
    pub institution: String,
    /// Detail.
    pub detail: String,
}

/// `?limit=N`
#[derive(Deserialize, utoipa::IntoParams)]
pub struct EventListQuery {
    /// How many (default 100).
    pub limit: Option<i64>,
}

/// The newest events.
#[utoipa::path(get, path = "/v1/events", params(EventListQuery), security(("bearer" = [])), responses((status = 200, body = Vec<EventBody>)))]
pub async fn list(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Query(q): Query<EventListQuery>,
) -> Result<Json<Vec<EventBody>>, ApiError> {
    let events = platform
        .list_events(&session, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| EventBody {
                id: e.id,
                time_ms: e.time_ms,
                kind: e.kind,
                terminal_no: e.terminal_no,
                card_id: e.card_id,
                institution: e.institution,
                detail: e.detail,
            })
            .collect(),
    ))
}

/// Open alerts.
#[utoipa::path(get, path = "/v1/alerts", security(("bearer" = [])), responses((status = 200, body = Vec<AlertBody>)))]
pub async fn alerts(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
) -> Result<Json<Vec<AlertBody>>, ApiError> {
    Ok(Json(
        platform
            .list_alerts(&session)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Acknowledges an alert.
#[utoipa::path(post, path = "/v1/alerts/{id}/ack", security(("bearer" = [])),
    params(("id" = String, Path, description = "alert id")), responses((status = 200, body = AlertBody)))]
pub async fn ack(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> Result<Json<AlertBody>, ApiError> {
    Ok(Json(platform.ack_alert(&session, &id).await?.into()))
}

/// `POST /v1/events/rules`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Event kind.
    pub kind: String,
    /// `terminal`, `card` or `institution`.
    pub per: String,
    /// Threshold.
    pub count: i64,
    /// Window, seconds.
    pub window_s: i64,
    /// Suspend the terminal when it fires.
    #[serde(default)]
    pub suspend: bool,
}

/// Sets a rule; answers every rule in force.
#[utoipa::path(post, path = "/v1/events/rules", request_body = RuleRequest, security(("bearer" = [])), responses((status = 200, body = Object)))]
pub async fn rule(
    State(platform): State<Arc<Platform>>,
    Caller(session): Caller,
    Body(req): Body<RuleRequest>,
) -> Result<Json<Vec<EventRule>>, ApiError> {
    let rule = EventRule {
        kind: req.kind,
        per: req.per,
        count: req.count,
        window_s: req.window_s,
        suspend: req.suspend,
    };
    Ok(Json(platform.set_event_rule(&session, rule).await?))
}
