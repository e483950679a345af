//! The OpenAPI document describes every JSON route the router serves under `/api/v1`, with its
//! method: the routes are read from `router()`'s source, so a route added without its document
//! entry fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use utoipa::OpenApi;

/// `(method, path)` of every `.route("/api/v1/…", method(…))` in the router's source.
fn served_api_routes() -> Vec<(String, String)> {
    let src = include_str!("../src/lib.rs");
    let body = src
        .split("pub fn router(")
        .nth(1)
        .expect("lib.rs has pub fn router");
    let mut out = Vec::new();
    for chunk in body.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let Some(rest) = chunk.strip_prefix('"') else {
            continue;
        };
        let (path, rest) = rest.split_once('"').expect("a closed path string");
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let rest = rest.trim_start().trim_start_matches(',').trim_start();
        let method: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        assert!(
            ["get", "post", "put", "delete", "patch"].contains(&method.as_str()),
            "route {path} is served with {method:?}, which this test does not know"
        );
        out.push((method, path.to_owned()));
    }
    out
}

#[test]
fn the_document_lists_every_api_v1_route() {
    let routes = served_api_routes();
    assert!(routes.len() >= 10, "too few routes found: {routes:?}");
    let doc = serde_json::to_value(insyn_api::ApiDoc::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut missing = Vec::new();
    for (method, path) in &routes {
        if paths.get(path).and_then(|p| p.get(method)).is_none() {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "served but not in the OpenAPI document: {missing:?}"
    );
    // And nothing documented under /api/v1 that the router does not serve.
    for (path, ops) in paths.iter().filter(|(p, _)| p.starts_with("/api/v1/")) {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                routes.iter().any(|(m, p)| m == method && p == path),
                "documented but not served: {} {path}",
                method.to_uppercase()
            );
        }
    }
}

#[test]
fn the_witness_endpoints_are_documented() {
    let doc = serde_json::to_value(insyn_api::ApiDoc::openapi()).unwrap();
    let post = &doc["paths"]["/api/v1/cosignatures"]["post"];
    assert!(post["requestBody"].is_object(), "{post:#}");
    for status in ["200", "201", "400", "404", "409", "422"] {
        assert!(post["responses"][status].is_object(), "{status}: {post:#}");
    }
    let get = &doc["paths"]["/api/v1/checkpoints/latest/cosigned"]["get"];
    assert!(get["responses"]["200"].is_object(), "{get:#}");
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["CosignatureSubmission"].is_object(), "{schemas:#}");
    assert!(schemas["Problem"].is_object(), "{schemas:#}");
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "the payload endpoints name the bearer scheme"
    );
}
