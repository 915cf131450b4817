//! The stylesheet and the password show/hide script, compiled in. External files keep the
//! Content-Security-Policy free of `unsafe-inline`.

use axum::http::header;
use axum::response::IntoResponse;

/// `GET /static/app.css`
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}

/// `GET /static/passkeys.js`: the passkey ceremonies of the pages.
pub async fn passkeys_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/passkeys.js"),
    )
}

/// `GET /static/password-toggle.js`
pub async fn password_toggle_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/password-toggle.js"),
    )
}
