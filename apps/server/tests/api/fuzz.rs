//! Schema-driven fuzzing: schemathesis (installed by `./scripts/test`) generates requests
//! from `/openapi.json` for every operation, valid and not, and sends them with a real
//! STAFF session. It fails on any 5xx, any status, content type or body the document does
//! not list for that operation (errors are the `ErrorBody` envelope). Property tests for
//! the parsers of untrusted input are in `crates/domain/src/properties.rs`.

use std::process::Command;

use crate::helpers::spawn_with;

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    if std::env::var("SKIP_SCHEMATHESIS").as_deref() == Ok("1") {
        eprintln!("SKIP_SCHEMATHESIS=1: skipping the schema-driven fuzzing");
        return;
    }
    let found = Command::new("schemathesis").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "schemathesis is not installed: run ./scripts/test (it installs it into \
         ~/.cache/airs/tools/venv), or set SKIP_SCHEMATHESIS=1 to skip it knowingly"
    );
    let app = spawn_with(|c| c.identity.login_rate_limit_per_minute = 1_000_000).await;
    let staff = app.login("fuzz-staff@example.com").await;
    app.grant("fuzz-staff@example.com", "STAFF");
    // A ready image, so the examples meet at least one real object.
    app.upload_png(&staff, "chat").await;
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "30".into());
    let schema = app.url("/openapi.json");
    let token = staff.token.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(["run", &schema])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance",
            ])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", &examples])
            // One worker: schemathesis 4.32's coverage phase is not thread-safe.
            .args(["--workers", "1"])
            .args(["--seed", "20261123"])
            // These end the session the run uses (their authorization and validation
            // are in the authorization matrix and the account tests).
            .args(["--exclude-operation-id", "logout"])
            .args(["--exclude-operation-id", "revoke_session"])
            .args(["--exclude-operation-id", "delete_account"])
            .env("NO_COLOR", "1")
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(app.dir.path())
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schemathesis failed:\n{log}");
    assert!(log.contains(" passed"), "schemathesis ran nothing:\n{log}");
}
