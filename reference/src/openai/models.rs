//! `GET /v1/models`: the configured aliases, then the default provider's own models (its
//! `/models`, fetched at most once a minute; a failure just leaves them out), then `dummy` when it
//! is allowed — never a hard-coded name.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::proxy;
use crate::provider::client::Providers;
use crate::provider::kind::ProviderKind;

/// How long the provider's list is reused.
pub(crate) const REFRESH: Duration = Duration::from_secs(60);
/// How long the provider may take to list its models.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider's models, cached (a failure is cached too: a down provider is asked once a minute,
/// not on every request).
#[derive(Debug, Default)]
pub struct ModelCatalog {
    cached: Mutex<Option<(Instant, Vec<Value>)>>,
}

fn entry(id: &str, created: u64, owned_by: &str) -> Value {
    json!({"id": id, "object": "model", "created": created, "owned_by": owned_by})
}

impl ModelCatalog {
    /// Every model id this server answers to, as OpenAI model objects.
    pub async fn list(&self, providers: &Providers, created: u64) -> Vec<Value> {
        let mut out: Vec<Value> =
            providers.router().groups().iter().map(|g| entry(&g.name, created, "miniagent")).collect();
        for m in self.provider_models(providers).await {
            if !out.iter().any(|o| o["id"] == m["id"]) {
                out.push(m);
            }
        }
        if providers.settings().allow_dummy && !out.iter().any(|o| o["id"] == "dummy") {
            out.push(entry("dummy", created, "miniagent"));
        }
        out
    }

    async fn provider_models(&self, providers: &Providers) -> Vec<Value> {
        let mut cached = self.cached.lock().await;
        if let Some((at, models)) = cached.as_ref()
            && at.elapsed() < REFRESH
        {
            return models.clone();
        }
        let models = fetch(providers).await.unwrap_or_else(|why| {
            tracing::info!(%why, "the default provider's models are left out of /v1/models for a minute");
            Vec::new()
        });
        *cached = Some((Instant::now(), models.clone()));
        models
    }
}

/// The default provider's `GET /models`, as model objects.
async fn fetch(providers: &Providers) -> Result<Vec<Value>, String> {
    let route = proxy::route(providers, "models").map_err(|e| e.to_string())?;
    if route.kind == ProviderKind::Dummy {
        return Ok(Vec::new());
    }
    let call = crate::provider::openai::with_key(providers.http().get(route.url_for("models")), &route);
    let response = call.timeout(FETCH_TIMEOUT).send().await.map_err(|e| crate::provider::openai::describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    let owner = route.kind.name();
    Ok(body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?;
            let created = m.get("created").and_then(Value::as_u64).unwrap_or(0);
            Some(entry(id, created, m.get("owned_by").and_then(Value::as_str).unwrap_or(owner)))
        })
        .collect())
}
