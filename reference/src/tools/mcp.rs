//! The MCP tools backend (CONTRACT §4b): a real Model Context Protocol client over Streamable
//! HTTP, built on the official Rust SDK (`rmcp`).
//!
//! Both protocol generations work: the client probes with `server/discover` (the stateless form of
//! spec 2026-07-28: per-request `_meta`, `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name`
//! headers, `-32022` version negotiation) and falls back to the `initialize` →
//! `notifications/initialized` handshake (2025-11-25, `Mcp-Session-Id`, a 404 on an expired
//! session → a new session). JSON and SSE replies and 307 redirects are the SDK's business.
//!
//! What this module owns: connecting once per run (lazily, on the first list or call), MCP tool
//! schemas → OpenAI tools, call results → our result objects (text parts joined; `isError` →
//! `ok:false`), timeouts, the request's `tool_http_headers`, and closing the session at the end.

use std::collections::HashMap;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};

use crate::env::Env;
use crate::text::preview;
use crate::tools::ToolBackend;
use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;

/// Headers the SDK manages itself; a request's copy is dropped rather than failing every call.
const SDK_HEADERS: [&str; 4] = ["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"];

/// Server-side settings of the MCP backend.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Connect-and-list, and each call (`MINI_AGENT_TOOL_MCP_TIMEOUT_SEC`, default 30 s).
    pub timeout: Duration,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30) }
    }
}

impl McpSettings {
    /// `MINI_AGENT_TOOL_MCP_TIMEOUT_SEC`.
    pub fn from_env(env: &Env) -> Self {
        Self { timeout: env.secs("MINI_AGENT_TOOL_MCP_TIMEOUT_SEC", Self::default().timeout) }
    }
}

type Client = RunningService<RoleClient, ClientConfig>;

/// One run's MCP session.
pub(crate) struct McpTools {
    url: String,
    /// The URL as messages show it (without credentials).
    shown: String,
    client: reqwest::Client,
    headers: HashMap<axum::http::HeaderName, axum::http::HeaderValue>,
    settings: McpSettings,
    peer: OnceCell<Peer<RoleClient>>,
    running: Mutex<Option<Client>>,
    /// The protocol version the session settled on (reported in every result, for debugging which
    /// generation a server speaks).
    protocol: OnceCell<String>,
}

impl std::fmt::Debug for McpTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTools").field("url", &self.shown).finish_non_exhaustive()
    }
}

impl McpTools {
    /// A session for the MCP server at `url` (validated as http(s) by the request's validation),
    /// connecting only to `addrs` when given (what the outbound policy checked); an `Err` names a
    /// header the SDK's client cannot send.
    pub(crate) fn new(
        url: &url::Url,
        request_headers: &[(String, String)],
        settings: McpSettings,
        addrs: Vec<std::net::SocketAddr>,
    ) -> Result<Self, String> {
        let mut headers = HashMap::new();
        for (name, value) in request_headers {
            if SDK_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                tracing::debug!(header = %name, "dropping a tool_http_headers entry the MCP client manages itself");
                continue;
            }
            let n = name.parse().map_err(|_| format!("`{name}` is not a valid header name"))?;
            let v = value.parse().map_err(|_| format!("the value of header `{name}` is not valid"))?;
            headers.insert(n, v);
        }
        // The session's requests continue the current trace (the run's request span).
        for (name, value) in crate::telemetry::otel::outgoing_headers() {
            if let (Ok(n), Ok(v)) = (name.parse(), value.parse()) {
                headers.insert(n, v);
            }
        }
        Ok(Self {
            url: url.as_str().to_owned(),
            shown: crate::outbound::redacted(url),
            client: http_client(url, &addrs)?,
            headers,
            settings,
            peer: OnceCell::new(),
            running: Mutex::new(None),
            protocol: OnceCell::new(),
        })
    }

    async fn peer(&self) -> Result<&Peer<RoleClient>, String> {
        self.peer
            .get_or_try_init(|| async {
                let config = StreamableHttpClientTransportConfig::with_uri(self.url.clone())
                    .custom_headers(self.headers.clone());
                let transport = StreamableHttpClientTransport::with_client(self.client.clone(), config);
                let lifecycle = ClientLifecycleMode::Auto {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    legacy_version: Some(ProtocolVersion::V_2025_11_25),
                };
                let connect = ClientConfig::default().serve_with_lifecycle(transport, lifecycle);
                let running = tokio::time::timeout(self.settings.timeout, connect)
                    .await
                    .map_err(|_| {
                        format!(
                            "MCP server {} did not complete the handshake within {:?}",
                            self.shown, self.settings.timeout
                        )
                    })?
                    .map_err(|e| format!("MCP server {}: {e}", self.shown))?;
                let peer = running.peer().clone();
                if let Some(info) = peer.peer_info() {
                    let version =
                        serde_json::to_value(&info.protocol_version).ok().and_then(|v| v.as_str().map(str::to_owned));
                    let _ = self.protocol.set(version.unwrap_or_default());
                }
                *self.running.lock().await = Some(running);
                Ok(peer)
            })
            .await
    }

    /// Ends the session (a DELETE for handshake sessions). Failures only log: the run is over.
    pub(crate) async fn close(&self) {
        if let Some(mut running) = self.running.lock().await.take()
            && let Err(e) = tokio::time::timeout(Duration::from_secs(5), running.close()).await
        {
            tracing::debug!(url = %self.shown, error = %e, "closing the MCP session timed out");
        }
    }
}

/// The HTTP client of one session: it connects only to `addrs` (when given) and follows only
/// same-origin 307/308 redirects (which keep the JSON-RPC body; another origin would receive the
/// session id and the caller's headers), with no idle pool (the SDK's own choice: a reused
/// connection after an unread body stalls on delayed ACKs).
fn http_client(url: &url::Url, addrs: &[std::net::SocketAddr]) -> Result<reqwest::Client, String> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
        let same_origin = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
        if keeps_body && same_origin && attempt.previous().len() < 10 { attempt.follow() } else { attempt.stop() }
    });
    let mut builder = crate::transport::tls::http_client().pool_max_idle_per_host(0).redirect(policy);
    if let Some(host) = url.host_str().filter(|_| !addrs.is_empty()) {
        builder = builder.resolve_to_addrs(host.trim_start_matches('[').trim_end_matches(']'), addrs);
    }
    builder.build().map_err(|e| format!("cannot build the MCP client: {e}"))
}

/// An MCP tool (`{name, description, inputSchema}`) as an OpenAI function.
fn to_openai(tool: &Value) -> Option<Value> {
    let name = tool.get("name")?.as_str()?;
    let parameters = tool.get("inputSchema").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    Some(json!({"type": "function", "function": {
        "name": name, "description": tool.get("description").cloned().unwrap_or(json!("")), "parameters": parameters
    }}))
}

/// A `CallToolResult` as our result.
pub(crate) fn to_result(name: &str, result: &Value) -> ToolResult {
    let text: Vec<&str> = result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    let joined = text.join("\n");
    if result.get("isError") == Some(&Value::Bool(true)) {
        let error = if joined.is_empty() { preview(result, 500) } else { joined };
        return ToolResult::failure(name, error);
    }
    let output = if joined.is_empty() {
        result.get("structuredContent").map_or_else(|| preview(result, 100_000), Value::to_string)
    } else {
        joined
    };
    ToolResult::success(name, output)
}

impl ToolBackend for McpTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        let peer = self.peer().await?;
        let tools = tokio::time::timeout(self.settings.timeout, peer.list_all_tools())
            .await
            .map_err(|_| format!("MCP server {}: tools/list timed out", self.shown))?
            .map_err(|e| format!("MCP server {}: tools/list failed: {e}", self.shown))?;
        Ok(tools.iter().filter_map(|t| serde_json::to_value(t).ok()).filter_map(|t| to_openai(&t)).collect())
    }

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        let started = std::time::Instant::now();
        let Some(arguments) = call.arguments.clone() else {
            return ToolResult::failure(
                &call.name,
                format!("arguments are not a JSON object: {}", preview(&call.arguments_raw, 200)),
            );
        };
        let mut result = match self.peer().await {
            Err(e) => ToolResult::failure(&call.name, e),
            Ok(peer) => {
                let params = CallToolRequestParams::new(call.name.clone()).with_arguments(arguments);
                match tokio::time::timeout(self.settings.timeout, peer.call_tool(params)).await {
                    Err(_) => ToolResult::failure(
                        &call.name,
                        format!("tools/call timed out after {:?}", self.settings.timeout),
                    ),
                    Ok(Err(e)) => ToolResult::failure(&call.name, format!("tools/call failed: {e}")),
                    Ok(Ok(r)) => to_result(&call.name, &serde_json::to_value(&r).unwrap_or(Value::Null)),
                }
            }
        };
        result.t_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        if let Some(version) = self.protocol.get() {
            result = result.with("mcp_protocol_version", json!(version));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_join_text_and_honour_is_error() {
        let ok = json!({"content": [{"type": "text", "text": "a"}, {"type": "image", "data": "x"}, {"type": "text", "text": "b"}], "isError": false});
        assert_eq!(to_result("t", &ok), ToolResult::success("t", "a\nb"));
        let err = json!({"content": [{"type": "text", "text": "boom"}], "isError": true});
        assert_eq!(to_result("t", &err).error.as_deref(), Some("boom"));
        let structured = json!({"content": [], "structuredContent": {"n": 1}});
        assert_eq!(to_result("t", &structured).result.as_deref(), Some(r#"{"n":1}"#));
    }

    #[test]
    fn tools_become_openai_functions() {
        let t =
            to_openai(&json!({"name": "echo", "description": "d", "inputSchema": {"type": "object"}})).expect("tool");
        assert_eq!(t["function"]["parameters"], json!({"type": "object"}));
    }
}
