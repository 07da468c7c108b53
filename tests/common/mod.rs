//! Small HTTP helpers shared by the end-to-end tests (each test binary uses some of them).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// `GET url` → the JSON body (panics with the body when it is not JSON).
pub async fn get_json(url: impl AsRef<str>) -> Value {
    let res = reqwest::Client::new().get(url.as_ref()).send().await.unwrap();
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {}: not JSON ({e}): {text}", url.as_ref()))
}

/// `POST url` with a JSON body → the status and the JSON body (`null` when it is not JSON).
pub async fn post_json(url: impl AsRef<str>, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new().post(url.as_ref()).json(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
