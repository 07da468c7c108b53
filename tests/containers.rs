//! The project's image under testcontainers: the façade, the sidecar and exec-RPC as containers
//! (bridge network, mapped ports, so they bind 0.0.0.0 — with API keys, as §11 requires), driven
//! over HTTP. Tools run in the image: in a default container bubblewrap cannot make namespaces
//! (Docker's seccomp profile refuses them), so tools are refused with a 503 and the log says why —
//! the sandbox fails closed — unless the operator writes `MINI_AGENT_TOOL_SANDBOX=off`; with
//! `--security-opt seccomp=unconfined --security-opt systempaths=unconfined` the sandbox works. Reported as ignored with the reason when no Docker engine answers or the image is not
//! built (`make images`) — nothing is ever pulled.

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
        .with_env_var("MINI_AGENT_API_KEYS", KEY)
        .with_cmd(["miniagent", "serve", "--demo", "--host", "0.0.0.0", "--port", "8788"])
        .start()
        .await
        .expect("the façade container starts");
    let port = container.get_host_port_ipv4(8788).await.unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = harness::http_client();
    let ready: Value = common::get_json(format!("{base}/ready")).await;
    assert_eq!(ready["ok"], true);
    let env: Value = http
        .post(format!("{base}/agent/run"))
        .bearer_auth(KEY)
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
        .with_env_var("MINI_AGENT_API_KEYS", KEY)
        .with_cmd(["miniagent", "sidecar", "--host", "0.0.0.0", "--port", "8077"])
        .start()
        .await
        .unwrap();
    let port = strict.get_host_port_ipv4(8077).await.unwrap();
    let res = harness::http_client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no auth file in the image");

    let echo = image
        .with_exposed_port(ContainerPort::Tcp(8077))
        .with_env_var("CODEX_SIDECAR_ECHO", "1")
        .with_env_var("MINI_AGENT_API_KEYS", KEY)
        .with_cmd(["miniagent", "sidecar", "--host", "0.0.0.0", "--port", "8077"])
        .start()
        .await
        .unwrap();
    let port = echo.get_host_port_ipv4(8077).await.unwrap();
    let body: Value = harness::http_client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi");
    Completion::Completed
}

const KEY: &str = "sk-container-test";

/// `print(6 * 7)` through exec-RPC in a container, default or with namespaces allowed (what
/// `docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt
/// systempaths=unconfined` sets), with `extra` environment; the answer and the log.
async fn python_in_a_container(namespaces: bool, extra: &[(&str, &str)]) -> Result<(u16, Value, String), String> {
    let mut request = image("listening on")?
        .with_exposed_port(ContainerPort::Tcp(8790))
        .with_env_var("MINI_AGENT_API_KEYS", KEY)
        .with_cmd(["miniagent", "exec-rpc", "--host", "0.0.0.0", "--port", "8790"]);
    for (k, v) in extra {
        request = request.with_env_var(*k, *v);
    }
    if namespaces {
        request = request
            .with_security_opt("seccomp=unconfined")
            .with_security_opt("apparmor=unconfined")
            // `systempaths=unconfined` is a CLI spelling: on the API it is no masked or read-only /proc paths.
            .with_host_config_modifier(|host| {
                host.masked_paths = Some(Vec::new());
                host.readonly_paths = Some(Vec::new());
            });
    }
    let container = request.start().await.expect("the exec-rpc container starts");
    let port = container.get_host_port_ipv4(8790).await.unwrap();
    let res = harness::http_client()
        .post(format!("http://127.0.0.1:{port}/exec"))
        .bearer_auth(KEY)
        .json(&json!({"language": "python", "code": "import os\nprint(6 * 7, os.getuid())"}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let out: Value = res.json().await.unwrap();
    Ok((status, out, String::from_utf8_lossy(&container.stderr_to_vec().await.unwrap()).into_owned()))
}

async fn tools_are_refused_in_a_default_container_and_say_why() -> Completion {
    let (status, out, logs) = or_ignore!(python_in_a_container(false, &[]).await);
    assert_eq!(status, 503, "{out}");
    let detail = out["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("tools are refused") && detail.contains("MINI_AGENT_TOOL_SANDBOX=off"), "{out}");
    assert!(logs.contains("tools are refused"), "{logs}");
    Completion::Completed
}

async fn tools_run_unsandboxed_in_a_default_container_only_when_turned_off() -> Completion {
    let (status, out, logs) = or_ignore!(python_in_a_container(false, &[("MINI_AGENT_TOOL_SANDBOX", "off")]).await);
    assert_eq!((status, out["ok"].clone()), (200, json!(true)), "{out}");
    assert_eq!(out["stdout"].as_str().unwrap().trim(), "42 65534", "{out}");
    assert!(logs.contains("MINI_AGENT_TOOL_SANDBOX=off: tools run WITHOUT namespaces"), "{logs}");
    Completion::Completed
}

async fn tools_run_sandboxed_in_a_container_that_allows_namespaces() -> Completion {
    let (status, out, logs) = or_ignore!(python_in_a_container(true, &[]).await);
    assert_eq!((status, out["ok"].clone()), (200, json!(true)), "{out}");
    assert_eq!(out["stdout"].as_str().unwrap().trim(), "42 65534", "{out}");
    assert!(logs.contains("tools run in a bubblewrap sandbox"), "{logs}");
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial(
            "tools_are_refused_in_a_default_container_and_say_why",
            tools_are_refused_in_a_default_container_and_say_why,
        ),
        trial(
            "tools_run_unsandboxed_in_a_default_container_only_when_turned_off",
            tools_run_unsandboxed_in_a_default_container_only_when_turned_off,
        ),
        trial(
            "tools_run_sandboxed_in_a_container_that_allows_namespaces",
            tools_run_sandboxed_in_a_container_that_allows_namespaces,
        ),
        trial("the_facade_image_serves_the_demo", the_facade_image_serves_the_demo),
        trial(
            "the_sidecar_image_refuses_without_credentials_and_echoes_with_echo_mode",
            the_sidecar_image_refuses_without_credentials_and_echoes_with_echo_mode,
        ),
    ])
}
