//! The API's OpenAPI 3.1 document, served at `GET {prefix}/openapi.json`.
//!
//! Generated from the code, so it cannot drift: each route is mounted by
//! [`super::routes`] from the `#[utoipa::path]` annotation that documents it (`utoipa_axum`'s
//! `routes!`), with the request and response types the handler really uses (`ToSchema`). What
//! the annotations leave out is added here once, from the same rules the layers in front of
//! every route follow: the cross-site refusal of unsafe requests (403), the body checks of
//! requests that take JSON (400, 408, 413, 415, 422), outages (503 + `Retry-After`), and that
//! every error is an RFC 9457 problem document; then the security schemes (the session cookie
//! under its configured name, bearer tokens, the pending login) and the list of problem types.
//! The document is built once, when the router is, and served as bytes.

use super::problem::{ProblemDocument, TITLES, problem_type};
use crate::request::cookies::{CookieCodec, CookieKind};
use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

/// The media type of every error.
const PROBLEM_JSON: &str = "application/problem+json";

/// The document, serialised once.
#[derive(Debug, Clone)]
pub(crate) struct Document(Bytes);

impl Document {
    /// The finished document for the routes of `api` (whose paths carry the API's prefix).
    pub fn new(api: utoipa::openapi::OpenApi, cookies: &CookieCodec) -> Self {
        let mut document = match serde_json::to_value(&api) {
            Ok(document) => document,
            Err(error) => {
                // Not expected: the document has string keys only.
                tracing::error!(%error, "cannot serialise the OpenAPI document");
                json!({})
            }
        };
        complete(&mut document, cookies);
        Self(Bytes::from(document.to_string()))
    }
}

/// This OpenAPI document.
///
/// Built once, when the router is; the same for every client.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openApiDocument",
    responses(
        (status = 200, description = "This OpenAPI 3.1 document.", body = Object),
    )
)]
pub(crate) async fn openapi_json(Extension(document): Extension<Document>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.0,
    )
        .into_response()
}

/// What the API's description says about errors, authentication and cross-site requests.
const DESCRIPTION: &str = "\
Wristband's JSON API: registration, login (with second factors and passkeys), sessions, and \
email addresses.

Requests and responses are `application/json`. Every error is an RFC 9457 problem document \
(`application/problem+json`, schema `Problem`) with `type`, `title`, `status`, `detail`, and \
`errors` (field → one message) on validation failures; a 429 or 503 carries `Retry-After`.

Authentication: the session cookie that `POST …/login` sets (security scheme `cookie`), or an \
API token as `Authorization: Bearer TOKEN` (scheme `bearer`). A cookie-authenticated unsafe \
request (POST, PUT, PATCH, DELETE) needs no CSRF token, but it must not be cross-site: an \
`Origin` header, when sent, must be this site or one listed in `server.cors_origins`, and \
`Sec-Fetch-Site: cross-site` is refused (403, `forbidden`). Bearer requests carry no cookie, \
so that rule does not concern them. Unsafe requests with a body must send it as JSON (415).";

/// Adds to `document` what the annotations leave out (see the module's documentation).
fn complete(document: &mut Value, cookies: &CookieCodec) {
    let Some(root) = document.as_object_mut() else {
        return;
    };
    root.insert(
        "info".to_owned(),
        json!({
            "title": "Wristband API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
            "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" },
        }),
    );
    if let Some(components) = entry_object(root, "components") {
        if let Some(schemas) = entry_object(components, "schemas") {
            schemas.insert(ProblemDocument::name().into_owned(), problem_schema());
        }
        components.insert("securitySchemes".to_owned(), security_schemes(cookies));
    }
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, operation) in item.iter_mut() {
            if let Some(operation) = operation.as_object_mut() {
                complete_operation(method, operation);
            }
        }
    }
}

/// The `Problem` schema, its `type` described with every problem type the API answers with.
fn problem_schema() -> Value {
    let mut schema = serde_json::to_value(ProblemDocument::schema()).unwrap_or_default();
    let types: Vec<String> = TITLES.iter().map(|title| problem_type(title)).collect();
    let list = TITLES
        .iter()
        .zip(&types)
        .map(|(title, kind)| format!("`{kind}` ({title})"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(kind) = schema
        .pointer_mut("/properties/type")
        .and_then(Value::as_object_mut)
    {
        kind.insert(
            "description".to_owned(),
            Value::from(format!(
                "What kind of problem, a URI reference relative to the site: \
                 `/problems/<title in kebab case>`. The types: {list}."
            )),
        );
        kind.insert("examples".to_owned(), json!(types));
    }
    schema
}

/// The security schemes: the session cookie, bearer tokens, the pending login.
fn security_schemes(cookies: &CookieCodec) -> Value {
    json!({
        "cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookies.name(CookieKind::Session),
            "description": "The session cookie `POST …/login` (or a passkey login) sets: \
                HttpOnly, SameSite=Lax, signed. Unsafe requests that carry it must not be \
                cross-site (see the API's description); no CSRF token is needed.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token as `Authorization: Bearer TOKEN`: \
                authenticates as its user, with no cookie and so no cross-site rule.",
        },
        "pending_login": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookies.name(CookieKind::PendingLogin),
            "description": "A login whose password was right, waiting for its second factor: \
                set by `POST …/login` when it answers `second_factor_required`; it reaches only \
                the second step and expires after 5 minutes.",
        },
    })
}

/// The answers every request taking a JSON body may get from the body checks
/// (`json::ApiJson`, `json::require_json_bodies`, the body limit and deadline layers).
const BODY_ANSWERS: [(StatusCode, &str); 5] = [
    (
        StatusCode::BAD_REQUEST,
        "The body is not valid JSON, or not UTF-8 (`bad-request`).",
    ),
    (
        StatusCode::REQUEST_TIMEOUT,
        "The body did not arrive within `server.body_timeout`; the connection closes \
         (`request-timeout`).",
    ),
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        "The body is over `server.body_limit` (`request-too-large`).",
    ),
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The body is not `application/json` (`unsupported-media-type`).",
    ),
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "The JSON does not have the expected fields and types (`validation-failed`).",
    ),
];

/// Adds to one operation the answers of the layers in front of it, and the problem document
/// as the content of every error.
fn complete_operation(method: &str, operation: &mut Map<String, Value>) {
    let unsafe_method = matches!(method, "post" | "put" | "patch" | "delete");
    let takes_json = operation.contains_key("requestBody");
    let Some(responses) = entry_object(operation, "responses") else {
        return;
    };
    if unsafe_method {
        // `request::csrf::same_origin_guard`.
        add_response(
            responses,
            StatusCode::FORBIDDEN,
            "Cross-site request refused: an `Origin` that is not this site (nor in \
             `server.cors_origins`), or `Sec-Fetch-Site: cross-site` (`forbidden`).",
        );
    }
    if takes_json {
        for (status, why) in BODY_ANSWERS {
            add_response(responses, status, why);
        }
    }
    // `request::bearer`: any API request may carry a token, whatever the route.
    add_response(
        responses,
        StatusCode::UNAUTHORIZED,
        "An `Authorization: Bearer` token that is unknown, expired or revoked \
         (`unauthorized`, with `WWW-Authenticate: Bearer error=\"invalid_token\"`).",
    );
    add_response(
        responses,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many unknown bearer tokens from this address (`too-many-attempts`).",
    );
    // Every request may need the database (its session, at least).
    add_response(
        responses,
        StatusCode::SERVICE_UNAVAILABLE,
        "The database is not answering, or every password-hashing worker is busy \
         (`service-unavailable`, `too-busy`); retry after `Retry-After` seconds.",
    );
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if (status.starts_with('4') || status.starts_with('5'))
            && let Some(content) = entry_object(response, "content")
        {
            content.insert(
                PROBLEM_JSON.to_owned(),
                json!({ "schema": { "$ref": "#/components/schemas/Problem" } }),
            );
        }
        if (status == "429" || status == "503")
            && let Some(headers) = entry_object(response, "headers")
        {
            headers.insert(
                "Retry-After".to_owned(),
                json!({
                    "description": "Seconds to wait before trying again.",
                    "required": true,
                    "schema": { "type": "integer", "minimum": 0 },
                }),
            );
        }
    }
}

/// Documents `status` on `responses`: added with `why`, or `why` appended to the route's own
/// description of it.
fn add_response(responses: &mut Map<String, Value>, status: StatusCode, why: &str) {
    let key = status.as_str().to_owned();
    match responses
        .get_mut(&key)
        .and_then(|response| response.get_mut("description"))
    {
        Some(Value::String(description)) => {
            description.push_str(" Or: ");
            description.push_str(why);
        }
        _ => {
            responses.insert(key, json!({ "description": why }));
        }
    }
}

/// The object at `key` in `map`, made an empty one when missing; `None` when it is something
/// else (not expected of utoipa's output).
fn entry_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}
