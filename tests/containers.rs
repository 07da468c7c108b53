//! The project's image under testcontainers: the façade and the sidecar as containers (bridge
//! network, mapped ports), driven over HTTP. Reported as ignored with the reason when no Docker engine
//! answers or the image is not built (`make images`) — nothing is ever pulled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{or_ignore, trial};
use libtest_mimic::Completion;
use serde_json::{Value, json};
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

fn image(wait: &str) -> Result<GenericImage, String> {
    harness::containers::available().map_err(|why| format!("container tests: {why}"))?;
    Ok(GenericImage::new("miniagent", "local").with_wait_for(WaitFor::message_on_stderr(wait)))
}

async fn the_facade_image_serves_the_demo() -> Completion {
    let image = or_ignore!(image("listening on"));
    let container = image
        .with_exposed_port(ContainerPort::Tcp(8788))
        .with_cmd(["miniagent", "serve", "--demo", "--host", "0.0.0.0", "--port", "8788", "--insecure-no-auth"])
        .start()
        .await
        .expect("the façade container starts");
    let port = container.get_host_port_ipv4(8788).await.unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready: Value = common::get_json(format!("{base}/ready")).await;
    assert_eq!(ready["ok"], true);
    let env: Value = http
        .post(format!("{base}/agent/run"))
        .json(&json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(env["final_answer"], "Dummy mini-agent response");
    Completion::Completed
}

async fn the_sidecar_image_refuses_without_credentials_and_echoes_with_echo_mode() -> Completion {
    let image = or_ignore!(image("listening on"));
    let strict = image
        .clone()
        .with_exposed_port(ContainerPort::Tcp(8077))
        .with_cmd(["miniagent", "sidecar", "--host", "0.0.0.0", "--port", "8077", "--insecure-no-auth"])
        .start()
        .await
        .unwrap();
    let port = strict.get_host_port_ipv4(8077).await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(&json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no auth file in the image");

    let echo = image
        .with_exposed_port(ContainerPort::Tcp(8077))
        .with_env_var("CODEX_SIDECAR_ECHO", "1")
        .with_cmd(["miniagent", "sidecar", "--host", "0.0.0.0", "--port", "8077", "--insecure-no-auth"])
        .start()
        .await
        .unwrap();
    let port = echo.get_host_port_ipv4(8077).await.unwrap();
    let body: Value = common::post_json(
        format!("http://127.0.0.1:{port}/v1/chat/completions"),
        &json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .1;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi");
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial("the_facade_image_serves_the_demo", the_facade_image_serves_the_demo),
        trial(
            "the_sidecar_image_refuses_without_credentials_and_echoes_with_echo_mode",
            the_sidecar_image_refuses_without_credentials_and_echoes_with_echo_mode,
        ),
    ])
}
