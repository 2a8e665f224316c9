use crate::helpers::{assert_contract_headers, assert_envelope, spawn_app, spawn_with};
use server::Application;
use store_sql::testing::TestDatabase;

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_contract_headers(&res);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_on_the_embedded_defaults() {
    let app = spawn_app().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["objectStore"], "ok");
    assert!(
        app.dir.path().join("service.db").exists(),
        "SQLite lives in DATA_DIR"
    );
}

#[tokio::test]
async fn readyz_is_503_in_the_envelope_when_the_object_store_is_gone() {
    let app = spawn_app().await;
    std::fs::remove_dir_all(app.dir.path().join("objects")).unwrap();
    let body = assert_envelope(app.get("/readyz").await, 503, "NOT_READY").await;
    assert!(
        body["message"].as_str().unwrap().contains("object store"),
        "{body}"
    );
    // Liveness does not depend on it.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn on_postgresql_readyz_follows_the_database() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    let app = spawn_with(|c| c.database.database_url = Some(url.into())).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200, "ready on PostgreSQL");

    db.drop_database().await;
    let body = assert_envelope(app.get("/readyz").await, 503, "NOT_READY").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("database"), "{message}");
    assert!(!message.contains("t_"), "no internals leak: {message}");
    app.stop().await;
}

#[tokio::test]
async fn the_service_refuses_to_start_on_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::Config::for_tests(dir.path());
    config.database.database_url = Some("postgres://u:p@127.0.0.1:9/db".into());
    config.database.database_acquire_timeout_secs = 1;
    let err = Application::build(config).await.expect_err("no database");
    assert!(format!("{err:#}").contains("DATABASE_URL"), "{err:#}");
}
