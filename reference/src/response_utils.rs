//! Response utilities (CONTRACT §6): small functions over OpenAI-shaped responses.
//!
//! `extract_content` → `choices[0].message.content` or `""`; `assemble_stream_text` → the
//! concatenated `delta.content` of chunks (sync and async forms); `augment_json_with_cost` → a JSON
//! text with `metadata: {usage, …provider hidden params, cost_usd}` added (input that is not a JSON
//! object becomes `{"raw": input}`). `cost_usd` uses the price table in `fixtures/prices.json`,
//! embedded at build time; unknown models get no `cost_usd` rather than a guess.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::provider::chat::first_choice;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `choices[0].message.content` when it is a string, else `""`.
pub fn extract_content(response: &Value) -> String {
    first_choice(response)
        .and_then(|c| c.get("message")?.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The concatenated `choices[0].delta.content` of stream chunks.
pub fn assemble_stream_text<'a>(chunks: impl IntoIterator<Item = &'a Value>) -> String {
    chunks
        .into_iter()
        .filter_map(|c| first_choice(c).and_then(|c| c.get("delta")?.get("content")).and_then(Value::as_str))
        .collect()
}

/// The async form, for a stream of chunks.
pub async fn assemble_stream_text_async(chunks: impl Stream<Item = Value>) -> String {
    chunks
        .fold(String::new(), |mut acc, c| async move {
            if let Some(t) = first_choice(&c).and_then(|c| c.get("delta")?.get("content")).and_then(Value::as_str) {
                acc.push_str(t);
            }
            acc
        })
        .await
}

#[derive(Debug, Deserialize)]
struct PriceFile {
    models: HashMap<String, Price>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

fn prices() -> &'static HashMap<String, Price> {
    static PRICES: OnceLock<HashMap<String, Price>> = OnceLock::new();
    PRICES.get_or_init(|| {
        serde_json::from_str::<PriceFile>(include_str!("../../fixtures/prices.json"))
            .map(|f| f.models)
            .unwrap_or_default()
    })
}

/// The price of `model`: by exact name (provider prefix ignored), else the longest listed name the
/// model starts with (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`).
pub fn price_of(model: &str) -> Option<Price> {
    let name = model.rsplit('/').next().unwrap_or(model);
    let table = prices();
    table.get(name).copied().or_else(|| {
        table.iter().filter(|(k, _)| name.starts_with(k.as_str())).max_by_key(|(k, _)| k.len()).map(|(_, p)| *p)
    })
}

/// The cost of a response's usage, when its model is priced.
pub fn cost_usd(response: &Value) -> Option<f64> {
    let price = price_of(response.get("model")?.as_str()?)?;
    let usage = response.get("usage")?;
    let prompt = usage.get("prompt_tokens").and_then(Value::as_f64).unwrap_or(0.0);
    let completion = usage.get("completion_tokens").and_then(Value::as_f64).unwrap_or(0.0);
    Some((prompt * price.input_per_million + completion * price.output_per_million) / 1e6)
}

/// `json_text` with `metadata` added: the response's `usage`, its provider hidden params
/// (`_hidden_params`, `scillm_router`) and `cost_usd` when the model is priced.
pub fn augment_json_with_cost(json_text: &str, response: &Value) -> String {
    let mut object = match serde_json::from_str::<Value>(json_text) {
        Ok(Value::Object(m)) => m,
        _ => {
            let mut m = Map::new();
            m.insert("raw".into(), Value::String(json_text.to_owned()));
            m
        }
    };
    let mut metadata = Map::new();
    metadata.insert("usage".into(), response.get("usage").cloned().unwrap_or(Value::Null));
    if let Some(Value::Object(hidden)) = response.get("_hidden_params") {
        metadata.extend(hidden.clone());
    }
    if let Some(router) = response.get("scillm_router") {
        metadata.insert("scillm_router".into(), router.clone());
    }
    if let Some(model) = response.get("model") {
        metadata.entry("model").or_insert_with(|| model.clone());
    }
    if let Some(cost) = cost_usd(response) {
        metadata.insert("cost_usd".into(), json!(cost));
    }
    object.insert("metadata".into(), Value::Object(metadata));
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_stream_text() {
        assert_eq!(extract_content(&json!({"choices": [{"message": {"content": "hi"}}]})), "hi");
        assert_eq!(extract_content(&json!({"choices": []})), "");
        assert_eq!(extract_content(&json!({"choices": [{"message": {"content": null}}]})), "");
        let chunks = [
            json!({"choices": [{"delta": {"content": "a"}}]}),
            json!({"choices": [{"delta": {}}]}),
            json!({"choices": [{"delta": {"content": "b"}}]}),
        ];
        assert_eq!(assemble_stream_text(&chunks), "ab");
    }

    #[tokio::test]
    async fn stream_text_async() {
        let chunks = futures::stream::iter(vec![
            json!({"choices": [{"delta": {"content": "x"}}]}),
            json!({"choices": [{"delta": {"content": "y"}}]}),
        ]);
        assert_eq!(assemble_stream_text_async(chunks).await, "xy");
    }

    #[test]
    fn cost_is_added_for_priced_models_only() {
        let resp = json!({"model": "openai/gpt-4o-mini-2024-07-18", "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 500_000},
            "_hidden_params": {"provider": "openai"}});
        let out: Value = serde_json::from_str(&augment_json_with_cost(r#"{"answer": 42}"#, &resp)).expect("json");
        assert_eq!(out["answer"], 42);
        assert_eq!(out["metadata"]["provider"], "openai");
        let cost = out["metadata"]["cost_usd"].as_f64().expect("priced");
        assert!((cost - (0.15 + 0.30)).abs() < 1e-9, "{cost}");
        let unpriced = json!({"model": "mystery-model", "usage": {"prompt_tokens": 5}});
        let out: Value = serde_json::from_str(&augment_json_with_cost("not json", &unpriced)).expect("json");
        assert_eq!(out["raw"], "not json");
        assert!(out["metadata"].get("cost_usd").is_none());
        assert_eq!(out["metadata"]["usage"]["prompt_tokens"], 5);
    }
}
