//! A shop that embeds Wristband: its own home page, routes and state, its own Figment
//! configuration (Wristband's keys under `[wristband]`), Wristband's pages under `/auth` and
//! its API under `/auth/api`, the logged-in user as an extractor, a guard on one route. It uses
//! only Wristband's public API and serves with `axum::serve` and the peer address, so each
//! client is throttled on its own.
//!
//! ```sh
//! SECRET_KEY=$(cargo run -q -- gen-secret) cargo run -p web --example corner_shop
//! # then open http://127.0.0.1:4000/
//! ```

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::net::SocketAddr;
use std::time::Duration;
use web::config::Profile;
use web::{Config, CurrentUser, FreshLogin, RequireLayer, Wristband};

/// The shop's own state.
#[derive(Clone)]
struct Shop {
    name: &'static str,
}

async fn home(State(shop): State<Shop>, user: Option<CurrentUser>) -> String {
    match user {
        Some(CurrentUser(session)) => {
            format!("{}: welcome back, {}", shop.name, session.user.username)
        }
        None => format!("{}: log in at /auth/login to see your orders", shop.name),
    }
}

async fn orders(CurrentUser(session): CurrentUser) -> String {
    format!("Orders of {}: none yet", session.user.username)
}

async fn payment_settings() -> &'static str {
    "Payment settings (recent login confirmed)"
}

/// The shop with Wristband started: everything but the listener, so a test drives exactly
/// what `main` serves.
pub async fn build(figment: Figment) -> Result<(Wristband, Router), Box<dyn std::error::Error>> {
    let config = Config::from_figment(figment.focus("wristband"), Profile::Development)?;
    let wristband = Wristband::builder(config)
        .pages_at("/auth")
        .api_at("/auth/api")
        .start()
        .await?;
    let shop = Router::new()
        .route("/", get(home))
        .route("/orders", get(orders))
        .route(
            "/settings",
            get(payment_settings).layer(RequireLayer::new(FreshLogin(Duration::from_secs(300)))),
        )
        .with_state(Shop {
            name: "Corner Shop",
        });
    let app = wristband.wrap(shop);
    Ok((wristband, app))
}

/// The shop's configuration: defaults, `shop.toml`, then `SHOP_*` variables
/// (`SHOP_WRISTBAND__DATABASE__URL=…`).
pub fn configuration() -> Figment {
    Figment::from(Serialized::default(
        "wristband.database.url",
        "sqlite://data/shop.db",
    ))
    .merge(Serialized::default(
        "wristband.login.default_redirect",
        "/orders",
    ))
    .merge(Toml::file("shop.toml"))
    .merge(Env::prefixed("SHOP_").split("__"))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_wristband, app) = build(configuration()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
    println!("Corner Shop on http://127.0.0.1:4000/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
