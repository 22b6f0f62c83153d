//! Prometheus metrics at `/metrics`: requests by status class, and the
//! platform's seal state and audit length.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sscard_core::platform::Platform;

/// Request counters by status class (1xx … 5xx).
#[derive(Debug, Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
}

impl Metrics {
    fn count(&self, status: u16) {
        let class = usize::from(status / 100).saturating_sub(1).min(4);
        if let Some(counter) = self.by_class.get(class) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Middleware counting every response.
pub async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    metrics.count(response.status().as_u16());
    response
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render(State((platform, metrics)): State<(Arc<Platform>, Arc<Metrics>)>) -> Response {
    let mut out = String::from(
        "# HELP sscard_http_requests_total HTTP responses by status class.\n# TYPE sscard_http_requests_total counter\n",
    );
    for (i, counter) in metrics.by_class.iter().enumerate() {
        out.push_str(&format!(
            "sscard_http_requests_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            counter.load(Ordering::Relaxed)
        ));
    }
    let sealed = platform.health().await.map(|h| h.sealed).unwrap_or(true);
    out.push_str("# HELP sscard_sealed 1 while this node is sealed.\n# TYPE sscard_sealed gauge\n");
    out.push_str(&format!("sscard_sealed {}\n", u8::from(sealed)));
    if let Ok(Some(head)) = platform.store().audit_head().await {
        out.push_str("# HELP sscard_audit_records Records in the audit chain.\n# TYPE sscard_audit_records gauge\n");
        out.push_str(&format!("sscard_audit_records {}\n", head.seq));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
