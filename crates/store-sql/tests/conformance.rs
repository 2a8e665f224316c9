//! The repository conformance suites of `domain::testing`, run unchanged against SQLite and
//! a real PostgreSQL server.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (a URL whose role may create databases;
//! `./scripts/test` starts a server and sets it). Each test gets a database of its own,
//! dropped afterwards. Without the variable the PostgreSQL tests fail, loudly, unless
//! `SKIP_POSTGRES_TESTS=1` says to skip them: a suite that silently tests nothing proves
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use domain::RepositoryError;
use sea_orm::{ConnectionTrait, Database};
use store_sql::{Backend, PoolConfig, SqlStore};

struct Sqlite {
    store: SqlStore,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let store = SqlStore::connect(&url, &PoolConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    Sqlite { store, _dir: dir }
}

struct Postgres {
    store: Option<SqlStore>,
    admin_url: String,
    name: String,
}

impl Postgres {
    async fn new() -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            if std::env::var("SKIP_POSTGRES_TESTS").as_deref() == Ok("1") {
                eprintln!("SKIP_POSTGRES_TESTS=1: skipping a PostgreSQL test");
                return None;
            }
            panic!(
                "TEST_DATABASE_URL is not set: run ./scripts/test, point it at a PostgreSQL \
                 server, or set SKIP_POSTGRES_TESTS=1 to skip these tests knowingly"
            );
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        let store = SqlStore::connect(&url, &PoolConfig::default()).await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(Self {
            store: Some(store),
            admin_url,
            name,
        })
    }

    fn store(&self) -> &SqlStore {
        self.store.as_ref().unwrap()
    }

    async fn drop_database(mut self) {
        if let Some(store) = self.store.take() {
            store.close().await;
        }
        let admin = Database::connect(&self.admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .await
            .unwrap();
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
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
    let Some(db) = Postgres::new().await else { return };
    domain::testing::account_repository(db.store()).await;
    db.drop_database().await;
}

#[tokio::test]
async fn postgres_sessions() {
    let Some(db) = Postgres::new().await else { return };
    domain::testing::session_repository(db.store(), db.store()).await;
    db.drop_database().await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("twice.db").display());
    let store = SqlStore::connect(&url, &PoolConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("a second run applies nothing");
    store.close().await;
    let store = SqlStore::connect(&url, &PoolConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();

    if let Some(db) = Postgres::new().await {
        db.store().migrate().await.expect("idempotent on PostgreSQL too");
        db.drop_database().await;
    }
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

#[test]
fn database_urls_are_rewritten_correctly() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t_1"),
        "postgres://u:p@h:5432/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "t_2"), "postgres://u@h/t_2");
}
