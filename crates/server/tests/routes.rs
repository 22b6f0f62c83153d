//! The routes of the API are a contract: the (method, path) pairs of the
//! OpenAPI document equal the list kept in `routes.txt` beside this crate's
//! manifest, and the router answers each of them (not with its 404 or 405
//! fallback). A route added, removed or renamed changes that file in the
//! same commit, where a reviewer sees it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use utoipa::OpenApi;

/// The documented (METHOD, path) pairs.
fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(sscard_server::ApiDoc::openapi()).unwrap();
    let mut pairs = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                pairs.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    pairs
}

/// The pairs of `routes.txt`: one `METHOD /path` a line; `#` comments.
fn kept() -> BTreeSet<(String, String)> {
    let text = include_str!("../routes.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (method, path) = l.split_once(' ').expect("METHOD /path");
            (method.to_string(), path.trim().to_string())
        })
        .collect()
}

#[test]
fn the_documented_routes_are_the_kept_list() {
    let documented = documented();
    let kept = kept();
    let added: Vec<_> = documented.difference(&kept).collect();
    let removed: Vec<_> = kept.difference(&documented).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the API's routes changed: documented but not in routes.txt: {added:?}; \
         in routes.txt but not documented: {removed:?}"
    );
    assert!(kept.len() >= 60, "{} routes", kept.len());
}

#[tokio::test]
async fn the_router_answers_every_documented_route() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("routes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = sscard_store::SqlStore::open_dir(&dir).await.unwrap();
    let platform = Arc::new(sscard_core::platform::Platform::new(Arc::new(store)));
    let router = sscard_server::router(platform);
    for (method, path) in documented() {
        let concrete = path
            .replace("{no}", "330300000001")
            .replace("{card_id}", &"0".repeat(32))
            .replace(['{', '}'], "");
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&concrete)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {answer}"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND
                && answer["code"] == "not_found"
                && answer["message"] == "no such route"),
            "{method} {path}: not routed"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
