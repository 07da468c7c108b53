//! A Responses API request (`POST /v1/responses`) as a chat-completions request.
//!
//! `input` becomes `messages` ([`super::input`]) after `instructions` as a system message; `tools`
//! and `tool_choice` become chat tools ([`super::tools`]). Fields map onto chat's where chat has
//! them: `reasoning.effort` → `reasoning_effort`, `text.verbosity` → `verbosity`, `text.format` →
//! `response_format`, `max_output_tokens` → `max_tokens`, `top_logprobs` → `logprobs` +
//! `top_logprobs`, and `temperature`, `top_p`, `parallel_tool_calls`, `user`, `safety_identifier`,
//! `prompt_cache_key`, `prompt_cache_retention`, `service_tier`, `metadata` as they are. What chat
//! cannot carry — `reasoning.summary`, `store: true`, `truncation: auto`, an `include` other than
//! `reasoning.encrypted_content` or logprobs, fields it does not know — is named in the warnings,
//! never silently lost. What needs storage (`previous_response_id`, `conversation`, `background`,
//! stored prompts) is a 400 naming the field: dropping it would lose the client's history.
//! The Response echoes what was applied ([`echoed`]).

use serde_json::{Map, Value, json};

use super::calls::ToolMap;
use super::warnings::Warning;
use super::{input, tools};
use crate::api::RequestError;
use crate::openai::settings::HostedTools;

/// A request, bridged.
#[derive(Debug, Clone)]
pub(crate) struct Bridged {
    pub model: String,
    pub stream: bool,
    /// The chat-completions body, without `model` and `stream`.
    pub chat: Map<String, Value>,
    /// The request fields a Response echoes back.
    pub echo: Map<String, Value>,
    /// What each offered chat function stands for, to map calls back.
    pub tools: ToolMap,
    /// What was not carried upstream.
    pub warnings: Vec<Warning>,
    /// `include` asked for `reasoning.encrypted_content`.
    pub encrypted_reasoning: bool,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::invalid(field, message)
}

/// Request fields chat completions has under the same name.
const SAME_NAME: [&str; 9] = [
    "temperature",
    "top_p",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "metadata",
    "parallel_tool_calls",
];

/// Fields read elsewhere (or refused by [`refuse_stateful`] when set).
const HANDLED: [&str; 10] = [
    "model",
    "stream",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "background",
    "previous_response_id",
    "conversation",
    "prompt",
];

/// Bridges a parsed request body; hosted tools are dropped with a warning or refused as `hosted` says.
pub(crate) fn bridge(body: Map<String, Value>, hosted: HostedTools) -> Result<Bridged, RequestError> {
    refuse_stateful(&body)?;
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
        _ => return Err(invalid("model", "you must provide a model parameter (a string)")),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let (input, mut warnings) = input::messages(body.get("input"), hosted)?;
    let mut messages = Vec::new();
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    messages.extend(input);
    let mut chat = Map::new();
    chat.insert("messages".into(), Value::Array(messages));
    let declared = body.get("tools").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let offered = tools::offer(declared, hosted)?;
    warnings.extend(offered.warnings);
    let choice = match body.get("tool_choice") {
        Some(c) => tools::choice(c, hosted, &mut warnings)?,
        None => None,
    };
    let encrypted_reasoning = fields(&body, &mut chat, &mut warnings);
    if offered.tools.is_empty() {
        // Chat APIs refuse `tool_choice` and `parallel_tool_calls` without tools; a choice that
        // forced a tool that is not there cannot be honoured.
        chat.remove("parallel_tool_calls");
        if choice.as_ref().is_some_and(|c| c != "auto" && c != "none") {
            warnings.push(Warning::unmapped("tool_choice"));
        }
    } else {
        chat.insert("tools".into(), Value::Array(offered.tools));
        if let Some(choice) = choice {
            chat.insert("tool_choice".into(), choice);
        }
    }
    let echo = echoed(&body, &chat);
    Ok(Bridged { model, stream, chat, echo, tools: offered.map, warnings, encrypted_reasoning })
}

/// The fields other than input and tools, mapped into `chat` or named in `warnings`; whether
/// `include` asked for `reasoning.encrypted_content`.
fn fields(body: &Map<String, Value>, chat: &mut Map<String, Value>, warnings: &mut Vec<Warning>) -> bool {
    let mut encrypted = false;
    for (key, value) in body.iter().filter(|(_, v)| !v.is_null()) {
        match key.as_str() {
            k if HANDLED.contains(&k) || k == "stream_options" => {}
            k if SAME_NAME.contains(&k) => {
                chat.insert(k.into(), value.clone());
            }
            "max_output_tokens" => {
                chat.insert("max_tokens".into(), value.clone());
            }
            "top_logprobs" => {
                chat.insert("logprobs".into(), Value::Bool(true));
                chat.insert("top_logprobs".into(), value.clone());
            }
            "text" => text(value, chat, warnings),
            "reasoning" => reasoning(value, chat, warnings),
            "include" => {
                for (i, what) in value.as_array().into_iter().flatten().enumerate() {
                    match what.as_str() {
                        Some("reasoning.encrypted_content") => encrypted = true,
                        Some("message.output_text.logprobs") => {
                            chat.insert("logprobs".into(), Value::Bool(true));
                        }
                        _ => warnings.push(Warning::unmapped(format!("include[{i}]"))),
                    }
                }
            }
            // Nothing is stored here: `store: false` is what happens anyway.
            "store" if value == &Value::Bool(false) => {}
            "truncation" if value == "disabled" => {}
            other => warnings.push(Warning::unmapped(other)),
        }
    }
    encrypted
}

/// `text`: `format` as `response_format`, `verbosity` as `verbosity`.
fn text(value: &Value, chat: &mut Map<String, Value>, warnings: &mut Vec<Warning>) {
    for (key, v) in value.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()) {
        match key.as_str() {
            "format" => {
                if let Some(format) = response_format(v) {
                    chat.insert("response_format".into(), format);
                }
            }
            "verbosity" => {
                chat.insert("verbosity".into(), v.clone());
            }
            other => warnings.push(Warning::unmapped(format!("text.{other}"))),
        }
    }
}

/// `reasoning`: `effort` as `reasoning_effort`; summaries are not something chat providers write.
fn reasoning(value: &Value, chat: &mut Map<String, Value>, warnings: &mut Vec<Warning>) {
    for (key, v) in value.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()) {
        match key.as_str() {
            "effort" => {
                chat.insert("reasoning_effort".into(), v.clone());
            }
            other => warnings.push(Warning::unmapped(format!("reasoning.{other}"))),
        }
    }
}

/// What cannot be done without storage or hosted tools.
fn refuse_stateful(body: &Map<String, Value>) -> Result<(), RequestError> {
    if body.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "previous_response_id",
            "previous_response_id is not supported: this server stores no responses; send the whole conversation in `input`",
        ));
    }
    for field in ["conversation", "prompt"] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            return Err(invalid(field, format!("`{field}` is not supported: this server stores no {field}s")));
        }
    }
    if body.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(invalid("background", "background responses are not supported: this server stores no responses"));
    }
    Ok(())
}

/// `text.format` as `response_format` (`text` needs none).
fn response_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        Some("json_object") => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

/// What a Response repeats from its request, with the API's defaults, and what was applied of
/// the fields it maps (`reasoning.effort` as sent to the provider; summaries are never written here).
fn echoed(body: &Map<String, Value>, chat: &Map<String, Value>) -> Map<String, Value> {
    let get = |k: &str, default: Value| body.get(k).cloned().filter(|v| !v.is_null()).unwrap_or(default);
    let mut echo = Map::new();
    echo.insert("instructions".into(), get("instructions", Value::Null));
    echo.insert("max_output_tokens".into(), get("max_output_tokens", Value::Null));
    echo.insert("max_tool_calls".into(), Value::Null);
    echo.insert("metadata".into(), get("metadata", json!({})));
    echo.insert("parallel_tool_calls".into(), get("parallel_tool_calls", Value::Bool(true)));
    echo.insert("prompt_cache_key".into(), get("prompt_cache_key", Value::Null));
    let effort = chat.get("reasoning_effort").cloned().unwrap_or(Value::Null);
    echo.insert("reasoning".into(), json!({"effort": effort, "summary": null}));
    echo.insert("safety_identifier".into(), get("safety_identifier", Value::Null));
    echo.insert("service_tier".into(), get("service_tier", json!("auto")));
    echo.insert("temperature".into(), get("temperature", json!(1.0)));
    echo.insert("text".into(), get("text", json!({"format": {"type": "text"}})));
    echo.insert("tool_choice".into(), get("tool_choice", json!("auto")));
    echo.insert("tools".into(), get("tools", json!([])));
    echo.insert("top_logprobs".into(), get("top_logprobs", json!(0)));
    echo.insert("top_p".into(), get("top_p", json!(1.0)));
    echo.insert("truncation".into(), get("truncation", json!("disabled")));
    echo.insert("user".into(), get("user", Value::Null));
    echo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridged(body: Value) -> Result<Bridged, RequestError> {
        bridge(body.as_object().cloned().unwrap_or_default(), HostedTools::Warn)
    }

    #[test]
    fn a_model_must_be_a_string_with_something_in_it() {
        for model in [json!("  "), json!(""), json!(5), Value::Null] {
            let err =
                bridged(json!({"model": model, "input": "q"})).err().unwrap_or_else(|| panic!("{model} accepted"));
            assert_eq!(err.field(), Some("model"), "{model}");
        }
        assert!(bridged(json!({"model": "m", "input": "q"})).is_ok());
    }

    /// Without tools, `tool_choice` is dropped: `auto` and `none` mean nothing then, anything else
    /// asked for a tool that is not there (a warning says it was not honoured).
    #[test]
    fn a_tool_choice_without_tools_warns_only_when_it_forced_a_tool() {
        for (choice, warned) in [(json!("auto"), false), (json!("none"), false), (json!("required"), true)] {
            let b =
                bridged(json!({"model": "m", "input": "q", "tool_choice": choice})).unwrap_or_else(|e| panic!("{e}"));
            assert!(!b.chat.contains_key("tool_choice"), "{choice}");
            assert_eq!(b.warnings.contains(&Warning::unmapped("tool_choice")), warned, "{choice}: {:?}", b.warnings);
        }
    }

    /// `include` of output logprobs asks chat for logprobs; `truncation: disabled` and `store: false`
    /// are what happens anyway (no warning); `truncation: auto` cannot be honoured (a warning).
    #[test]
    fn include_truncation_and_store_map_or_warn() {
        let b = bridged(json!({"model": "m", "input": "q", "include": ["message.output_text.logprobs"],
            "truncation": "disabled", "store": false}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.chat.get("logprobs"), Some(&json!(true)));
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
        let b = bridged(json!({"model": "m", "input": "q", "truncation": "auto", "store": true}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.warnings, [Warning::unmapped("truncation"), Warning::unmapped("store")]);
    }

    #[test]
    fn a_json_object_format_becomes_chats_json_mode() {
        let b = bridged(json!({"model": "m", "input": "q", "text": {"format": {"type": "json_object"}}}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.chat.get("response_format"), Some(&json!({"type": "json_object"})));
        let b = bridged(json!({"model": "m", "input": "q", "text": {"format": {"type": "text"}}}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.chat.get("response_format"), None, "plain text needs no format");
    }

    /// What needs storage is refused by name; the same field sent as `null` is no request for it.
    #[test]
    fn stateful_fields_are_refused_unless_null() {
        for field in ["previous_response_id", "conversation", "prompt"] {
            let err =
                bridged(json!({"model": "m", "input": "q", field: "x_1"})).err().unwrap_or_else(|| panic!("{field}"));
            assert_eq!(err.field(), Some(field));
            assert!(bridged(json!({"model": "m", "input": "q", field: null})).is_ok(), "{field}: null");
        }
    }

    #[test]
    fn tools_and_the_format_are_carried() {
        let b = bridged(json!({
            "model": "m", "instructions": "be nice", "include": [], "store": false,
            "input": [{"role": "user", "content": "weather?"}],
            "tools": [{"type": "function", "name": "get", "description": null, "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get"},
            "text": {"format": {"type": "json_schema", "name": "W", "schema": {"type": "object"}, "strict": true}},
            "max_output_tokens": 50
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let m = b.chat["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(m[0], json!({"role": "system", "content": "be nice"}));
        assert_eq!(
            b.chat["tools"][0],
            json!({"type": "function", "function": {"name": "get", "parameters": {"type": "object"}, "strict": true}})
        );
        assert_eq!(b.chat["tool_choice"], json!({"type": "function", "function": {"name": "get"}}));
        assert_eq!(b.chat["response_format"]["json_schema"]["name"], "W");
        assert_eq!(b.chat["max_tokens"], 50);
        assert_eq!(b.echo["tool_choice"], json!({"type": "function", "name": "get"}));
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    }

    #[test]
    fn fields_are_mapped_and_the_rest_named() {
        let b = bridged(json!({
            "model": "m", "input": "hi", "stream": true, "reasoning": {"effort": "low", "summary": "auto"},
            "text": {"verbosity": "low"}, "temperature": 0.2, "top_p": 0.9, "user": "u", "safety_identifier": "s",
            "prompt_cache_key": "k", "service_tier": "flex", "metadata": {"a": "b"}, "parallel_tool_calls": false,
            "include": ["reasoning.encrypted_content", "web_search_call.action.sources"], "store": true,
            "truncation": "auto", "client_metadata": {"x": "y"}, "max_tool_calls": 3, "top_logprobs": 2,
            "tools": [{"type": "web_search"}], "tool_choice": "required"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let c = &b.chat;
        assert_eq!((c["reasoning_effort"].as_str(), c["verbosity"].as_str()), (Some("low"), Some("low")));
        for key in ["temperature", "top_p", "user", "safety_identifier", "prompt_cache_key", "service_tier", "metadata"]
        {
            assert!(c.contains_key(key), "{key} is carried");
        }
        assert_eq!((c["logprobs"].as_bool(), c["top_logprobs"].as_u64()), (Some(true), Some(2)));
        assert!(!c.contains_key("tools") && !c.contains_key("tool_choice") && !c.contains_key("parallel_tool_calls"));
        assert!(b.encrypted_reasoning);
        let named: Vec<String> = b.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            [
                "dropped:tools[0].type=web_search",
                "unmapped:reasoning.summary",
                "unmapped:include[1]",
                "unmapped:store",
                "unmapped:truncation",
                "unmapped:client_metadata",
                "unmapped:max_tool_calls",
                "unmapped:tool_choice",
            ]
        );
        assert_eq!(b.echo["reasoning"], json!({"effort": "low", "summary": null}));
        assert_eq!(b.echo["text"], json!({"verbosity": "low"}));
        assert_eq!(b.echo["service_tier"], "flex");
    }

    #[test]
    fn what_needs_storage_is_refused_naming_the_field() {
        for (body, field) in [
            (json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}), "previous_response_id"),
            (json!({"model": "m", "input": "hi", "background": true}), "background"),
            (json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), "input[0].type"),
            (json!({"input": "hi"}), "model"),
        ] {
            let err = bridged(body).expect_err(field);
            assert_eq!(err.field(), Some(field), "{err}");
        }
        let reject = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]});
        let err = bridge(reject.as_object().cloned().unwrap_or_default(), HostedTools::Reject).expect_err("reject");
        assert_eq!(err.field(), Some("tools[0].type"));
    }
}
