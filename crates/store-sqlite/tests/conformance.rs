//! The shared store conformance suite, on a real SQLite file.

async fn fresh_store() -> (store_seaorm::SeaStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = store_sqlite::open(&url, None)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    (store, dir)
}

auth_core::store_conformance_tests!(fresh_store);
