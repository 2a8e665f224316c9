//! The database: which one, how many connections, how long a request waits for one.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use store_sql::PoolConfig;

/// The database settings.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `postgres://user:pass@host/db` or `sqlite://path?mode=rwc`.
    /// Default: a SQLite file in DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true, value_parser = super::secret)]
    pub database_url: Option<super::Secret>,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// Seconds a request waits for a database connection before answering 503.
    #[arg(
        long,
        env = "DATABASE_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub database_acquire_timeout_secs: u64,

    /// Seconds one PostgreSQL statement may run before the server cancels it (then 503
    /// with Retry-After); 0: no limit. SQLite has no such setting.
    #[arg(
        long,
        env = "DATABASE_STATEMENT_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub database_statement_timeout_secs: u64,

    /// Apply pending migrations at start-up. Turn off where migrations run separately
    /// (`server migrate`, a Kubernetes Job).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,
}

impl DatabaseConfig {
    /// DATABASE_URL, or a SQLite file in `data_dir`.
    /// It may carry a password: connect with it, never print it.
    pub fn url(&self, data_dir: &Path) -> String {
        self.database_url.as_ref().map_or_else(
            || {
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("service.db").display()
                )
            },
            |url| secrecy::ExposeSecret::expose_secret(url).to_owned(),
        )
    }

    /// The connection pool's settings.
    pub fn pool(&self) -> PoolConfig {
        PoolConfig {
            max_connections: self.database_max_connections,
            acquire_timeout: Duration::from_secs(self.database_acquire_timeout_secs),
            statement_timeout: (self.database_statement_timeout_secs > 0)
                .then(|| Duration::from_secs(self.database_statement_timeout_secs)),
            ..PoolConfig::default()
        }
    }
}
