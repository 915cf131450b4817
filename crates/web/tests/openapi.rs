//! The OpenAPI document (`GET /api/v1/openapi.json`, SPEC §11) over real HTTP, on every leg of
//! the matrix: OpenAPI 3.1, every route of §5, §9 and §10 and nothing else (each one answered
//! by its handler, not the API's fallback), both security schemes, problem documents for every
//! error, and a structurally sound document (every `$ref` resolves, unique operation ids, path
//! parameters declared). `cargo xtask schemathesis` validates it with a real validator and
//! fuzzes a live server against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, Database, SECRET, backend_settings, keys, spawn};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// Every route of the API (SPEC §5, §10, §11), relative to its prefix, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/register"),
    ("post", "/login"),
    ("post", "/login/2fa"),
    ("post", "/logout"),
    ("get", "/me"),
    ("post", "/reauthenticate"),
    ("get", "/sessions"),
    ("delete", "/sessions"),
    ("delete", "/sessions/{id}"),
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("delete", "/tokens/{id}"),
    ("get", "/passkeys"),
    ("patch", "/passkeys/{id}"),
    ("delete", "/passkeys/{id}"),
    ("post", "/passkeys/register/start"),
    ("post", "/passkeys/register/finish"),
    ("post", "/passkeys/login/start"),
    ("post", "/passkeys/login/finish"),
    ("post", "/passkeys/2fa/start"),
    ("post", "/passkeys/2fa/finish"),
    ("get", "/openapi.json"),
];

/// The email routes (SPEC §9), mounted unless `account.email = "off"`.
const EMAIL_ROUTES: &[(&str, &str)] = &[
    ("post", "/password-reset"),
    ("post", "/password-reset/confirm"),
    ("put", "/me/email"),
    ("post", "/me/email/verify"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(b: &mut Browser, prefix: &str) -> Value {
    let page = b.get(&format!("{prefix}/openapi.json")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    page.json()
}

/// The document's operations as (method, path).
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                found.insert((method.clone(), path.clone()));
            }
        }
    }
    found
}

fn expected(prefix: &str, email: bool) -> BTreeSet<(String, String)> {
    let email_routes: &[(&str, &str)] = if email { EMAIL_ROUTES } else { &[] };
    ROUTES
        .iter()
        .chain(email_routes)
        .map(|(method, path)| ((*method).to_owned(), format!("{prefix}{path}")))
        .collect()
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(value, found),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|value| refs(value, found)),
        _ => {}
    }
}

/// The structural rules every operation keeps; panics naming the first one broken.
fn assert_well_formed(doc: &Value) {
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut targets = Vec::new();
    refs(doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target.strip_prefix('#').expect("local refs only");
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let placeholders: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                ids.insert(id.to_owned()),
                "{at}: operationId {id} is not unique"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: no tag"
            );

            let params: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter(|p| p["in"] == "path" && p["required"] == true)
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(params, placeholders, "{at}: path parameters");

            for requirement in op["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{at}: unknown scheme {name}");
                }
            }

            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success"
            );
            for (status, response) in responses {
                assert!(response["description"].is_string(), "{at} {status}");
                let content = &response["content"];
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{at} {status}: not a problem document"
                    );
                } else if let Some(types) = content.as_object() {
                    assert!(
                        types.keys().all(|t| t == "application/json"),
                        "{at} {status}"
                    );
                }
                if status == "429" || status == "503" {
                    assert_eq!(
                        response["headers"]["Retry-After"]["required"], true,
                        "{at} {status}: Retry-After"
                    );
                }
            }
            if method != "get" {
                assert!(responses.contains_key("403"), "{at}: cross-site refusal");
            }
            if op.get("requestBody").is_some() {
                assert!(
                    op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{at}: body schema"
                );
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{at}: {status}");
                }
            }
            assert!(responses.contains_key("503"), "{at}: 503");
        }
    }

    // The problem schema lists the problem types.
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(
            problem["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == field),
            "Problem.{field} is required"
        );
    }
    let types = problem["properties"]["type"]["examples"]
        .as_array()
        .unwrap();
    for kind in [
        "/problems/not-found",
        "/problems/reauthentication-required",
        "/problems/validation-failed",
        "/problems/too-many-attempts",
    ] {
        assert!(types.iter().any(|t| t == kind), "{kind} is not listed");
    }
}

/// Each documented operation is answered by its handler (anonymous, no body): neither the
/// API's fallback nor the router's 405.
async fn assert_each_operation_is_served(b: &mut Browser, doc: &Value) {
    for (method, path) in operations(doc) {
        let url = path.replace("{id}", "some-id");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let page = b.request(method.clone(), &url).await;
        assert_ne!(
            page.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {url}"
        );
        assert!(
            !page.body.contains("No such API route."),
            "{method} {url} is documented but not served"
        );
    }
}

on_every_backend! {
    async fn the_document_lists_every_route_and_both_security_schemes(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let doc = document(&mut b, "/api/v1").await;
        assert_well_formed(&doc);
        assert_eq!(operations(&doc), expected("/api/v1", true));
        assert!(doc.get("servers").is_none(), "paths carry the prefix; no server to get wrong");

        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["cookie"]["type"], "apiKey");
        assert_eq!(schemes["cookie"]["in"], "cookie");
        assert_eq!(schemes["cookie"]["name"], "wristband_session");
        assert_eq!(schemes["bearer"]["type"], "http");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(doc["paths"]["/api/v1/me"]["get"]["security"], serde_json::json!([{"cookie": []}, {"bearer": []}]));
        assert!(doc["paths"]["/api/v1/register"]["post"].get("security").is_none());

        assert_each_operation_is_served(&mut b, &doc).await;
        // Served the same to a logged-in client, and built once.
        b.sign_up("ada").await;
        assert_eq!(document(&mut b, "/api/v1").await, doc);
    }

    async fn without_email_the_document_has_no_email_routes(backend: Backend) {
        let f = spawn(backend, |s| s.account.email = auth_core::EmailPolicy::Off).await;
        let mut b = f.app.browser();
        let doc = document(&mut b, "/api/v1").await;
        assert_well_formed(&doc);
        assert_eq!(operations(&doc), expected("/api/v1", false));
        let reset = b.post_json("/api/v1/password-reset", &serde_json::json!({"login": "ada"})).await;
        reset.problem(StatusCode::NOT_FOUND);
    }

    async fn the_document_follows_the_api_prefix_and_cookie_name(backend: Backend) {
        let database = Database::new(backend).await;
        let mut settings = backend_settings(backend, &database.url);
        settings.session.cookie_name = "shop_session".into();
        let builder = web::Wristband::builder(common::config(settings, keys(SECRET, &[])))
            .api_at("/shop/api");
        let wristband = builder.start().await.unwrap();
        let router = wristband.wrap(axum::Router::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await
        });
        let mut b = Browser::new(&base);
        assert_eq!(b.get("/api/v1/openapi.json").await.status, StatusCode::NOT_FOUND);
        let doc = document(&mut b, "/shop/api").await;
        assert_well_formed(&doc);
        assert_eq!(operations(&doc), expected("/shop/api", true));
        assert_eq!(doc["components"]["securitySchemes"]["cookie"]["name"], "shop_session");
        assert_each_operation_is_served(&mut b, &doc).await;
        wristband.shutdown().await;
    }
}
