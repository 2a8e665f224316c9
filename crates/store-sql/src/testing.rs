//! Throwaway PostgreSQL databases for tests.
//!
//! The server comes from `TEST_DATABASE_URL` (a URL whose role may create databases;
//! `./scripts/test` starts one and sets it). Without it, tests that need PostgreSQL fail,
//! loudly, unless `SKIP_POSTGRES_TESTS=1` says to skip them: a suite that silently tests
//! nothing proves nothing.
#![allow(clippy::panic, clippy::expect_used)]

use sea_orm::{ConnectionTrait, Database};

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Where to connect to it.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database; `None` when PostgreSQL tests are knowingly skipped.
    ///
    /// # Panics
    /// When `TEST_DATABASE_URL` is unset (and skipping was not asked for) or the server
    /// refuses.
    pub async fn create() -> Option<Self> {
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
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        Some(Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    /// Drops the database, ending any connection still open to it.
    pub async fn drop_database(&self) {
        let admin = Database::connect(&self.admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop the test database");
        let _ = admin.close().await;
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL, keeping its query.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_rewritten_correctly() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t_1"),
            "postgres://u:p@h:5432/t_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t_2"), "postgres://u@h/t_2");
    }
}
