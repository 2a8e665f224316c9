//! The binary itself: `--help`, `migrate`, refusing unsafe production settings, and
//! stopping gracefully on SIGTERM and SIGINT.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "BIND_ADDR",
        "DATA_DIR",
        "DATABASE_URL",
        "PUBLIC_URL",
        "APP_ENV",
        "CORS_ORIGINS",
        "MIGRATE_ON_START",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "--help lacks {var}:\n{help}"
        );
    }
    for command in ["serve", "migrate", "openapi"] {
        assert!(help.contains(command), "--help lacks the {command} command");
    }
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("migrate")
        .env("DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("service.db").exists());
}

#[test]
fn production_refuses_unsafe_settings_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("APP_ENV", "production")
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("CORS_ORIGINS", "http://app.example.com")
        .env_remove("PUBLIC_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PUBLIC_URL must be set"), "{err}");
    assert!(
        err.contains("CORS_ORIGINS must list only https origins"),
        "{err}"
    );
}

/// Starts the binary on a free port and waits until it listens.
fn start_binary(dir: &tempfile::TempDir) -> (std::process::Child, u16) {
    let port = free_port();
    let child = Command::new(BIN)
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("HTTP_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit by itself, successfully; returns its log.
fn wait_for_exit(mut child: std::process::Child, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after {what}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(exit.success(), "exit {exit:?}:\n{log}");
    log
}

fn graceful_stop_on(sig: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (child, _) = start_binary(&dir);
    signal(&child, sig);
    let log = wait_for_exit(child, sig);
    assert!(log.contains("finishing in-flight requests"), "{log}");
    assert!(log.contains("\"stopped\""), "{log}");
}

#[test]
fn an_in_flight_request_finishes_after_sigterm() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let (child, port) = start_binary(&dir);
    let body = br#"{"name":"Bob"}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /account/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // Half the body: the request is in flight, its handler waiting for the rest.
    stream.write_all(&body[..6]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body[6..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    // No registration cookie: 401 in the envelope, answered in full after the signal.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("NO_PENDING_REGISTRATION"), "{answer}");
    wait_for_exit(child, "SIGTERM with a request in flight");
}

#[test]
fn sigterm_stops_gracefully() {
    graceful_stop_on("-TERM");
}

#[test]
fn sigint_stops_gracefully() {
    graceful_stop_on("-INT");
}
