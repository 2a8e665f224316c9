//! The repository conformance suites of `domain::testing`, run unchanged against SQLite and
//! a real PostgreSQL server (see `store_sql::testing` for where it comes from).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use domain::RepositoryError;
use store_sql::testing::TestDatabase;
use store_sql::{Backend, PoolConfig, SqlStore};

struct Sqlite {
    store: SqlStore,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let store = SqlStore::connect(&url, &PoolConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    Sqlite { store, _dir: dir }
}

async fn postgres() -> Option<(TestDatabase, SqlStore)> {
    let db = TestDatabase::create().await?;
    let store = SqlStore::connect(&db.url, &PoolConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    Some((db, store))
}

#[tokio::test]
async fn sqlite_accounts() {
    let db = sqlite().await;
    domain::testing::account_repository(&db.store).await;
}

#[tokio::test]
async fn sqlite_sessions() {
    let db = sqlite().await;
    domain::testing::session_repository(&db.store, &db.store).await;
}

#[tokio::test]
async fn postgres_accounts() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::account_repository(&store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn postgres_sessions() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::session_repository(&store, &store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_login_state() {
    let db = sqlite().await;
    domain::testing::login_state_repository(&db.store).await;
}

#[tokio::test]
async fn postgres_login_state() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::login_state_repository(&store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_images() {
    let db = sqlite().await;
    domain::testing::image_repository(&db.store, &db.store).await;
}

#[tokio::test]
async fn postgres_images() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::image_repository(&store, &store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_outbox() {
    let db = sqlite().await;
    domain::testing::outbox(&db.store).await;
}

#[tokio::test]
async fn postgres_outbox() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::outbox(&store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_reports() {
    let db = sqlite().await;
    domain::testing::report_repository(&db.store, &db.store, &db.store).await;
}

#[tokio::test]
async fn postgres_reports() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    domain::testing::report_repository(&store, &store, &store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_audit_log() {
    let db = sqlite().await;
    let s = &db.store;
    domain::testing::audit_log(s, s, s, s, s, s).await;
}

#[tokio::test]
async fn postgres_audit_log() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    let s = &store;
    domain::testing::audit_log(s, s, s, s, s, s).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("twice.db").display()
    );
    let store = SqlStore::connect(&url, &PoolConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("a second run applies nothing");
    store.close().await;
    let store = SqlStore::connect(&url, &PoolConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();

    if let Some((db, store)) = postgres().await {
        store.migrate().await.expect("idempotent on PostgreSQL too");
        store.close().await;
        db.drop_database().await;
    }
}

/// A statement past PostgreSQL's `statement_timeout` is cancelled by the server and is
/// `Unavailable` (503 with Retry-After), never left running or answered as a 500.
#[tokio::test]
async fn a_statement_past_its_timeout_is_cancelled_and_unavailable() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let pool = PoolConfig {
        statement_timeout: Some(std::time::Duration::from_millis(200)),
        ..PoolConfig::default()
    };
    let store = SqlStore::connect(&db.url, &pool).await.expect("connect");
    store
        .execute_raw("SELECT 1")
        .await
        .expect("a quick one runs");
    let err = store
        .execute_raw("SELECT pg_sleep(5)")
        .await
        .expect_err("cancelled");
    assert!(matches!(err, RepositoryError::Unavailable(_)), "{err:?}");
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_unexpected() {
    let pool = PoolConfig {
        connect_timeout: std::time::Duration::from_millis(500),
        acquire_timeout: std::time::Duration::from_millis(500),
        ..PoolConfig::default()
    };
    // Port 9 (discard) is closed on loopback.
    let err = SqlStore::connect("postgres://u:p@127.0.0.1:9/db", &pool)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, RepositoryError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_database_that_goes_away_is_unavailable() {
    let Some((db, store)) = postgres().await else {
        return;
    };
    store.ping().await.unwrap();
    db.drop_database().await;
    let err = store.ping().await.expect_err("the database is gone");
    assert!(matches!(err, RepositoryError::Unavailable(_)), "{err:?}");
}
