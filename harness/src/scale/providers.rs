//! The two model providers behind the scale stack's router group (CONTRACT §5 Routing): `flaky`
//! answers every chat completion 500, `steady` answers a completion — each on its own loopback
//! port and runtime thread, counting what it received. The replicas' router file puts `flaky`
//! first (order 1) in group [`GROUP`], so a cooldown shared through Redis shows as `flaky`
//! receiving nothing from any replica until it ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

/// The router group whose first deployment fails.
pub const GROUP: &str = "scale-shared";
/// Its deployments' ids.
pub const FLAKY: &str = "scale-flaky";
pub const STEADY: &str = "scale-steady";
/// How long one failure cools `flaky` (allowed_fails is 1).
pub const COOLDOWN_SECS: u64 = 3;

/// One provider: its address and how many requests it received.
pub struct Provider {
    pub addr: SocketAddr,
    calls: Arc<AtomicUsize>,
}

impl Provider {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// Both providers.
pub struct Providers {
    pub flaky: Provider,
    pub steady: Provider,
}

impl Providers {
    pub fn start() -> Result<Self, String> {
        Ok(Self { flaky: serve(false)?, steady: serve(true)? })
    }

    /// The replicas' router file: [`GROUP`] with `flaky` (order 1) and `steady` (order 2).
    pub fn router_yaml(&self) -> String {
        format!(
            "model_list:
  - {{model_name: {GROUP}, litellm_params: {{model: openai/flaky, api_base: '{}', order: 1}}, model_info: {{id: {FLAKY}}}}}
  - {{model_name: {GROUP}, litellm_params: {{model: openai/steady, api_base: '{}', order: 2}}, model_info: {{id: {STEADY}}}}}
router_settings: {{allowed_fails: 1, cooldown_time: {COOLDOWN_SECS}}}
",
            self.flaky.base(),
            self.steady.base()
        )
    }
}

fn completion() -> Value {
    json!({"id": "chatcmpl-scale", "object": "chat.completion", "created": 1, "model": "steady",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "steady answer"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
}

/// Serves one provider on a thread of its own (it outlives any test runtime).
fn serve(healthy: bool) -> Result<Provider, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if healthy {
                    (StatusCode::OK, axum::Json(completion()))
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "flaky is down"}})))
                }
            }
        }),
    );
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, app).await;
            }
        });
    });
    Ok(Provider { addr, calls })
}
