//! The OpenAPI document describes the bodies the routes read: for every
//! documented request body, a body built from its documented schema (every
//! required property, with a value of its type) is read by the route — the
//! answer is anything but `malformed_json`. A schema shadowed by another of
//! the same name documents other fields, and its route refuses the body.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::scratch;
use common::server::{call, Server};
use serde_json::{json, Map, Value};

/// A value of `schema` holding every required property.
fn sample(schema: &Value, doc: &Value, depth: usize) -> Value {
    assert!(depth < 8, "a schema nests too deep: {schema}");
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return sample(&doc["components"]["schemas"][name], doc, depth + 1);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = sample(part, doc, depth + 1) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let first = options
            .iter()
            .find(|o| o["type"] != "null")
            .unwrap_or(&options[0]);
        return sample(first, doc, depth + 1);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("string") => json!("x"),
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        _ => {
            let mut object = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in required {
                let property = &schema["properties"][name];
                object.insert(name.to_string(), sample(property, doc, depth + 1));
            }
            Value::Object(object)
        }
    }
}

#[test]
fn every_documented_request_body_is_read_by_its_route() {
    let d = scratch("openapi-bodies");
    let server = Server::dev(&d, &[]);
    let token = server.login("security");
    let (status, doc) = call(&server.addr, "GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    let mut checked = 0;
    let mut behind_a_terminal_session = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            let schema = &content["application/json"]["schema"];
            let body = sample(schema, &doc, 0);
            let concrete = path
                .replace("{no}", "330300000001")
                .replace("{card_id}", &"0".repeat(32))
                .replace(['{', '}'], "");
            let (status, answer) = call(
                &server.addr,
                &method.to_uppercase(),
                &concrete,
                Some(&token),
                Some(body.clone()),
            );
            if path.starts_with("/v1/terminal/") && status == 401 {
                behind_a_terminal_session.push(path.clone());
                continue;
            }
            assert_ne!(
                answer["code"], "malformed_json",
                "{method} {path}: the documented body {body} is not what the route reads: {answer}"
            );
            assert_ne!(status, 422, "{method} {path}: {answer}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} documented bodies");
    assert_eq!(behind_a_terminal_session, ["/v1/terminal/events"]);
}

/// Every request and response type has a schema name of its own.
#[test]
fn schema_names_are_distinct_types() {
    let d = scratch("openapi-names");
    let server = Server::dev(&d, &[]);
    let (_, doc) = call(&server.addr, "GET", "/v1/openapi.json", None, None);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (name, wanted) in [
        ("OperatorAddRequest", "user"),
        ("BlacklistAddRequest", "card_id"),
        ("KeyStateRequest", "transition"),
        ("TerminalStateRequest", "state"),
    ] {
        assert!(
            schemas[name]["properties"].get(wanted).is_some(),
            "{name}: {}",
            schemas[name]
        );
    }
}
