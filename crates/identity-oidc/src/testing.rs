//! A real OpenID Connect provider for tests: `test-support/oidc/provider.mjs`
//! (oauth2-mock-server on Node), one process per test on a free loopback port, stopped when
//! dropped. `./scripts/test` installs its npm dependencies. The `login_hint` picks the user
//! and the misbehaviour (see the script's header).
#![allow(clippy::panic, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running provider.
#[derive(Debug)]
pub struct MockProvider {
    /// Its issuer URL, `http://127.0.0.1:PORT`.
    pub issuer: String,
    child: Child,
}

/// The provider's script, in the workspace's `test-support/oidc`. The package's directory
/// is read when the test runs (cargo and nextest set `CARGO_MANIFEST_DIR`; both this crate
/// and `apps/server` are two levels below the root), so a build reused from another
/// checkout of the same sources still finds this checkout's files.
fn script_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../../test-support/oidc")
}

impl MockProvider {
    /// Starts a provider and waits until it listens.
    ///
    /// # Panics
    /// When Node or the provider's npm dependencies are missing (run `./scripts/test`).
    pub fn start() -> Self {
        let dir = script_dir();
        assert!(
            dir.join("node_modules/oauth2-mock-server").is_dir(),
            "the test OIDC provider is not installed: run ./scripts/test, or `npm ci` in {}",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (install Node.js)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider starts");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider said {line:?}: {e}"));
        let issuer = v["issuer"].as_str().expect("issuer").to_owned();
        Self { issuer, child }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
