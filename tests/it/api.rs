//! JSON API conventions: errors are `{"error": {"code", "message"}}` with stable codes.

use crate::harness::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn api_errors_are_json_with_stable_codes() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/api/v1/program", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));

    // The API is for machines: no CSRF token, no session, and a POST to an unknown endpoint is a JSON 404.
    let response = client
        .post(format!("{}/api/v1/unknown", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
