//! Drives the embedding example (`examples/corner_shop.rs`) over HTTP: the team's routes, the
//! user extractor and the guard work behind Wristband's layers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../examples/corner_shop.rs"]
#[allow(dead_code, unreachable_pub)]
mod corner_shop;

use common::Browser;
use figment::Figment;
use figment::providers::Serialized;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corner_shop_example_serves_with_wristband_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let figment = Figment::from(Serialized::default("wristband.database.url", url))
        .merge(Serialized::default(
            "wristband.password.argon2.memory_kib",
            64,
        ))
        .merge(Serialized::default(
            "wristband.password.argon2.iterations",
            1,
        ));
    let app = corner_shop::build(figment).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::server::serve(
        listener,
        app,
        std::time::Duration::from_secs(10),
        std::future::pending(),
    ));

    let mut b = Browser::new(&base);
    assert_eq!(
        b.get("/shop").await.body,
        "Corner Shop: log in to see your orders"
    );
    let orders = b.get("/shop/orders").await;
    assert_eq!(orders.location(), Some("/login?next=/shop/orders"));
    assert_eq!(
        b.get("/shop/settings").await.location(),
        Some("/login?next=/shop/settings")
    );
    b.sign_up("Grace").await;
    assert_eq!(
        b.get("/shop").await.body,
        "Corner Shop: welcome back, Grace"
    );
    let orders = b.get("/shop/orders").await;
    assert_eq!(orders.body, "Orders of Grace: none yet");
    assert_eq!(orders.header("cache-control"), Some("no-store"));
    assert_eq!(
        orders.header("x-frame-options"),
        Some("DENY"),
        "Wristband's layers cover the shop"
    );
    assert_eq!(
        b.get("/shop/settings").await.body,
        "Payment settings (recent login confirmed)"
    );
    assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/shop/orders").await.status, StatusCode::SEE_OTHER);
}
