use crate::helpers::{assert_contract_headers, assert_envelope, assert_no_store, spawn_app};

#[tokio::test]
async fn unknown_routes_are_404_in_the_envelope() {
    let app = spawn_app().await;
    let res = app.get("/no/such/route").await;
    assert_contract_headers(&res);
    assert_no_store(&res);
    let body = assert_envelope(res, 404, "NOT_FOUND").await;
    assert_eq!(body["domain"], "common");
    assert_eq!(body["validation"], serde_json::Value::Null);
}

#[tokio::test]
async fn wrong_methods_are_405_in_the_envelope() {
    let app = spawn_app().await;
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_contract_headers(&res);
    assert_envelope(res, 405, "METHOD_NOT_ALLOWED").await;
    let res = app
        .client
        .post(app.url("/readyz"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_envelope(res, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn unknown_swagger_assets_are_404_in_the_envelope() {
    let app = spawn_app().await;
    assert_envelope(app.get("/docs/../../etc/passwd").await, 404, "NOT_FOUND").await;
    assert_envelope(app.get("/docs/nothing.js").await, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_plain_and_replaced_when_not() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc.123");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "<script>alert(1)</script>");
    assert_eq!(
        uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()).ok(),
        Some(4)
    );
}
