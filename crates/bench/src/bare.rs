//! The bare baseline server: axum on tokio, `GET /` answering a constant HTML page about the
//! size of Wristband's dashboard. It does no cookie parsing, no session lookup, no templating,
//! no security headers: the difference to Wristband's `/dashboard` is what authentication and
//! the rest of Wristband's stack cost.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The page: Wristband's dashboard as a logged-in user sees it, written out once.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Dashboard · Wristband</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/password-toggle.js" defer></script>
</head>
<body>
  <header class="site-header">
    <nav class="navbar" aria-label="Main">
      <a class="brand" href="/">Wristband</a>
      <ul class="nav-links">
        <li><a href="/dashboard">Dashboard</a></li>
        <li><a href="/logout">Logout</a></li>
      </ul>
    </nav>
  </header>
  <main>
<h1>Welcome to your private dashboard, bench-dash-00!</h1>
<p>Only you can see this page. When you are done, <a href="/logout">log out</a> to end your session on this browser.</p>
</main>
</body>
</html>
"#;

/// `GET /` → [`PAGE`].
pub fn router() -> Router {
    Router::new().route("/", get(page))
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}
