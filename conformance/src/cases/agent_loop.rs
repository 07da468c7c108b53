//! §2 The agent loop, driven through `POST /agent/run` with `tool_backend:"local"` and a scripted
//! provider (the suite's fake), so every behaviour is observable from outside.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, loop_body, tool_contents};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq, excerpt};
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;

const LOOP: &[Feature] = &[Feature::ProviderFake, Feature::LocalTools];

pub const CASES: &[Case] = &[
    Case::new(
        "loop.tool.output_is_the_answer",
        Profile::Core,
        Level::Recommended,
        "§2.8 every invocation ok with output → success",
        "a tool call whose output is the answer ends the run with that output",
        |ctx| Box::pin(tool_output_answer(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.tool.silent_then_answer",
        Profile::Core,
        Level::Recommended,
        "§2.9 repair; §2.6 success",
        "a tool that prints nothing gets the repair observation, then the model answers",
        |ctx| Box::pin(silent_then_answer(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.order.two_parallel",
        Profile::Core,
        Level::Recommended,
        "§2.7 tool messages in original call order",
        "two calls finishing in reverse order keep call order",
        |ctx| Box::pin(two_parallel(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.order.three_parallel",
        Profile::Core,
        Level::Recommended,
        "§2.7 tool messages in original call order",
        "three calls finishing in reverse order keep call order",
        |ctx| Box::pin(three_parallel(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.repair.after_failure",
        Profile::Core,
        Level::Recommended,
        "§2.9 repair observation",
        "a failing tool is fed back and the model's fix succeeds",
        |ctx| Box::pin(repair(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.codeblock.auto_run",
        Profile::Core,
        Level::Recommended,
        "§2.5 auto_codeblock_0",
        "the first fenced block of a tool-less reply runs as auto_codeblock_0",
        |ctx| Box::pin(auto_code(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.tool.unsupported",
        Profile::Core,
        Level::Recommended,
        "§2.4 unsupported tool",
        "a call to an unlisted tool gets `error: unsupported tool '<name>'` and is not run",
        |ctx| Box::pin(unsupported(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.tool.max_tools_per_iter",
        Profile::Core,
        Level::Recommended,
        "§2.7 the first max_tools_per_iter calls run",
        "calls beyond max_tools_per_iter are not run",
        |ctx| Box::pin(max_tools(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.reply.empty_nudge",
        Profile::Core,
        Level::Recommended,
        "§2.6 empty content → user nudge",
        "an empty reply gets a user nudge and the loop continues",
        |ctx| Box::pin(nudge(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.stop.max_iterations",
        Profile::Core,
        Level::Recommended,
        "§2 after the last iteration → max_iterations",
        "a run that never succeeds stops with max_iterations and a null answer",
        |ctx| Box::pin(max_iterations(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.stop.budget",
        Profile::Core,
        Level::Recommended,
        "§2.1 budget stop",
        "a slow model past max_total_seconds stops the run with budget",
        |ctx| Box::pin(budget(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.escalation.on_budget",
        Profile::Core,
        Level::Recommended,
        "§2 escalation: a budget stop becomes one call on escalate_model",
        "a budget stop escalates once",
        |ctx| Box::pin(escalate_budget(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.escalation.on_signal",
        Profile::Core,
        Level::Recommended,
        "§2.6 budget-exceeded content escalates the next call",
        "a reply saying the budget is exceeded escalates the next call",
        |ctx| Box::pin(escalate_signal(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.escalation.shortcircuit_chutes",
        Profile::Core,
        Level::Recommended,
        "§2 NDSMOKE_SHORTCIRCUIT_CHUTES",
        "an escalation to chutes/… is not sent under the short-circuit",
        |ctx| Box::pin(shortcircuit(ctx)),
    )
    .needs(&[Feature::ProviderFake, Feature::LocalTools, Feature::ShortcircuitChutes]),
    Case::new(
        "local.exec_shell.allowlist",
        Profile::Core,
        Level::Recommended,
        "§3 exec_shell: no shell, argv[0] allowlisted",
        "exec_shell refuses a non-allowlisted program and runs echo with literal arguments",
        |ctx| Box::pin(shell_allowlist(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "local.exec_python.timeout",
        Profile::Core,
        Level::Recommended,
        "§3 exec_python timeout",
        "a hanging exec_python fails with `timeout after Ns`",
        |ctx| Box::pin(python_timeout(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "local.text_tools",
        Profile::Core,
        Level::Recommended,
        "§3 research_echo, compress_runs",
        "research_echo and compress_runs answer as specified",
        |ctx| Box::pin(text_tools(ctx)),
    )
    .needs(LOOP),
];

fn call(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

fn py(code: &str) -> Value {
    call("exec_python", json!({"code": code}))
}

async fn run(ctx: &Ctx, script: Value, extra: Value) -> Result<Value, Failure> {
    let reply = ctx.post_json("/agent/run", &loop_body(&script, &extra)).await?;
    expect_status(&reply, 200, "POST /agent/run (local)")?;
    reply.json()
}

fn messages_with_role<'a>(env: &'a Value, role: &str) -> Vec<&'a Value> {
    env["messages"].as_array().into_iter().flatten().filter(|m| m["role"] == role).collect()
}

fn expect_stop(env: &Value, reason: &str, answer: Value) -> CaseResult {
    ensure_eq!(env["stopped_reason"], json!(reason), "stopped_reason (envelope: {})", excerpt(&env.to_string()));
    ensure_eq!(env["final_answer"], answer, "final_answer");
    Ok(())
}

async fn tool_output_answer(ctx: &Ctx) -> CaseResult {
    let env = run(ctx, json!([{"tool_calls": [py("print(6*7)")]}]), json!({})).await?;
    expect_stop(&env, "success", json!("42\n"))?;
    ensure_eq!(env["metrics"]["iterations"], json!(1), "iterations");
    ensure_eq!(tool_contents(&env), vec!["42\n".to_owned()], "tool messages");
    let inv = &env["last_tool_invocation"];
    ensure_eq!(
        (inv["tool_name"].clone(), inv["ok"].clone(), inv["rc"].clone()),
        (json!("exec_python"), json!(true), json!(0)),
        "last_tool_invocation"
    );
    let redacted = redact(
        &env,
        &[
            ("/metrics/ttotal_ms", Volatile::Millis),
            ("/last_tool_invocation/t_ms", Volatile::Millis),
            ("/messages/1/tool_calls/0/id", Volatile::Id),
            ("/messages/2/tool_call_id", Volatile::Id),
            ("/last_tool_invocation/tool_call_id", Volatile::Id),
        ],
    )?;
    ctx.snapshot("envelope_local_tool", &redacted)
}

async fn silent_then_answer(ctx: &Ctx) -> CaseResult {
    let env = run(
        ctx,
        json!([{"tool_calls": [py("x = 1")]}, {"content": "done after {tool_messages} tool message(s)"}]),
        json!({}),
    )
    .await?;
    expect_stop(&env, "success", json!("done after 1 tool message(s)"))?;
    ensure_eq!(env["metrics"]["iterations"], json!(2), "iterations");
    let observations = messages_with_role(&env, "assistant")
        .into_iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("Observation")))
        .count();
    ensure_eq!(observations, 1, "repair observations");
    ensure!(
        env.get("last_tool_invocation").is_none(),
        "the last iteration ran no tool, so no last_tool_invocation: {}",
        env["last_tool_invocation"]
    );
    Ok(())
}

/// `n` calls; call i sleeps longer the earlier it is, and prints its letter and finish time.
async fn parallel(ctx: &Ctx, n: usize) -> CaseResult {
    let letters = ["A", "B", "C"];
    let calls: Vec<Value> = (0..n)
        .map(|i| {
            py(&format!(
                "import time; time.sleep({:.2}); print('{}', time.time())",
                0.35 * (n - 1 - i) as f64,
                letters[i]
            ))
        })
        .collect();
    let env = run(ctx, json!([{"tool_calls": calls}]), json!({"tool_concurrency": n})).await?;
    ensure_eq!(env["stopped_reason"], json!("success"), "stopped_reason ({})", excerpt(&env.to_string()));
    let contents = tool_contents(&env);
    ensure_eq!(contents.len(), n, "tool messages");
    let mut finished = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        ensure!(c.starts_with(letters[i]), "tool message {i} should answer call {i} ({}), got {c:?}", letters[i]);
        finished.push(c.split_whitespace().nth(1).and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0));
    }
    ensure!(
        finished.windows(2).all(|w| w[0] > w[1]),
        "the calls should have finished in reverse order (ran concurrently): {finished:?}"
    );
    let ids: Vec<Value> = messages_with_role(&env, "tool").iter().map(|m| m["tool_call_id"].clone()).collect();
    let call_ids: Vec<Value> =
        env["messages"][1]["tool_calls"].as_array().into_iter().flatten().map(|c| c["id"].clone()).collect();
    ensure_eq!(ids, call_ids, "tool_call_id order");
    Ok(())
}

async fn two_parallel(ctx: &Ctx) -> CaseResult {
    parallel(ctx, 2).await
}

async fn three_parallel(ctx: &Ctx) -> CaseResult {
    parallel(ctx, 3).await
}

async fn repair(ctx: &Ctx) -> CaseResult {
    let env = run(
        ctx,
        json!([{"tool_calls": [py("raise SystemExit(3)")]}, {"tool_calls": [py("print('fixed')")]}]),
        json!({}),
    )
    .await?;
    expect_stop(&env, "success", json!("fixed\n"))?;
    let contents = tool_contents(&env);
    ensure!(
        contents.first().is_some_and(|c| c.starts_with("error: rc=3")),
        "the failed call's tool message should say why: {contents:?}"
    );
    let msgs = env["messages"].as_array().cloned().unwrap_or_default();
    let obs = msgs
        .iter()
        .position(|m| m["role"] == "assistant" && m["content"].as_str().is_some_and(|c| c.contains("Observation")));
    let first_tool = msgs.iter().position(|m| m["role"] == "tool");
    ensure!(
        matches!((first_tool, obs), (Some(t), Some(o)) if o == t + 1),
        "the observation should follow the failed tool message: {}",
        excerpt(&env.to_string())
    );
    let text = msgs[obs.unwrap_or(0)]["content"].as_str().unwrap_or_default();
    ensure!(
        text.chars().count() <= 1300,
        "the observation's preview should be bounded (≤ 1000 chars), got {}",
        text.chars().count()
    );
    Ok(())
}

async fn auto_code(ctx: &Ctx) -> CaseResult {
    let env = run(
        ctx,
        json!([{"content": "Here you go:\n```python\nprint('auto')\n```"}]),
        json!({"use_tools": false, "auto_run_code_on_code_block": true}),
    )
    .await?;
    expect_stop(&env, "success", json!("auto\n"))?;
    let tool = messages_with_role(&env, "tool");
    ensure_eq!(tool.first().map(|m| m["tool_call_id"].clone()), Some(json!("auto_codeblock_0")), "tool_call_id");
    ensure_eq!(
        env["last_tool_invocation"]["tool_call_id"],
        json!("auto_codeblock_0"),
        "last_tool_invocation.tool_call_id"
    );
    Ok(())
}

async fn unsupported(ctx: &Ctx) -> CaseResult {
    let env =
        run(ctx, json!([{"tool_calls": [call("rm_rf", json!({"path": "/"}))]}, {"content": "ok"}]), json!({})).await?;
    expect_stop(&env, "success", json!("ok"))?;
    ensure_eq!(tool_contents(&env), vec!["error: unsupported tool 'rm_rf'".to_owned()], "tool messages");
    Ok(())
}

async fn max_tools(ctx: &Ctx) -> CaseResult {
    let calls: Vec<Value> = ["a", "b", "c"].iter().map(|q| call("research_echo", json!({"query": q}))).collect();
    let env = run(ctx, json!([{"tool_calls": calls}]), json!({"max_tools_per_iter": 2})).await?;
    expect_stop(&env, "success", json!("echo: a\necho: b"))?;
    let contents = tool_contents(&env);
    ensure_eq!(contents.len(), 3, "every call is answered");
    ensure!(contents[2].starts_with("error:"), "the third call is not run: {:?}", contents[2]);
    Ok(())
}

async fn nudge(ctx: &Ctx) -> CaseResult {
    let env = run(ctx, json!([{"content": ""}, {"content": "after nudge"}]), json!({})).await?;
    expect_stop(&env, "success", json!("after nudge"))?;
    let users = messages_with_role(&env, "user");
    ensure_eq!(users.len(), 2, "the nudge is a user message");
    ensure_eq!(env["metrics"]["iterations"], json!(2), "iterations");
    Ok(())
}

async fn max_iterations(ctx: &Ctx) -> CaseResult {
    let failing = json!({"tool_calls": [py("raise SystemExit(1)")]});
    let env = run(ctx, json!([failing, failing, failing]), json!({"max_iterations": 2})).await?;
    expect_stop(&env, "max_iterations", Value::Null)?;
    ensure_eq!(env["metrics"]["iterations"], json!(2), "iterations");
    Ok(())
}

async fn budget(ctx: &Ctx) -> CaseResult {
    let env = run(ctx, json!([{"delay_ms": 3000, "content": "too late"}]), json!({"max_total_seconds": 0.3})).await?;
    expect_stop(&env, "budget", Value::Null)?;
    ensure!(
        env["metrics"]["ttotal_ms"].as_f64().is_some_and(|t| t < 2500.0),
        "the budget stop should not wait for the slow model: {}",
        env["metrics"]
    );
    ensure_eq!(env["metrics"]["escalated"], json!(false), "escalated");
    Ok(())
}

async fn escalate_budget(ctx: &Ctx) -> CaseResult {
    let script = json!({"turns": [{"delay_ms": 3000, "content": "too late"}], "by_model": {"big": {"content": "escalated by {model}"}}});
    let extra = json!({"max_total_seconds": 0.3, "escalate_on_budget_exceeded": true, "escalate_model": "openai/big"});
    let env = run(ctx, script, extra).await?;
    expect_stop(&env, "success", json!("escalated by big"))?;
    ensure_eq!(
        (env["metrics"]["escalated"].clone(), env["metrics"]["used_model"].clone()),
        (json!(true), json!("openai/big")),
        "metrics"
    );
    Ok(())
}

async fn escalate_signal(ctx: &Ctx) -> CaseResult {
    let script = json!({"turns": [{"content": "Sorry: my budget is exceeded."}], "by_model": {"big": {"content": "big answer"}}});
    let extra = json!({"escalate_on_budget_exceeded": true, "escalate_model": "openai/big"});
    let env = run(ctx, script, extra).await?;
    expect_stop(&env, "success", json!("big answer"))?;
    ensure_eq!(
        (env["metrics"]["escalated"].clone(), env["metrics"]["used_model"].clone()),
        (json!(true), json!("openai/big")),
        "metrics"
    );
    Ok(())
}

async fn shortcircuit(ctx: &Ctx) -> CaseResult {
    let extra =
        json!({"max_total_seconds": 0.3, "escalate_on_budget_exceeded": true, "escalate_model": "chutes/vendor/big"});
    let env = run(ctx, json!([{"delay_ms": 3000, "content": "too late"}]), extra).await?;
    expect_stop(&env, "success", json!(""))?;
    ensure_eq!(
        (env["metrics"]["escalated"].clone(), env["metrics"]["used_model"].clone()),
        (json!(true), json!("chutes/vendor/big")),
        "metrics"
    );
    Ok(())
}

async fn shell_allowlist(ctx: &Ctx) -> CaseResult {
    let calls =
        vec![call("exec_shell", json!({"cmd": "echoevil hi"})), call("exec_shell", json!({"cmd": "echo a; rm x"}))];
    let env = run(ctx, json!([{"tool_calls": calls}, {"content": "done"}]), json!({})).await?;
    ensure_eq!(
        tool_contents(&env),
        vec!["error: cmd prefix not allowed".to_owned(), "a; rm x\n".to_owned()],
        "tool messages"
    );
    expect_stop(&env, "success", json!("done"))
}

async fn python_timeout(ctx: &Ctx) -> CaseResult {
    let env =
        run(ctx, json!([{"tool_calls": [py("import time; time.sleep(120)")]}, {"content": "gave up"}]), json!({}))
            .await?;
    let contents = tool_contents(&env);
    let c = contents.first().cloned().unwrap_or_default();
    let secs =
        c.strip_prefix("error: timeout after ").and_then(|r| r.strip_suffix('s')).and_then(|n| n.parse::<f64>().ok());
    ensure!(secs.is_some(), "expected `error: timeout after Ns`, got {c:?}");
    expect_stop(&env, "success", json!("gave up"))
}

async fn text_tools(ctx: &Ctx) -> CaseResult {
    let calls = vec![call("research_echo", json!({"query": "rust"})), call("compress_runs", json!({"s": "aaabbc"}))];
    let env = run(ctx, json!([{"tool_calls": calls}]), json!({"tool_concurrency": 2})).await?;
    expect_stop(&env, "success", json!("echo: rust\na3b2c1"))
}
