//! exec-RPC in-process (`oneshot`), with real compilers and interpreters as subprocesses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use miniagent::exec_rpc::{ExecState, app};
use rstest::rstest;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app(ExecState::new(
        Default::default(),
        Default::default(),
        std::sync::Arc::new(miniagent::process::sandbox::Sandbox::new(Default::default())),
    ))
    .oneshot(req)
    .await
    .unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn exec(language: &str, code: &str, timeout_sec: Option<f64>) -> Value {
    let mut body = json!({"language": language, "code": code});
    if let Some(t) = timeout_sec {
        body["timeout_sec"] = json!(t);
    }
    let (status, v) = call("POST", "/exec", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn health_and_meta() {
    assert_eq!(call("GET", "/health", None).await, (200, json!({"ok": true})));
    let (status, meta) = call("GET", "/__meta", None).await;
    assert_eq!(status, 200);
    assert!(meta["git_sha"].as_str().is_some_and(|s| !s.is_empty()), "{meta}");
    assert!(meta["started_at"].as_f64().is_some_and(|t| t > 1.6e9), "{meta}");
}

#[rstest]
#[case("python", "print(sum(range(10)))")]
#[case("py", "import sys; print(45); sys.stdout.flush()")]
#[case("c", "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 45); return 0;}")]
#[case("cpp", "#include <iostream>\nint main(){std::cout << 45 << std::endl;}")]
#[case("rust", "fn main() { println!(\"{}\", (0..10).sum::<i32>()); }")]
#[case("javascript", "console.log([...Array(10).keys()].reduce((a, b) => a + b))")]
#[case("java", "public class Sum { public static void main(String[] a) { System.out.println(45); } }")]
#[tokio::test]
async fn languages_run_for_real(#[case] language: &str, #[case] code: &str) {
    let v = exec(language, code, Some(60.0)).await;
    assert_eq!(
        (v["ok"].clone(), v["rc"].clone(), v["stdout"].clone()),
        (json!(true), json!(0), json!("45\n")),
        "{language}: {v}"
    );
    assert_eq!(v["error"], Value::Null);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["ok", "rc", "stdout", "stderr", "error", "t_ms"]);
}

#[tokio::test]
async fn a_compile_error_is_a_result_not_a_crash() {
    let v = exec("c", "int main( { return 0; }", None).await;
    assert_eq!(v["ok"], json!(false));
    assert!(v["error"].as_str().is_some_and(|e| e.contains("compile step `gcc` failed")), "{v}");
    assert!(v["stderr"].as_str().is_some_and(|e| e.contains("error")), "{v}");
}

#[tokio::test]
async fn timeouts_kill_and_are_clamped_to_one_second() {
    let started = std::time::Instant::now();
    let v = exec("python", "import time; time.sleep(30)", Some(0.01)).await;
    assert_eq!(v["ok"], json!(false));
    assert_eq!(v["error"], json!("timeout after 1s"), "timeout_sec below 1 is raised to 1: {v}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[rstest]
#[case(json!({"language": "cobol", "code": "x"}), 400, "unsupported language: cobol")]
#[case(json!({"language": "python"}), 422, "missing field `code`")]
#[case(json!({"language": "python", "code": "x", "timeout_sec": "soon"}), 422, "timeout_sec")]
#[tokio::test]
async fn bad_requests(#[case] body: Value, #[case] status: u16, #[case] detail: &str) {
    let (got, v) = call("POST", "/exec", Some(body)).await;
    assert_eq!(got, status, "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| d.contains(detail)), "{v}");
}

#[tokio::test]
async fn unsupported_language_detail_is_exact() {
    let (_, v) = call("POST", "/exec", Some(json!({"language": "cobol", "code": "x"}))).await;
    assert_eq!(v, json!({"detail": "unsupported language: cobol"}));
}
