//! §11 EXT The rest of the trust boundary seen from outside: slow clients (raw bytes on the target's
//! socket), outbound URLs from requests (`tool_http_base_url`, `tool_mcp_url`), and numbers out of
//! range.
//!
//! No case makes a target reach a metadata service: the refused addresses are TEST-NET
//! (192.0.2.1, never routed) or link-local on port 9, where no metadata service listens, and the
//! link-local case runs only once the target is known to check URLs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{detail, expect_detail, expect_not_echoed, run_body, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, excerpt};
use crate::features::{AUTH_KEY, Feature, SLOW_CLIENT_TIMEOUT_SECS};
use crate::socket::{Ending, send_partial};
use crate::target::Ctx;

const SLOW: &str = "§11 EXT Slow and abusive clients";
const OUTBOUND: &str = "§11 EXT Outbound URLs from requests";
const RANGES: &str = "§11 EXT Numbers out of range → 422 naming the field";

pub const CASES: &[Case] = &[
    Case::new(
        "slow.header.half_sent_is_closed",
        Profile::Extended,
        Level::Recommended,
        SLOW,
        "half a request head is closed (or answered 408) within the header timeout + 2 s; the next request works",
        |ctx| Box::pin(half_head(ctx)),
    )
    .needs(&[Feature::SlowClients]),
    Case::new(
        "slow.body.half_sent_is_408",
        Profile::Extended,
        Level::Recommended,
        SLOW,
        "a request whose body stops halfway is answered 408 (or closed) within the body timeout + 2 s",
        |ctx| Box::pin(half_body(ctx)),
    )
    .needs(&[Feature::SlowClients]),
    Case::new(
        "slow.others_still_served",
        Profile::Extended,
        Level::Recommended,
        SLOW,
        "while a slow client holds a connection, a complete request is answered at once",
        |ctx| Box::pin(others_served(ctx)),
    )
    .needs(&[Feature::SlowClients]),
    Case::new(
        "outbound.http.not_allowed_is_400",
        Profile::Extended,
        Level::Recommended,
        OUTBOUND,
        "a `tool_http_base_url` outside the allowlist answers 400 naming the field and MINI_AGENT_TOOL_URL_ALLOW",
        |ctx| {
            Box::pin(refused(ctx, "http", "http://192.0.2.1:9/", &["tool_http_base_url", "MINI_AGENT_TOOL_URL_ALLOW"]))
        },
    )
    .needs(&[Feature::UrlAllowlist]),
    Case::new(
        "outbound.metadata.always_refused",
        Profile::Extended,
        Level::Recommended,
        OUTBOUND,
        "a link-local (metadata) `tool_http_base_url` answers 400, even where MINI_AGENT_TOOL_URL_ALLOW names it",
        |ctx| Box::pin(refused(ctx, "http", "http://169.254.169.254:9/latest/meta-data/", &["tool_http_base_url"])),
    )
    .needs(&[Feature::UrlAllowlist]),
    Case::new(
        "outbound.mcp.not_allowed_is_400",
        Profile::Extended,
        Level::Recommended,
        OUTBOUND,
        "a `tool_mcp_url` outside the allowlist answers 400 naming the field and MINI_AGENT_TOOL_URL_ALLOW",
        |ctx| Box::pin(refused(ctx, "mcp", "http://192.0.2.1:9/mcp", &["tool_mcp_url", "MINI_AGENT_TOOL_URL_ALLOW"])),
    )
    .needs(&[Feature::UrlAllowlist]),
    Case::new(
        "outbound.credentials.not_echoed",
        Profile::Extended,
        Level::Recommended,
        OUTBOUND,
        "credentials in a refused URL never appear in the error",
        |ctx| Box::pin(credentials(ctx)),
    )
    .needs(&[Feature::UrlAllowlist]),
    Case::new(
        "limits.max_total_seconds.out_of_range",
        Profile::Extended,
        Level::Recommended,
        RANGES,
        "`max_total_seconds: 1e308` answers 422 naming the field",
        |ctx| Box::pin(out_of_range(ctx, "max_total_seconds", json!(1e308))),
    )
    .needs(&[Feature::Dummy]),
    Case::new(
        "limits.max_iterations.out_of_range",
        Profile::Extended,
        Level::Recommended,
        RANGES,
        "`max_iterations: 100000000` answers 422 naming the field",
        |ctx| Box::pin(out_of_range(ctx, "max_iterations", json!(100_000_000))),
    )
    .needs(&[Feature::Dummy]),
    Case::new(
        "limits.max_tools_per_iter.out_of_range",
        Profile::Extended,
        Level::Recommended,
        RANGES,
        "`max_tools_per_iter: 1000000` answers 422 naming the field",
        |ctx| Box::pin(out_of_range(ctx, "max_tools_per_iter", json!(1_000_000))),
    )
    .needs(&[Feature::Dummy]),
];

/// How long a slow client may be left waiting: the feature's timeout, plus 2 s of slack.
fn slow_limit() -> Duration {
    Duration::from_secs(SLOW_CLIENT_TIMEOUT_SECS + 2)
}

/// A request head up to (not including) its blank line, with the suite's key.
fn head(ctx: &Ctx, extra: &str) -> Result<String, Failure> {
    let addr = ctx.socket()?;
    Ok(format!("POST /agent/run HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {AUTH_KEY}\r\n{extra}"))
}

/// The end of a slow connection must be a close or a 408, in time; then the target still serves.
async fn expect_ended(ctx: &Ctx, sent: &str, what: &str) -> CaseResult {
    let ending = send_partial(ctx.socket()?, sent.as_bytes(), slow_limit()).await?;
    match ending {
        Ending::Closed { .. } | Ending::Answered { status: 408, .. } => {}
        Ending::Open => {
            return Err(Failure::failed(format!(
                "{what}: the target kept the connection open for {} s (header/body timeouts of {SLOW_CLIENT_TIMEOUT_SECS} s \
                 + 2 s)",
                slow_limit().as_secs()
            )));
        }
        other => {
            return Err(Failure::failed(format!("{what}: expected a 408 or a close, the target {}", other.describe())));
        }
    }
    let reply = ctx.get("/ready").await?;
    ensure!(reply.status == 200, "after {what}, GET /ready answered {}: {}", reply.status, excerpt(&reply.text()));
    Ok(())
}

async fn half_head(ctx: &Ctx) -> CaseResult {
    expect_ended(ctx, &head(ctx, "Content-Type: application/js")?, "half a request head").await
}

async fn half_body(ctx: &Ctx) -> CaseResult {
    let body = run_body("echo", "a body that never ends").to_string();
    let half = &body[..body.len() / 2];
    let sent =
        format!("{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{half}", head(ctx, "")?, body.len());
    expect_ended(ctx, &sent, "half a request body").await
}

async fn others_served(ctx: &Ctx) -> CaseResult {
    let (addr, half) = (ctx.socket()?, head(ctx, "X-Conformance: slow")?);
    let other = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        (ctx.get("/ready").await, started.elapsed())
    };
    let (ending, (reply, took)) = tokio::join!(send_partial(addr, half.as_bytes(), slow_limit()), other);
    let reply = reply?;
    ensure!(
        reply.status == 200,
        "GET /ready beside a slow client answered {}: {}",
        reply.status,
        excerpt(&reply.text())
    );
    ensure!(
        took < Duration::from_secs(SLOW_CLIENT_TIMEOUT_SECS),
        "GET /ready beside a slow client took {:.1} s: it waited for the slow one",
        took.as_secs_f64()
    );
    ending.map(|_| ())
}

/// An `/agent/run` on `backend` whose tool server URL is `url`: 400 whose detail names `needles`.
async fn refused(ctx: &Ctx, backend: &str, url: &str, needles: &[&str]) -> CaseResult {
    let mut body = run_body(backend, "hi");
    body[if backend == "mcp" { "tool_mcp_url" } else { "tool_http_base_url" }] = json!(url);
    let reply = ctx.post_json("/agent/run", &body).await?;
    if backend == "mcp"
        && reply.status == 400
        && detail(&reply).is_ok_and(|d| d.contains("tool_backend") && !d.contains("tool_mcp_url"))
    {
        return Err(Failure::unsupported(format!("it refuses tool_backend mcp: {}", excerpt(&reply.text()))));
    }
    expect_detail(&reply, Some(400), needles, &format!("{backend} tools at {url}"))
}

async fn credentials(ctx: &Ctx) -> CaseResult {
    let password = format!("s3cret-{}", uuid_like());
    let mut body = run_body("http", "hi");
    body["tool_http_base_url"] = json!(format!("http://conf-user:{password}@192.0.2.1:9/"));
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_detail(&reply, Some(400), &["tool_http_base_url"], "a refused URL with credentials")?;
    expect_not_echoed(&reply, &[&password], "a refused URL with credentials")
}

/// `field: value` on an echo run: 422 naming the field. A target that runs it lacks the range
/// check (skipped); one that refuses even the same request without the field cannot show it.
async fn out_of_range(ctx: &Ctx, field: &str, value: Value) -> CaseResult {
    let mut body = run_body("echo", "hi");
    body[field] = value.clone();
    let what = format!("`{field}: {value}`");
    let reply = tokio::time::timeout(Duration::from_secs(30), ctx.post_json("/agent/run", &body))
        .await
        .map_err(|_| Failure::failed(format!("{what}: no answer within 30 s")))??;
    match reply.status {
        422 => expect_detail(&reply, Some(422), &[field], &what),
        200..=299 => Err(Failure::unsupported(format!("{what} is accepted (HTTP {}): no range check", reply.status))),
        400..=499 => {
            let control = ctx.post_json("/agent/run", &run_body("echo", "hi")).await?;
            if (400..500).contains(&control.status) {
                return Err(Failure::unsupported(format!(
                    "the same request without `{field}` is refused too (HTTP {}), so the range check cannot be seen",
                    control.status
                )));
            }
            Err(Failure::failed(format!(
                "{what}: expected 422 naming the field, got {}: {}",
                reply.status,
                excerpt(&reply.text())
            )))
        }
        _ => Err(Failure::failed(format!("{what}: HTTP {}: {}", reply.status, excerpt(&reply.text())))),
    }
}
