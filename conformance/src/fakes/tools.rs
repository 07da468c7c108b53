//! A fake HTTP tools server (wiremock) for §4: `GET …/tools` and `POST …/invoke` under several
//! bases, each with one behaviour, and every request recorded so cases can count and inspect them.
//!
//! Bases (append to [`ToolsFake::uri`]): `/ok` lists [`TOOLS`] as an array, `/wrapped` as
//! `{"tools":[…]}`, `/broken` answers 500 to `/tools`, `/nonjson` lists plain text. `/invoke`
//! dispatches on the tool name:
//! - `echo {text}` → `{"text": text}`; `json_only {value}` → `{"value": value}`;
//!   `plain {text}` → text/plain; `fail500` → 500 with a long body;
//! - `limited {nonce, times, retry_after}` → 429 (with `Retry-After: <retry_after>`; `"date"` sends
//!   an HTTP date one second ahead) for the first `times` calls per nonce, then `{"result": …}`.
//!
//! Requests are told apart by the `X-Conformance-Nonce` header each case sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The nonce header every §4 case sends.
pub const NONCE_HEADER: &str = "X-Conformance-Nonce";

fn def(name: &str, props: Value) -> Value {
    json!({"type": "function", "function": {"name": name, "description": format!("conformance tool {name}"),
        "parameters": {"type": "object", "properties": props}}})
}

/// The tools every base lists.
pub fn tools() -> Vec<Value> {
    let text = json!({"text": {"type": "string"}});
    vec![
        def("echo", text.clone()),
        def("json_only", json!({"value": {}})),
        def("plain", text),
        def("fail500", json!({})),
        def(
            "limited",
            json!({"nonce": {"type": "string"}, "times": {"type": "integer"}, "retry_after": {"type": "string"}}),
        ),
    ]
}

pub struct ToolsFake {
    server: MockServer,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lowercased (wiremock normalises them), values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

impl ToolsFake {
    pub async fn start(addr: Option<SocketAddr>) -> std::io::Result<Self> {
        let server = match addr {
            Some(addr) => MockServer::builder().listener(std::net::TcpListener::bind(addr)?).start().await,
            None => MockServer::start().await,
        };
        Mock::given(method("GET"))
            .and(path("/ok/tools"))
            .respond_with(ResponseTemplate::new(200).set_body_json(tools()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/wrapped/tools"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tools": tools()})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/broken/tools"))
            .respond_with(
                ResponseTemplate::new(500).set_body_string(format!("tools listing exploded {}", "y".repeat(400))),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/nonjson/tools"))
            .respond_with(ResponseTemplate::new(200).set_body_string("these are not tools"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/[a-z]+/invoke$"))
            .respond_with(Invoke::default())
            .mount(&server)
            .await;
        Ok(Self { server })
    }

    /// The server root; a case appends a base such as `/ok`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// Requests that carried `nonce` in [`NONCE_HEADER`], in arrival order.
    pub async fn seen(&self, nonce: &str) -> Vec<Seen> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok()) == Some(nonce))
            .map(|r| Seen {
                method: r.method.to_string(),
                path: r.url.path().to_owned(),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect(),
                body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            })
            .collect()
    }
}

#[derive(Default)]
struct Invoke {
    /// 429s already given per nonce.
    limited: Mutex<HashMap<String, u64>>,
}

impl Respond for Invoke {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_json(json!({"ok": false, "error": "body is not JSON"}));
        };
        let args: Value = match body.get("arguments") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let text = args.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
        match body.get("name").and_then(Value::as_str).unwrap_or_default() {
            "echo" => ResponseTemplate::new(200).set_body_json(json!({"text": text})),
            "json_only" => ResponseTemplate::new(200)
                .set_body_json(json!({"value": args.get("value").cloned().unwrap_or(Value::Null)})),
            "plain" => ResponseTemplate::new(200).set_body_raw(text.into_bytes(), "text/plain"),
            "fail500" => {
                ResponseTemplate::new(500).set_body_string(format!("tools server exploded {}", "z".repeat(600)))
            }
            "limited" => {
                let nonce = args.get("nonce").and_then(Value::as_str).unwrap_or_default().to_owned();
                let times = args.get("times").and_then(Value::as_u64).unwrap_or(1);
                let given = {
                    let mut map = self.limited.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let n = map.entry(nonce).or_insert(0);
                    let given = *n;
                    if given < times {
                        *n += 1;
                    }
                    given
                };
                if given < times {
                    let retry_after = match args.get("retry_after").and_then(Value::as_str).unwrap_or("0") {
                        "date" => httpdate_in(Duration::from_secs(1)),
                        other => other.to_owned(),
                    };
                    ResponseTemplate::new(429)
                        .insert_header("Retry-After", retry_after.as_str())
                        .set_body_string("slow down")
                } else {
                    ResponseTemplate::new(200).set_body_json(json!({"result": format!("ok after {given} 429s")}))
                }
            }
            other => {
                ResponseTemplate::new(404).set_body_json(json!({"ok": false, "error": format!("unknown tool {other}")}))
            }
        }
    }
}

/// An HTTP date `ahead` from now.
fn httpdate_in(ahead: Duration) -> String {
    httpdate::fmt_http_date(SystemTime::now() + ahead)
}
