//! A fake OTLP/HTTP trace receiver: `POST /v1/traces` with protobuf (the exporters' default) or
//! JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), every span kept with its resource's attributes
//! so a test can tell replicas apart (`service.instance.id`).
//!
//! It runs on the caller's tokio runtime and answers 200 to whatever decodes; it does not
//! implement partial success, retries or gzip (the server under test sends none of these).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

/// A span as the receiver got it; ids in lowercase hex, an empty `parent` for a root span.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent: String,
    pub name: String,
    pub attributes: Vec<(String, String)>,
    /// The attributes of the resource that sent it (`service.name`, `service.instance.id`, …).
    pub resource: Vec<(String, String)>,
}

impl ReceivedSpan {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        self.resource.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;

/// A running receiver; its task ends with the runtime.
#[derive(Debug, Clone)]
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`, the value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub url: String,
    spans: Spans,
}

impl OtlpReceiver {
    /// Binds a free loopback port and serves `POST /v1/traces`.
    pub async fn start() -> std::io::Result<Self> {
        let spans: Spans = Arc::default();
        let app = axum::Router::new().route("/v1/traces", post(receive)).with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, spans })
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The spans once `done` holds for them, or what there is after `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + within;
        loop {
            let now = self.spans();
            if done(&now) || Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(State(spans): State<Spans>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let json = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let request = if json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).map_err(|e| e.to_string())
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
    };
    let Ok(request) = request else {
        return (StatusCode::BAD_REQUEST, "not an OTLP trace export");
    };
    let mut got = Vec::new();
    for resource in request.resource_spans {
        let resource_attributes = resource.resource.map(|r| pairs(&r.attributes)).unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                got.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    name: span.name,
                    attributes: pairs(&span.attributes),
                    resource: resource_attributes.clone(),
                });
            }
        }
    }
    if let Ok(mut spans) = spans.lock() {
        spans.extend(got);
    }
    (StatusCode::OK, "")
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(AnyValue::StringValue(s)) => s,
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
