//! The shared store conformance suite, on a real PostgreSQL server, one database per test.

use store_postgres::testing::TestDatabase;

async fn fresh_store() -> (store_seaorm::SeaStore, TestDatabase) {
    let database = TestDatabase::create().await;
    let store = store_postgres::open(&database.url, Some(5))
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", database.url));
    (store, database)
}

auth_core::store_conformance_tests!(fresh_store);
