use std::collections::BTreeSet;

use crate::helpers::spawn_app;

/// Every registered route is in the OpenAPI document, with its method, and the document
/// describes no route that is not registered.
#[tokio::test]
async fn every_registered_route_is_documented_and_nothing_else() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );

    let registered: BTreeSet<(String, String)> = server::routes::all()
        .specs()
        .iter()
        .map(|s| (s.method.as_str().to_lowercase(), s.openapi_path()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    ["get", "post", "put", "patch", "delete", "head", "options"]
                        .contains(&k.as_str())
                })
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /openapi.json: {undocumented:?}"
    );
    assert!(
        unregistered.is_empty(),
        "documented but not registered: {unregistered:?}"
    );
    assert!(registered.len() >= 6);
}

#[tokio::test]
async fn every_documented_operation_documents_its_responses() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object();
            assert!(
                responses.is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_offline_at_both_addresses() {
    let app = spawn_app().await;
    for page in ["/docs", "/api/v1/images/docs"] {
        let res = app.get(page).await;
        assert_eq!(res.status(), 200, "{page}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("/docs/swagger-ui-bundle.js"));
        assert!(!html.contains("https://"), "no CDN: {html}");
    }
    let js = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        js.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(
        js.bytes().await.unwrap().len() > 100_000,
        "the real bundle is served"
    );
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
    assert!(init.contains("validatorUrl: null"));
    let css = app.get("/docs/swagger-ui.css").await;
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn server_openapi_prints_the_served_document() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, served);
}

/// The CloudFront response-headers policy in deploy/ gives images what the local `/cdn`
/// gives them: `nosniff` and a CSP that forbids everything.
#[test]
fn the_cloudfront_policy_serves_images_inert() {
    let path = crate::helpers::workspace_path("deploy/cloudfront/response-headers-policy.json");
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let security = &policy["SecurityHeadersConfig"];
    assert_eq!(security["ContentTypeOptions"]["Override"], true);
    assert_eq!(
        security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "default-src 'none'"
    );
    assert_eq!(security["ContentSecurityPolicy"]["Override"], true);
}
