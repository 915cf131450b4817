//! A team's own axum app with Wristband embedded: its own routes and state, its own Figment
//! configuration (Wristband's keys under `[wristband]`), Wristband's pages and layers, the
//! logged-in user as an extractor, and a guard on one route.
//!
//! ```sh
//! SECRET_KEY=$(cargo run -q -- gen-secret) cargo run -p web --example corner_shop
//! # then open http://127.0.0.1:4000/shop
//! ```

use auth_core::guard::FreshLogin;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::time::Duration;
use web::Wristband;
use web::config::{LoadedConfig, Profile};
use web::extract::CurrentUser;
use web::guard::RequireLayer;

/// The shop's own state.
#[derive(Clone)]
struct Shop {
    name: String,
}

async fn storefront(State(shop): State<Shop>, user: Option<CurrentUser>) -> String {
    match user {
        Some(CurrentUser(session)) => {
            format!("{}: welcome back, {}", shop.name, session.user.username)
        }
        None => format!("{}: log in to see your orders", shop.name),
    }
}

async fn orders(CurrentUser(session): CurrentUser) -> String {
    format!("Orders of {}: none yet", session.user.username)
}

async fn payment_settings() -> &'static str {
    "Payment settings (recent login confirmed)"
}

/// The whole application, from the team's configuration: everything but the listener, so a
/// test can drive exactly what `main` serves.
pub async fn build(figment: Figment) -> Result<Router, Box<dyn std::error::Error>> {
    let keys = match std::env::var("SECRET_KEY") {
        Ok(key) => auth_core::KeyRing::new(key.into(), vec![])?,
        Err(_) => auth_core::KeyRing::random(),
    };
    let config =
        LoadedConfig::from_figment(figment.focus("wristband"), Profile::Development, keys)?;
    let wristband = Wristband::start(&config).await?;
    let shop = Router::new()
        .route("/shop", get(storefront))
        .route("/shop/orders", get(orders))
        .route(
            "/shop/settings",
            get(payment_settings).layer(RequireLayer::new(FreshLogin(Duration::from_secs(300)))),
        )
        .with_state(Shop {
            name: "Corner Shop".into(),
        });
    Ok(wristband.wrap(shop))
}

/// The team's configuration: defaults, `shop.toml`, then `SHOP_*` variables.
fn configuration() -> Figment {
    Figment::from(Serialized::default(
        "wristband.database.url",
        "sqlite://data/shop.db",
    ))
    .merge(Toml::file("shop.toml"))
    .merge(Env::prefixed("SHOP_").split("__"))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = build(configuration()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
    println!("Corner Shop on http://127.0.0.1:4000/shop");
    web::server::serve(
        listener,
        app,
        Duration::from_secs(10),
        web::server::shutdown_signal(),
    )
    .await;
    Ok(())
}
