//! Several instances starting at once on one empty database: all come up, and the schema is
//! migrated exactly once.

use sea_orm::{ConnectionTrait, Statement};
use store_postgres::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_migrate_exactly_once() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { store_postgres::open(&url, Some(2)).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        let store = start
            .await
            .unwrap_or_else(|e| panic!("task: {e}"))
            .unwrap_or_else(|e| panic!("an instance failed to start: {e}"));
        stores.push(store);
    }
    let applied = stores[0]
        .connection()
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no row"));
    let count: i64 = applied.try_get("", "n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        usize::try_from(count).unwrap_or_default(),
        store_seaorm::migration_count(),
        "each migration recorded once"
    );
    println!("4 instances started at once; {count} migration(s) applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_identities_are_migrated() {
    let database = TestDatabase::create().await;
    let db = sea_orm::Database::connect(&database.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store_seaorm::migration::checks::existing_identities_are_migrated(&db).await;
}
