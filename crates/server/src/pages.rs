//! The ready server's own pages, written as any application embedding Wristband would: `/`
//! and `/dashboard`, from templates that extend Wristband's `base.html`.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use web::{CurrentUser, Page, WristbandBuilder};

/// Adds the templates of these pages to `builder`.
pub fn templates(builder: WristbandBuilder) -> WristbandBuilder {
    builder
        .template("index.html", include_str!("../templates/index.html"))
        .template(
            "dashboard.html",
            include_str!("../templates/dashboard.html"),
        )
}

/// `/` and `/dashboard`.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/dashboard", get(dashboard))
}

/// `GET /`
async fn home(page: Page) -> Response {
    page.render("index.html", ())
}

/// What `dashboard.html` shows.
#[derive(serde::Serialize)]
struct Dashboard<'a> {
    username: &'a str,
}

/// `GET /dashboard`: the logged-in user's page; anonymous visitors go to log in.
async fn dashboard(page: Page, CurrentUser(session): CurrentUser) -> Response {
    page.render(
        "dashboard.html",
        Dashboard {
            username: session.user.username.as_str(),
        },
    )
}
