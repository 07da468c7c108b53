//! The `auto-…` model speaking the Responses API, for gateways that pass `/v1/responses` through
//! to the provider (CONTRACT §1, pass-through): the request is read as the chat request it amounts
//! to (`input` as messages, function tools, `text.format`), the turn is the one `auto_model` would
//! give, and it is answered as a Response — JSON, or the Responses event stream with named events
//! and no `[DONE]`. Every tool type OpenAI's `/responses` takes is accepted: a `namespace`'s
//! functions, a `custom` tool (a function of `{"input": string}`), `local_shell` and `shell` are
//! offered to the turn as functions and its call comes back as their own item (`function_call` with
//! `namespace`, `custom_tool_call` with `input`, `local_shell_call`, `shell_call`); hosted tools are
//! ignored (the fake runs none), so a client that offers them gets the same answers as one that does
//! not. A model name containing `err400` or `err429` answers that status as `auto_model` does.

use serde_json::{Value, json};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

use super::auto_model::{Turn, model_of, split, text_of, turn, usage};
use super::upstream_reply::{Reply, render};

pub(crate) async fn mount(server: &MockServer) {
    Mock::given(wiremock::matchers::method("POST")).and(Auto).respond_with(Auto).with_priority(2).mount(server).await;
}

/// A Responses request (`…/responses`) for an `auto-…` model.
struct Auto;

impl Match for Auto {
    fn matches(&self, request: &Request) -> bool {
        request.url.path().ends_with("/responses") && model_of(request).is_some_and(|m| m.starts_with("auto-"))
    }
}

impl Respond for Auto {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        render(&answer(&serde_json::from_slice(&request.body).unwrap_or(Value::Null)))
    }
}

/// The answer to a Responses request.
pub fn answer(body: &Value) -> Reply {
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.contains("err400") || model.contains("err429") {
        return super::auto_model::answer("/responses", body);
    }
    let (chat, offered) = as_chat(body);
    let turn = turn(&chat);
    let out = item(&turn, &offered, "completed");
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        Reply::responses_events(events(model, &turn, &out))
    } else {
        Reply::json(response(model, Some(&out)))
    }
}

/// What a function offered to the turn stands for in the Responses request.
enum Offered {
    Function,
    /// A function of the namespace (its name, the function's own name).
    InNamespace(String, String),
    Custom,
    LocalShell,
    Shell,
}

/// The tools of a Responses request as chat functions, each with what it stands for.
fn functions(tools: &[Value]) -> Vec<(Value, Offered)> {
    let function = |name: &Value, parameters: Value| json!({"type": "function", "function": {"name": name, "parameters": parameters}});
    let mut out = Vec::new();
    for t in tools {
        match t["type"].as_str() {
            Some("function") => out.push((function(&t["name"], t["parameters"].clone()), Offered::Function)),
            Some("namespace") => {
                let ns = t["name"].as_str().unwrap_or_default();
                for f in t["tools"].as_array().into_iter().flatten().filter(|f| f["type"] == "function") {
                    let inner = f["name"].as_str().unwrap_or_default();
                    let flat = json!(format!("{ns}__{inner}"));
                    out.push((
                        function(&flat, f["parameters"].clone()),
                        Offered::InNamespace(ns.to_owned(), inner.to_owned()),
                    ));
                }
            }
            Some("custom") => out.push((
                function(
                    &t["name"],
                    json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}),
                ),
                Offered::Custom,
            )),
            Some("local_shell") => out.push((
                function(
                    &json!("local_shell"),
                    json!({"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}),
                ),
                Offered::LocalShell,
            )),
            Some("shell") => out.push((
                function(
                    &json!("shell"),
                    json!({"type": "object", "properties": {"commands": {"type": "array", "items": {"type": "string"}}}}),
                ),
                Offered::Shell,
            )),
            _ => {}
        }
    }
    out
}

/// The chat request a Responses request amounts to, as far as the turn depends on it, and what each
/// of its functions stands for by name.
fn as_chat(body: &Value) -> (Value, Vec<(String, Offered)>) {
    let mut messages = Vec::new();
    match body.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                let kind = item.get("type").and_then(Value::as_str).unwrap_or("message");
                if kind.ends_with("_output") {
                    messages.push(json!({"role": "tool", "content": text_of(&item["output"])}));
                } else if kind == "message" {
                    messages.push(json!({"role": item["role"], "content": text_of(&item["content"])}));
                } else if kind.ends_with("_call") {
                    messages.push(json!({"role": "assistant", "content": null}));
                }
            }
        }
        _ => {}
    }
    let offered = functions(body.get("tools").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default());
    let tools: Vec<&Value> = offered.iter().map(|(f, _)| f).collect();
    let mut chat = json!({"messages": messages, "tools": tools});
    if let Some(format) = body.pointer("/text/format").filter(|f| f["type"] == "json_schema") {
        chat["response_format"] = json!({"type": "json_schema", "json_schema": {"schema": format["schema"]}});
    }
    let names =
        offered.into_iter().map(|(f, o)| (f["function"]["name"].as_str().unwrap_or_default().to_owned(), o)).collect();
    (chat, names)
}

fn responses_usage() -> Value {
    let u = usage();
    json!({
        "input_tokens": u["prompt_tokens"], "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": u["completion_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u["total_tokens"],
    })
}

/// The output item of a turn: a message, or the call as the item of the tool it calls.
fn item(turn: &Turn, offered: &[(String, Offered)], status: &str) -> Value {
    let (name, arguments) = match turn {
        Turn::Text(text) => {
            return json!({"id": "msg_auto", "type": "message", "status": status, "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]});
        }
        Turn::Call { name, arguments } => (name, arguments),
    };
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let call = |id: &str, kind: &str| json!({"id": id, "type": kind, "status": status, "call_id": "call_auto_1"});
    let mut out = match offered.iter().find(|(n, _)| n == name).map(|(_, o)| o) {
        Some(Offered::Custom) => {
            let mut c = call("ctc_auto", "custom_tool_call");
            c["name"] = json!(name);
            c["input"] = args["input"].clone();
            c
        }
        Some(Offered::LocalShell) => {
            let mut c = call("lsh_auto", "local_shell_call");
            c["action"] = json!({"type": "exec", "command": args["command"], "env": {}});
            c
        }
        Some(Offered::Shell) => {
            let mut c = call("sh_auto", "shell_call");
            c["action"] = json!({"commands": args["commands"]});
            c
        }
        Some(Offered::InNamespace(ns, inner)) => {
            let mut c = call("fc_auto", "function_call");
            c["namespace"] = json!(ns);
            c["name"] = json!(inner);
            c["arguments"] = json!(arguments);
            c
        }
        Some(Offered::Function) | None => {
            let mut c = call("fc_auto", "function_call");
            c["name"] = json!(name);
            c["arguments"] = json!(arguments);
            c
        }
    };
    out["status"] = json!(status);
    out
}

/// The Response: completed with its one item, or (`None`) in progress.
fn response(model: &str, done: Option<&Value>) -> Value {
    let status = if done.is_some() { "completed" } else { "in_progress" };
    json!({
        "id": "resp_auto", "object": "response", "created_at": 1_700_000_000, "status": status, "model": model,
        "output": done.map_or(json!([]), |item| json!([item])),
        "usage": if done.is_some() { responses_usage() } else { Value::Null },
    })
}

/// The event stream of one answer (`done` its completed item), with sequence numbers.
fn events(model: &str, turn: &Turn, done: &Value) -> Vec<Value> {
    let mut out = vec![
        json!({"type": "response.created", "response": response(model, None)}),
        json!({"type": "response.in_progress", "response": response(model, None)}),
    ];
    out.extend(item_events(0, turn, done));
    out.push(json!({"type": "response.completed", "response": response(model, Some(done))}));
    numbered(out)
}

fn numbered(mut out: Vec<Value>) -> Vec<Value> {
    for (n, e) in out.iter_mut().enumerate() {
        e["sequence_number"] = json!(n);
    }
    out
}

/// The events of one output item at `index`: added, its deltas, done.
fn item_events(index: usize, turn: &Turn, done: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut added = done.clone();
    added["status"] = json!("in_progress");
    let at = json!({"item_id": added["id"], "output_index": index});
    let with = |mut v: Value, kind: &str| {
        v["type"] = json!(kind);
        v
    };
    match turn {
        Turn::Text(text) => {
            added["content"] = json!([]);
            out.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            let mut p = with(at.clone(), "response.content_part.added");
            p["content_index"] = json!(0);
            p["part"] = part;
            out.push(p);
            let (a, b) = split(text);
            for piece in [a, b] {
                let mut d = with(at.clone(), "response.output_text.delta");
                d["content_index"] = json!(0);
                d["delta"] = json!(piece);
                out.push(d);
            }
            let mut d = with(at, "response.output_text.done");
            d["content_index"] = json!(0);
            d["text"] = json!(text);
            out.push(d);
        }
        Turn::Call { .. } if done["type"] != "function_call" => {
            // A custom or shell call: added and done, whole (no argument deltas).
            out.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
        }
        Turn::Call { arguments, .. } => {
            added["arguments"] = json!("");
            out.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
            let (a, b) = split(arguments);
            for piece in [a, b] {
                let mut d = with(at.clone(), "response.function_call_arguments.delta");
                d["delta"] = json!(piece);
                out.push(d);
            }
            let mut d = with(at, "response.function_call_arguments.done");
            d["arguments"] = json!(arguments);
            out.push(d);
        }
    }
    out.push(json!({"type": "response.output_item.done", "output_index": index, "item": done}));
    out
}

/// A scripted chat-completion answer (`openai_upstream`) as the provider's `/responses` would give
/// it, for a gateway that passes `/v1/responses` through: a `chat.completion` body becomes a
/// Response, a stream of `chat.completion.chunk`s the Responses event stream (a stream cut without
/// `[DONE]` stops before `response.completed`). Anything else — errors, bodies already in the
/// Responses shape, streams that are not chunks — is sent as scripted.
pub fn from_chat(reply: Reply) -> Reply {
    if reply.status != 200 {
        return reply;
    }
    if let Some(body) = reply.body.as_ref().filter(|b| b["object"] == "chat.completion") {
        let model = body["model"].as_str().unwrap_or_default();
        let message = &body["choices"][0]["message"];
        let calls = message["tool_calls"].as_array().cloned().unwrap_or_default();
        let output: Vec<Value> = outputs(message, &calls).into_iter().map(|(_, item)| item).collect();
        return Reply { body: Some(response_of(model, &output, &body["usage"])), ..reply };
    }
    let Some(chunks) =
        reply.events.as_ref().filter(|e| !e.is_empty() && e.iter().all(|c| c["object"] == "chat.completion.chunk"))
    else {
        return reply;
    };
    // The chunks gathered into one message.
    let (mut text, mut reasoning, mut usage, mut model) = (String::new(), String::new(), Value::Null, String::new());
    let mut calls: Vec<Value> = Vec::new();
    for c in chunks {
        model = c["model"].as_str().unwrap_or_default().to_owned();
        if c["usage"].is_object() {
            usage = c["usage"].clone();
        }
        let delta = &c["choices"][0]["delta"];
        text.push_str(delta["content"].as_str().unwrap_or_default());
        reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or_default());
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = usize::try_from(tc["index"].as_u64().unwrap_or(0)).unwrap_or(0);
            while calls.len() <= i {
                calls.push(json!({"id": "", "function": {"name": "", "arguments": ""}}));
            }
            let call = &mut calls[i];
            if let Some(id) = tc["id"].as_str() {
                call["id"] = json!(id);
            }
            for key in ["name", "arguments"] {
                let piece = tc["function"][key].as_str().unwrap_or_default();
                let whole = format!("{}{piece}", call["function"][key].as_str().unwrap_or_default());
                call["function"][key] = json!(whole);
            }
        }
    }
    let mut message = json!({"content": text});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    let items = outputs(&message, &calls);
    let mut out = vec![
        json!({"type": "response.created", "response": response(&model, None)}),
        json!({"type": "response.in_progress", "response": response(&model, None)}),
    ];
    for (i, (turn, item)) in items.iter().enumerate() {
        match turn {
            Some(turn) => out.extend(item_events(i, turn, item)),
            None => {
                out.push(json!({"type": "response.output_item.added", "output_index": i, "item": item}));
                out.push(json!({"type": "response.output_item.done", "output_index": i, "item": item}));
            }
        }
    }
    if reply.done {
        let output: Vec<Value> = items.into_iter().map(|(_, item)| item).collect();
        out.push(json!({"type": "response.completed", "response": response_of(&model, &output, &usage)}));
    } else {
        // Cut: the provider's stream stopped before its last item was done.
        out.retain(|e| e["type"] != "response.output_item.done");
    }
    Reply::responses_events(numbered(out))
}

/// The output items of a chat message: its reasoning (`None`: sent whole), its text, its calls.
fn outputs(message: &Value, calls: &[Value]) -> Vec<(Option<Turn>, Value)> {
    let mut out = Vec::new();
    if let Some(r) = message["reasoning_content"].as_str().filter(|r| !r.is_empty()) {
        out.push((
            None,
            json!({"id": "rs_up", "type": "reasoning", "summary": [],
                "content": [{"type": "reasoning_text", "text": r}], "encrypted_content": format!("fake-encrypted:{r}")}),
        ));
    }
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        let turn = Turn::Text(text.to_owned());
        let it = item(&turn, &[], "completed");
        out.push((Some(turn), it));
    }
    for (i, c) in calls.iter().enumerate() {
        let turn = Turn::Call {
            name: c["function"]["name"].as_str().unwrap_or_default().to_owned(),
            arguments: c["function"]["arguments"].as_str().unwrap_or_default().to_owned(),
        };
        let mut it = item(&turn, &[], "completed");
        it["id"] = json!(format!("fc_up_{i}"));
        it["call_id"] = c["id"].clone();
        out.push((Some(turn), it));
    }
    out
}

/// A completed Response with `output` and the chat `usage` in the Responses shape.
fn response_of(model: &str, output: &[Value], usage: &Value) -> Value {
    let mut r = response(model, None);
    r["status"] = json!("completed");
    r["output"] = json!(output);
    r["usage"] = json!({
        "input_tokens": usage["prompt_tokens"], "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage["completion_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage["total_tokens"],
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responses_request_gets_the_auto_turn_in_the_responses_shape() {
        let tools = json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "web_search"}]);
        let ask = json!({"model": "auto-codex", "tools": tools, "stream": true,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run `echo 42`"}]}]});
        let events = answer(&ask).events.unwrap_or_default();
        let done = events.last().cloned().unwrap_or_default();
        assert_eq!(done["type"], "response.completed");
        assert_eq!(done["response"]["output"][0]["arguments"], r#"{"cmd":"echo 42"}"#);
        let after = json!({"model": "auto-codex", "tools": tools, "input": [
            {"type": "message", "role": "user", "content": "run `echo 42`"},
            {"type": "function_call", "call_id": "call_auto_1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_auto_1", "output": "42\n"}]});
        let body = answer(&after).body.unwrap_or_default();
        assert_eq!(body["output"][0]["content"][0]["text"], "Final answer: 42\n");
        assert_eq!(body["usage"]["total_tokens"], 15);
    }

    fn first_item(body: &Value) -> Value {
        answer(body).body.unwrap_or_default()["output"][0].clone()
    }

    #[test]
    fn every_tool_type_is_accepted_and_its_call_comes_back_as_its_own_item() {
        let ask = |tools: Value, text: &str| json!({"model": "auto-responses", "tools": tools, "input": text});
        let ns = json!([{"type": "namespace", "name": "crm", "tools": [{"type": "function", "name": "get_customer",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}]}]);
        let call = first_item(&ask(ns, "who?"));
        assert_eq!(
            (&call["type"], &call["namespace"], &call["name"]),
            (&json!("function_call"), &json!("crm"), &json!("get_customer"))
        );
        assert_eq!(call["arguments"], r#"{"id":"Paris"}"#);
        let call = first_item(&ask(json!([{"type": "custom", "name": "apply_patch"}]), "patch it"));
        assert_eq!(
            (&call["type"], &call["name"], &call["input"]),
            (&json!("custom_tool_call"), &json!("apply_patch"), &json!("Paris"))
        );
        let call = first_item(&ask(json!([{"type": "local_shell"}]), "please run `echo 42`"));
        assert_eq!(call["type"], "local_shell_call");
        assert_eq!(call["action"]["command"], json!(["bash", "-lc", "echo 42"]));
        let call = first_item(&ask(json!([{"type": "shell"}]), "please run `echo 42`"));
        assert_eq!((&call["type"], &call["action"]["commands"]), (&json!("shell_call"), &json!(["echo 42"])));
        let mut streamed = ask(json!([{"type": "custom", "name": "apply_patch"}]), "patch it");
        streamed["stream"] = json!(true);
        let events = answer(&streamed).events.unwrap_or_default();
        assert_eq!(events.last().cloned().unwrap_or_default()["response"]["output"][0]["type"], "custom_tool_call");
        assert_eq!(answer(&json!({"model": "auto-err429", "input": "hi"})).status, 429);
    }

    #[test]
    fn a_scripted_chat_answer_becomes_a_response_and_its_chunks_responses_events() {
        let completion = json!({"object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": {
            "role": "assistant", "content": "Hi.", "reasoning_content": "think",
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
        let body = from_chat(Reply::json(completion)).body.unwrap_or_default();
        let kinds: Vec<&Value> = body["output"].as_array().into_iter().flatten().map(|i| &i["type"]).collect();
        assert_eq!(kinds, [&json!("reasoning"), &json!("message"), &json!("function_call")]);
        assert_eq!(body["output"][2]["call_id"], "call_9");
        assert_eq!(body["usage"]["total_tokens"], 18);
        let chunk = |delta: Value| json!({"object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": delta}]});
        let chunks = vec![chunk(json!({"content": "Bon"})), chunk(json!({"content": "jour"}))];
        let events = from_chat(Reply::events(chunks.clone())).events.unwrap_or_default();
        let last = events.last().cloned().unwrap_or_default();
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], "Bonjour");
        let cut = from_chat(Reply::events(chunks).cut()).events.unwrap_or_default();
        assert!(cut.iter().all(|e| e["type"] != "response.completed" && e["type"] != "response.output_item.done"));
        let error = Reply::error(429, "slow", "rate_limit_error", "rate_limit");
        assert_eq!(from_chat(error.clone()), error);
    }
}
