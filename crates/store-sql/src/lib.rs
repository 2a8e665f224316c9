//! The SQL store: every repository port of the domain on sea-orm, for PostgreSQL and SQLite
//! from one code base. The backend is chosen by the URL (`postgres://…` or `sqlite://…`).
//!
//! sea-orm entities stay inside this crate; rows are parsed into domain types on the way out
//! and database errors are translated into the ports' error enums on the way back.

mod accounts;
mod audit;
mod codec;
mod entity;
mod images;
mod login_state;
mod outbox;
mod reports;
mod sessions;

#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use domain::RepositoryError;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

/// A pooled connection idle this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(10);

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a connection before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
    /// PostgreSQL's `statement_timeout` on every connection: a statement running longer is
    /// cancelled (57014, `Unavailable`). `None`: no limit.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A connection pool implementing the repository ports.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    /// Connects to `url`. SQLite files are created when missing and opened in WAL mode with
    /// foreign keys enforced and a busy timeout, so concurrent writers wait instead of failing.
    ///
    /// # Errors
    /// The database cannot be reached or the URL is not understood.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, RepositoryError> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(pool.max_connections)
            .min_connections(pool.min_connections)
            .acquire_timeout(pool.acquire_timeout)
            .connect_timeout(pool.connect_timeout)
            // A ping on every checkout is a round trip per statement; a connection that sat
            // idle is the one likely to be dead. One that broke while busy fails its next
            // statement (Unavailable) and is closed, not returned to the pool.
            .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
            });
        if let Some(limit) = pool.statement_timeout {
            opts.statement_timeout(limit);
        }
        let db = Database::connect(opts).await.map_err(translate)?;
        Ok(Self { db })
    }

    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// A migration failed (it was rolled back) or the database is unreachable.
    pub async fn migrate(&self) -> Result<(), RepositoryError> {
        Migrator::up(&self.db, None).await.map_err(translate)
    }

    /// One round trip, for readiness probes.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    pub async fn ping(&self) -> Result<(), RepositoryError> {
        self.db.ping().await.map_err(|e| match translate(e) {
            RepositoryError::Unexpected(e) => RepositoryError::Unavailable(e),
            other => other,
        })
    }

    /// Connections open in the pool and, of those, idle: for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self.backend() {
            Backend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            Backend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }

    /// Runs `sql` as it is, its error translated as every port's are: for tests of the
    /// store's own settings (a statement timeout, say).
    ///
    /// # Errors
    /// As [`translate`] decides.
    #[cfg(feature = "testing")]
    pub async fn execute_raw(&self, sql: &str) -> Result<(), RepositoryError> {
        use sea_orm::ConnectionTrait as _;
        self.db
            .execute_unprepared(sql)
            .await
            .map(drop)
            .map_err(translate)
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
    /// taken (waiting up to the busy timeout) before the first read, so a transaction that
    /// reads and then writes can never fail with `SQLITE_BUSY_SNAPSHOT` because another
    /// writer committed in between. On PostgreSQL, the default `BEGIN` (row locks are taken
    /// where the statements ask for them).
    ///
    /// # Errors
    /// `Unavailable` when no connection or lock can be had in time.
    pub(crate) async fn begin(&self) -> Result<sea_orm::DatabaseTransaction, RepositoryError> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait as _};
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == Backend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.db.begin_with_options(options).await.map_err(translate)
    }
}

/// Ends a transaction by what its work returned: commits on `Ok`; on `Err` rolls back and
/// waits for it, so the connection goes back to the pool clean. (A dropped transaction
/// only queues its rollback: on SQLite the connection would keep its write lock until
/// reused, and another connection's next write would fail busy.)
pub(crate) async fn finish<T, E: From<RepositoryError>>(
    txn: sea_orm::DatabaseTransaction,
    out: Result<T, E>,
) -> Result<T, E> {
    match out {
        Ok(v) => {
            txn.commit().await.map_err(|e| E::from(translate(e)))?;
            Ok(v)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// Whether a database error code says the database is busy, contended or going away
/// (worth retrying later) rather than that the statement is wrong.
///
/// PostgreSQL: 08xxx connection exceptions, 57P0x shutdown or cannot connect now, 57014
/// a statement cancelled by `statement_timeout`, 53xxx insufficient resources, 40001
/// serialization failure, 40P01 deadlock, 55P03 lock not available. SQLite reports its
/// *extended* result codes, whose low byte is the primary code: 5 BUSY (with
/// BUSY_RECOVERY 261, BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773) and 6 LOCKED (with
/// LOCKED_SHAREDCACHE 262, LOCKED_VTAB 518).
/// (A SQLSTATE is always five characters, some all digits; SQLite's codes are below
/// 10 000.)
fn contention_or_outage(code: &str) -> bool {
    if code.len() < 5
        && let Ok(sqlite) = code.parse::<u32>()
    {
        return matches!(sqlite & 0xFF, 5 | 6);
    }
    code.starts_with("08")
        || code.starts_with("57P")
        || code == "57014"
        || code.starts_with("53")
        || code == "40001"
        || code == "40P01"
        || code == "55P03"
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Translates a database error into the ports' terms: connection trouble, pool exhaustion,
/// server shutdown and SQLite lock timeouts are `Unavailable` (worth retrying later);
/// everything else is `Unexpected`.
pub(crate) fn translate(e: DbErr) -> RepositoryError {
    let unavailable = match &e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(s))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(s)) => sqlx_unavailable(s),
        _ => false,
    };
    if unavailable {
        RepositoryError::Unavailable(Box::new(e))
    } else {
        RepositoryError::Unexpected(Box::new(e))
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => contention_or_outage(&db.code().unwrap_or_default()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::contention_or_outage;

    #[test]
    fn every_busy_and_locked_code_is_contention() {
        for code in ["5", "6", "261", "517", "773", "262", "518"] {
            assert!(contention_or_outage(code), "SQLite {code}");
        }
        for code in [
            "08006", "57P01", "57014", "53300", "40001", "40P01", "55P03",
        ] {
            assert!(contention_or_outage(code), "PostgreSQL {code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_ERROR (1), a unique violation (23505)
        // and a syntax error (42601) are the statement's fault.
        for code in ["2067", "1", "19", "23505", "42601", ""] {
            assert!(!contention_or_outage(code), "{code}");
        }
    }
}
