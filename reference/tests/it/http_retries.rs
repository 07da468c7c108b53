//! Property: for any sequence of 429/200 answers (random `Retry-After`), the HTTP tools invoker
//! POSTs at most `retries + 1` times and waits at most `cap × retries` in total.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use miniagent::ToolBackend;
use miniagent::ToolCall;
use miniagent::{HttpToolSettings, HttpTools};
use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

struct Sequence {
    answers: Vec<(u16, Option<String>)>,
    posts: Arc<AtomicUsize>,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.posts.fetch_add(1, Ordering::SeqCst);
        let (status, retry_after) = self.answers.get(i).cloned().unwrap_or((200, None));
        let mut t = ResponseTemplate::new(status).set_body_json(json!({"result": format!("answer {i}")}));
        if let Some(r) = retry_after {
            t = t.insert_header("Retry-After", r.as_str());
        }
        t
    }
}

fn answer() -> impl Strategy<Value = (u16, Option<String>)> {
    prop_oneof![
        Just((200u16, None)),
        Just((429u16, None)),
        (0u32..200).prop_map(|ms| (429u16, Some(format!("{:.3}", f64::from(ms) / 1000.0)))),
        Just((429u16, Some("garbage".to_owned()))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn posts_and_waits_are_bounded(answers in prop::collection::vec(answer(), 1..6), retries in 0u32..4) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let cap = Duration::from_millis(40);
        let (posts, took, result) = rt.block_on(async {
            let server = MockServer::start().await;
            let posts = Arc::new(AtomicUsize::new(0));
            Mock::given(method("POST")).respond_with(Sequence { answers: answers.clone(), posts: posts.clone() }).mount(&server).await;
            let settings = HttpToolSettings { retries_429: retries, retry_wait_cap: cap, ..HttpToolSettings::default() };
            let tools = HttpTools::new(&url::Url::parse(&server.uri()).unwrap(), &[], settings);
            let started = Instant::now();
            let result = tools.invoke(&ToolCall::new("c", "t", Value::String("{}".into()))).await.to_json();
            (posts.load(Ordering::SeqCst), started.elapsed(), result)
        });
        prop_assert!(posts <= retries as usize + 1, "{} POSTs with retries={}", posts, retries);
        let leading_429s = answers.iter().take_while(|(s, _)| *s == 429).count();
        prop_assert_eq!(posts, (leading_429s + 1).min(retries as usize + 1), "exactly one POST unless the answer is 429");
        // Request time on loopback is small; the waits themselves are bounded by cap × retries.
        prop_assert!(took <= cap * retries + Duration::from_millis(500), "took {:?}", took);
        let still_limited = leading_429s > retries as usize;
        prop_assert_eq!(result["ok"].as_bool(), Some(!still_limited), "{}", result);
        if still_limited {
            prop_assert!(result["error"].as_str().is_some_and(|e| e.starts_with("HTTP 429")), "{}", result);
        }
    }
}

#[test]
fn an_invocation_records_its_time_in_milliseconds() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t_ms, outer_ms) = rt.block_on(async {
        let server = MockServer::start().await;
        let slow =
            ResponseTemplate::new(200).set_body_json(json!({"result": "ok"})).set_delay(Duration::from_millis(300));
        Mock::given(method("POST")).respond_with(slow).mount(&server).await;
        let tools = HttpTools::new(&url::Url::parse(&server.uri()).unwrap(), &[], HttpToolSettings::default());
        let started = Instant::now();
        let result = tools.invoke(&ToolCall::new("c", "t", Value::String("{}".into()))).await;
        (result.t_ms, started.elapsed().as_secs_f64() * 1e3)
    });
    let t_ms = t_ms.expect("t_ms is recorded");
    assert!((300.0..=outer_ms).contains(&t_ms), "t_ms {t_ms} for a 300 ms answer within {outer_ms} ms");
}
