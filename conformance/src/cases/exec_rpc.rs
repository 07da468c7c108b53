//! §7 The exec-RPC server: health, meta, snippets in real languages, errors and timeouts.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::expect_status;
use crate::failure::{CaseResult, ensure, ensure_eq, excerpt};
use crate::features::Feature;
use crate::target::Ctx;

const NEEDS: &[Feature] = &[Feature::ExecRpc];

pub const CASES: &[Case] = &[
    Case::new(
        "exec_rpc.health",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "GET /health answers {\"ok\":true}",
        |ctx| Box::pin(health(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.meta",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "GET /__meta answers git_sha and started_at",
        |ctx| Box::pin(meta(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.python",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "a Python snippet runs: ok, rc 0, stdout, in the contract's key set",
        |ctx| Box::pin(python(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.c",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "a C snippet is compiled and run",
        |ctx| Box::pin(c(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.failure_is_a_result",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "a failing snippet is ok:false with rc and stderr, not an HTTP error",
        |ctx| Box::pin(failing(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.unsupported_language",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "an unknown language is 400 {\"detail\":\"unsupported language: X\"}",
        |ctx| Box::pin(unsupported(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "exec_rpc.timeout",
        Profile::Core,
        Level::Recommended,
        "§7 Exec RPC",
        "a snippet past timeout_sec is killed: ok:false with a timeout error",
        |ctx| Box::pin(timeout(ctx)),
    )
    .needs(NEEDS),
];

async fn exec(ctx: &Ctx, body: Value) -> Result<Value, crate::failure::Failure> {
    let reply = ctx.exec_rpc("POST", "/exec", Some(&body)).await?;
    expect_status(&reply, 200, "POST /exec")?;
    reply.json()
}

async fn health(ctx: &Ctx) -> CaseResult {
    let reply = ctx.exec_rpc("GET", "/health", None).await?;
    expect_status(&reply, 200, "GET /health")?;
    ensure_eq!(reply.json()?, json!({"ok": true}), "body");
    Ok(())
}

async fn meta(ctx: &Ctx) -> CaseResult {
    let reply = ctx.exec_rpc("GET", "/__meta", None).await?;
    expect_status(&reply, 200, "GET /__meta")?;
    let v = reply.json()?;
    ensure!(v.get("git_sha").is_some_and(Value::is_string), "git_sha must be a string: {v}");
    ensure!(v.get("started_at").is_some_and(Value::is_number), "started_at must be a number: {v}");
    Ok(())
}

async fn python(ctx: &Ctx) -> CaseResult {
    let v = exec(ctx, json!({"language": "python", "code": "print(6*7)"})).await?;
    ensure_eq!(
        (v["ok"].clone(), v["rc"].clone(), v["stdout"].clone()),
        (json!(true), json!(0), json!("42\n")),
        "result ({})",
        excerpt(&v.to_string())
    );
    for key in ["ok", "rc", "stdout", "stderr", "error", "t_ms"] {
        ensure!(v.get(key).is_some(), "`{key}` is missing: {v}");
    }
    Ok(())
}

async fn c(ctx: &Ctx) -> CaseResult {
    let v = exec(
        ctx,
        json!({"language": "c", "code": "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 6*7);return 0;}"}),
    )
    .await?;
    ensure_eq!(v["stdout"], json!("42\n"), "stdout ({})", excerpt(&v.to_string()));
    Ok(())
}

async fn failing(ctx: &Ctx) -> CaseResult {
    let v = exec(ctx, json!({"language": "py", "code": "import sys; sys.stderr.write('bad'); sys.exit(3)"})).await?;
    ensure_eq!((v["ok"].clone(), v["rc"].clone()), (json!(false), json!(3)), "result ({})", excerpt(&v.to_string()));
    ensure!(v["stderr"].as_str().is_some_and(|s| s.contains("bad")), "stderr: {v}");
    Ok(())
}

async fn unsupported(ctx: &Ctx) -> CaseResult {
    let reply = ctx.exec_rpc("POST", "/exec", Some(&json!({"language": "cobol", "code": "x"}))).await?;
    expect_status(&reply, 400, "unsupported language")?;
    ensure_eq!(reply.json()?, json!({"detail": "unsupported language: cobol"}), "body");
    Ok(())
}

async fn timeout(ctx: &Ctx) -> CaseResult {
    let started = std::time::Instant::now();
    let v = exec(ctx, json!({"language": "python", "code": "import time; time.sleep(60)", "timeout_sec": 1})).await?;
    ensure_eq!(v["ok"], json!(false), "ok ({})", excerpt(&v.to_string()));
    ensure!(v["error"].as_str().is_some_and(|e| e.contains("timeout")), "error should say timeout: {v}");
    ensure!(started.elapsed().as_secs() < 20, "a 1 s timeout took {:?}", started.elapsed());
    Ok(())
}
