//! Migrations on a real SQLite file with users from an older release.

#[tokio::test]
async fn existing_identities_are_migrated() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let db = sea_orm::Database::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store_seaorm::migration::checks::existing_identities_are_migrated(&db).await;
}
