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

/// A PostgreSQL server of its own, on a free loopback port, that a test may stop and
/// start again (the database going away under load). Its binaries come from
/// `TEST_POSTGRES_BINDIR` (`./scripts/test` sets it) or the newest
/// `/usr/lib/postgresql/*/bin`.
#[derive(Debug)]
pub struct PgServer {
    /// The `postgres` database on it, as a superuser, without a password.
    pub url: String,
    bindir: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Run as `postgres` when we are root (PostgreSQL refuses to run as root).
    as_postgres: bool,
}

impl PgServer {
    /// Creates and starts a cluster; `None` when PostgreSQL tests are knowingly skipped.
    ///
    /// # Panics
    /// When no PostgreSQL binaries are found or the server does not start.
    pub fn start() -> Option<Self> {
        if std::env::var("SKIP_POSTGRES_TESTS").as_deref() == Ok("1") {
            eprintln!("SKIP_POSTGRES_TESTS=1: skipping a PostgreSQL test");
            return None;
        }
        let bindir = std::env::var_os("TEST_POSTGRES_BINDIR")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                    .ok()?
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("bin"))
                    .filter(|p| p.join("postgres").exists())
                    .collect();
                found.sort();
                found.pop()
            })
            .expect("no PostgreSQL binaries: run ./scripts/test, or set TEST_POSTGRES_BINDIR");
        let dir = tempfile::tempdir().expect("tempdir");
        let as_postgres = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_postgres {
            run(std::process::Command::new("chown")
                .arg("postgres")
                .arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let user = if as_postgres {
            "postgres".to_owned()
        } else {
            whoami()
        };
        let server = Self {
            url: format!("postgres://{user}@127.0.0.1:{port}/postgres?sslmode=disable"),
            bindir,
            dir,
            port,
            as_postgres,
        };
        let data = server.dir.path().join("data");
        run(server.command("initdb").arg("-D").arg(&data).args([
            "-U",
            &user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        server.resume();
        Some(server)
    }

    fn command(&self, bin: &str) -> std::process::Command {
        let path = self.bindir.join(bin);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        }
    }

    /// Starts the server (again), waiting until it accepts connections.
    ///
    /// # Panics
    /// When it does not start.
    pub fn resume(&self) {
        let dir = self.dir.path();
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-t", "30", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                dir.display()
            ))
            .arg("start"));
    }

    /// Stops the server the hard way (`immediate`: no checkpoint, every connection cut),
    /// as a crash or a failover looks to clients.
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn halt(&self) {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn whoami() -> String {
    std::process::Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .expect("id -un")
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("run a PostgreSQL command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
