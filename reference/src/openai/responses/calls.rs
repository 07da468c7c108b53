//! Tool calls across the bridge, both ways: which chat function stands for which Responses tool
//! (a [`ToolMap`] built while the tools are offered), how a chat tool call goes back to the client
//! as the item its tool's kind calls for, and how such items in the client's history become chat
//! tool calls again.
//!
//! Chat providers know only flat function tools. A function inside a `namespace` is offered as
//! `<namespace>__<name>` ([`flat_name`]) and its calls come back as `function_call` items carrying
//! `namespace` and the inner `name`, as the Responses API returns them; a `custom` (free-form) tool
//! is a function taking `{"input": string}` and its calls come back as `custom_tool_call` items with
//! that `input`; `local_shell` and `shell` are functions taking the documented action
//! (`{command: [..], env, timeout_ms, working_directory, user}`, `{commands: [..], timeout_ms,
//! max_output_length}`) and come back as `local_shell_call` / `shell_call` items. The map, not the
//! name's spelling, says what a chat name stands for, so a name is never guessed back.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// The chat function standing for a `local_shell` tool.
pub(crate) const LOCAL_SHELL: &str = "local_shell";
/// The chat function standing for a `shell` tool.
pub(crate) const SHELL: &str = "shell";
/// OpenAI's limit on a chat function name.
const MAX_NAME: usize = 64;

/// The Responses tool a chat function stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Function { namespace: Option<String>, name: String },
    Custom { namespace: Option<String>, name: String },
    LocalShell,
    Shell,
}

impl Origin {
    /// The chat function name offered for this tool.
    pub(crate) fn chat_name(&self) -> String {
        match self {
            Self::Function { namespace, name } | Self::Custom { namespace, name } => {
                flat_name(namespace.as_deref(), name)
            }
            Self::LocalShell => LOCAL_SHELL.to_owned(),
            Self::Shell => SHELL.to_owned(),
        }
    }
}

/// `name` inside `namespace` as one chat function name: `<namespace>__<name>`. A joined name longer
/// than chat's 64 characters keeps its start and ends in a hash of the whole, so two long names
/// stay apart; the [`ToolMap`] maps it back.
pub(crate) fn flat_name(namespace: Option<&str>, name: &str) -> String {
    let Some(ns) = namespace.filter(|ns| !ns.is_empty()) else { return name.to_owned() };
    let joined = format!("{ns}__{name}");
    if joined.len() <= MAX_NAME {
        return joined;
    }
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let hash = joined.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let suffix = format!("_{:012x}", hash & 0xffff_ffff_ffff);
    let mut cut = MAX_NAME - suffix.len();
    while !joined.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &joined[..cut])
}

/// Chat function name → the Responses tool it stands for, for one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolMap {
    by_name: HashMap<String, Origin>,
}

impl ToolMap {
    /// Records `origin` under its chat name; `Err` with the tool already there when two tools would
    /// become one chat function (they could not be told apart on the way back).
    pub(crate) fn insert(&mut self, origin: Origin) -> Result<String, Origin> {
        let name = origin.chat_name();
        match self.by_name.get(&name) {
            Some(existing) if *existing != origin => Err(existing.clone()),
            _ => {
                self.by_name.insert(name.clone(), origin);
                Ok(name)
            }
        }
    }

    pub(crate) fn origin(&self, chat_name: &str) -> Option<&Origin> {
        self.by_name.get(chat_name)
    }

    /// Whether a call of `chat_name` comes back as a `function_call` item (streamed as it comes);
    /// the other kinds are whole items, sent once their arguments are complete.
    pub(crate) fn is_function(&self, chat_name: &str) -> bool {
        matches!(self.origin(chat_name), None | Some(Origin::Function { .. }))
    }

    /// The id prefix of the item a call of `chat_name` becomes (`fc`, `ctc`, `lsh`, `sh`).
    pub(crate) fn id_prefix(&self, chat_name: &str) -> &'static str {
        match self.origin(chat_name) {
            None | Some(Origin::Function { .. }) => "fc",
            Some(Origin::Custom { .. }) => "ctc",
            Some(Origin::LocalShell) => "lsh",
            Some(Origin::Shell) => "sh",
        }
    }

    /// The finished output item `id` for a chat tool call of `chat_name` with `arguments`. A name
    /// the map does not know (a model calling a tool it was not offered) is a plain `function_call`.
    pub(crate) fn item(&self, id: &str, call_id: &str, chat_name: &str, arguments: &str, status: &str) -> Value {
        let arguments = if arguments.trim().is_empty() { "{}" } else { arguments };
        let parsed: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
        let with_namespace = |mut item: Value, namespace: &Option<String>| {
            if let Some(ns) = namespace {
                item["namespace"] = json!(ns);
            }
            item
        };
        match self.origin(chat_name) {
            None => function_item(id, call_id, chat_name, arguments, status),
            Some(Origin::Function { namespace, name }) => {
                with_namespace(function_item(id, call_id, name, arguments, status), namespace)
            }
            Some(Origin::Custom { namespace, name }) => {
                // The documented shape is `{"input": "…"}`; a model that sent something else has its
                // arguments passed on whole rather than lost.
                let input =
                    parsed.get("input").and_then(Value::as_str).map_or_else(|| arguments.to_owned(), str::to_owned);
                with_namespace(
                    json!({"id": id, "type": "custom_tool_call", "status": status,
                           "call_id": call_id, "name": name, "input": input}),
                    namespace,
                )
            }
            Some(Origin::LocalShell) => {
                let mut action = Map::new();
                action.insert("type".into(), json!("exec"));
                action.insert("command".into(), commands(parsed.get("command")));
                action.insert("env".into(), parsed.get("env").filter(|e| e.is_object()).cloned().unwrap_or(json!({})));
                for key in ["timeout_ms", "working_directory", "user"] {
                    action.insert(key.into(), parsed.get(key).cloned().unwrap_or(Value::Null));
                }
                json!({"id": id, "type": "local_shell_call", "status": status,
                       "call_id": call_id, "action": action})
            }
            Some(Origin::Shell) => {
                let action = json!({
                    "commands": commands(parsed.get("commands").or_else(|| parsed.get("command"))),
                    "timeout_ms": parsed.get("timeout_ms").cloned().unwrap_or(Value::Null),
                    "max_output_length": parsed.get("max_output_length").cloned().unwrap_or(Value::Null),
                });
                json!({"id": id, "type": "shell_call", "status": status,
                       "call_id": call_id, "action": action})
            }
        }
    }
}

/// A `function_call` item.
pub(crate) fn function_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "call_id": call_id, "name": name, "arguments": arguments})
}

/// A command list from what the model sent: a list as it is, one string as a one-element list.
fn commands(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(Value::String(s)) => json!([s]),
        _ => json!([]),
    }
}

/// A call item of the client's history as a chat tool call `(call_id, chat name, arguments)`;
/// `None` for items that are not calls. The arguments are the shapes offered for each kind, so a
/// model sees its earlier calls as it made them.
pub(crate) fn chat_call(item: &Value) -> Option<(String, String, String)> {
    let kind = item.get("type").and_then(Value::as_str)?;
    let call_id = item.get("call_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let namespace = item.get("namespace").and_then(Value::as_str);
    let name = || item.get("name").and_then(Value::as_str).unwrap_or_default();
    let without_type = |action: Option<&Value>| {
        let mut action = action.and_then(Value::as_object).cloned().unwrap_or_default();
        action.remove("type");
        action.retain(|_, v| !v.is_null());
        Value::Object(action).to_string()
    };
    match kind {
        "function_call" => {
            let arguments = item.get("arguments").and_then(Value::as_str).filter(|a| !a.trim().is_empty());
            Some((call_id, flat_name(namespace, name()), arguments.unwrap_or("{}").to_owned()))
        }
        "custom_tool_call" => {
            let input = item.get("input").and_then(Value::as_str).unwrap_or_default();
            Some((call_id, flat_name(namespace, name()), json!({"input": input}).to_string()))
        }
        "local_shell_call" => Some((call_id, LOCAL_SHELL.to_owned(), without_type(item.get("action")))),
        "shell_call" => Some((call_id, SHELL.to_owned(), without_type(item.get("action")))),
        _ => None,
    }
}

/// An output item of the client's history as `(call_id, text)` for a chat tool message; `None` for
/// items that are not outputs. `local_shell_call_output` names its call in `id` when it has no
/// `call_id` (the API's own shape).
pub(crate) fn chat_output(item: &Value) -> Option<(Option<String>, String)> {
    let kind = item.get("type").and_then(Value::as_str)?;
    let call_id = item.get("call_id").and_then(Value::as_str).map(str::to_owned);
    let text = match kind {
        "function_call_output" | "custom_tool_call_output" => output_text(item.get("output")),
        "local_shell_call_output" => {
            let id = call_id.or_else(|| item.get("id").and_then(Value::as_str).map(str::to_owned));
            return Some((id, output_text(item.get("output"))));
        }
        "shell_call_output" => shell_output(item.get("output")),
        _ => return None,
    };
    Some((call_id, text))
}

fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A `shell_call_output`'s chunks (`stdout`, `stderr`, `outcome`) as the text a model reads.
fn shell_output(output: Option<&Value>) -> String {
    let Some(Value::Array(chunks)) = output else { return output_text(output) };
    chunks
        .iter()
        .map(|c| {
            let outcome = match c.pointer("/outcome/type").and_then(Value::as_str) {
                Some("timeout") => "timed out".to_owned(),
                _ => format!("exit code {}", c.pointer("/outcome/exit_code").cloned().unwrap_or(Value::Null)),
            };
            let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            format!("{outcome}\nstdout:\n{}\nstderr:\n{}", text("stdout"), text("stderr"))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of call becomes an item whose id says its kind; a tool nobody offered is a function.
    #[test]
    fn item_ids_are_prefixed_by_the_kind_of_tool() {
        let custom = Origin::Custom { namespace: None, name: "patch".into() };
        let m = map(&[function(Some("ns"), "get"), custom, Origin::LocalShell, Origin::Shell]);
        for (chat_name, prefix) in
            [("ns__get", "fc"), ("patch", "ctc"), (LOCAL_SHELL, "lsh"), (SHELL, "sh"), ("never_offered", "fc")]
        {
            assert_eq!(m.id_prefix(chat_name), prefix, "{chat_name}");
        }
    }

    /// A joined name over 64 characters keeps its start and ends in the FNV-1a hash of the whole —
    /// the same name in every process and version, so a conversation's earlier calls still map.
    #[test]
    fn a_long_namespaced_name_is_cut_to_64_with_a_stable_hash() {
        let name = flat_name(Some("mcp_server_of_the_team"), "a_tool_whose_name_is_long_enough_to_pass_the_limit");
        assert_eq!(name, "mcp_server_of_the_team__a_tool_whose_name_is_long_e_00abbc09e7f3");
        // A cut that would fall inside a character moves back to its start.
        let wide = flat_name(Some(&"é".repeat(40)), "get");
        assert_eq!((wide.len(), wide.chars().filter(|c| *c == 'é').count()), (63, 25), "{wide}");
        assert_eq!(flat_name(Some("ns"), "get"), "ns__get");
        assert_eq!(flat_name(Some(""), "get"), "get");
    }

    fn map(origins: &[Origin]) -> ToolMap {
        let mut m = ToolMap::default();
        for o in origins {
            m.insert(o.clone()).unwrap_or_else(|e| panic!("{e:?}"));
        }
        m
    }

    fn function(namespace: Option<&str>, name: &str) -> Origin {
        Origin::Function { namespace: namespace.map(str::to_owned), name: name.to_owned() }
    }

    #[test]
    fn flattened_names_are_joined_and_long_ones_stay_apart_within_64() {
        assert_eq!(flat_name(Some("multi_agent_v1"), "spawn_agent"), "multi_agent_v1__spawn_agent");
        assert_eq!(flat_name(None, "get"), "get");
        let long = "n".repeat(60);
        let (a, b) = (flat_name(Some(&long), "alpha_tool"), flat_name(Some(&long), "beta_tool"));
        assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a, flat_name(Some(&long), "alpha_tool"), "stable");
    }

    #[test]
    fn two_tools_that_would_share_a_chat_name_are_refused() {
        let mut m = map(&[function(Some("ns"), "f")]);
        assert_eq!(m.insert(function(None, "ns__f")), Err(function(Some("ns"), "f")));
        assert_eq!(m.insert(function(Some("ns"), "f")).as_deref(), Ok("ns__f"), "the same tool twice is fine");
    }

    #[test]
    fn calls_go_back_as_the_kind_of_their_tool() {
        let m = map(&[
            function(Some("multi_agent_v1"), "spawn_agent"),
            Origin::Custom { namespace: None, name: "apply_patch".into() },
            Origin::LocalShell,
            Origin::Shell,
        ]);
        let item = m.item("1", "c1", "multi_agent_v1__spawn_agent", "{\"task\":\"x\"}", "completed");
        assert_eq!(
            (item["type"].as_str(), item["name"].as_str(), item["namespace"].as_str()),
            (Some("function_call"), Some("spawn_agent"), Some("multi_agent_v1"))
        );
        let item = m.item("2", "c2", "apply_patch", "{\"input\":\"*** Begin Patch\"}", "completed");
        assert_eq!(
            (item["type"].as_str(), item["input"].as_str()),
            (Some("custom_tool_call"), Some("*** Begin Patch"))
        );
        let item = m.item("3", "c3", "local_shell", "{\"command\":[\"echo\",\"42\"]}", "completed");
        assert_eq!(
            item["action"],
            json!({"type": "exec", "command": ["echo", "42"], "env": {}, "timeout_ms": null, "working_directory": null, "user": null})
        );
        let item = m.item("4", "c4", "shell", "{\"commands\":\"ls\"}", "completed");
        assert_eq!(item["action"]["commands"], json!(["ls"]));
        let item = m.item("5", "c5", "unknown", "", "completed");
        assert_eq!((item["type"].as_str(), item["arguments"].as_str()), (Some("function_call"), Some("{}")));
    }

    #[test]
    fn history_items_become_chat_calls_and_tool_messages() {
        let call = json!({"type": "function_call", "call_id": "c", "name": "spawn_agent", "namespace": "multi_agent_v1", "arguments": ""});
        assert_eq!(chat_call(&call), Some(("c".into(), "multi_agent_v1__spawn_agent".into(), "{}".into())));
        let custom = json!({"type": "custom_tool_call", "call_id": "d", "name": "apply_patch", "input": "x"});
        assert_eq!(chat_call(&custom).map(|c| c.2), Some("{\"input\":\"x\"}".into()));
        let local = json!({"type": "local_shell_call", "call_id": "e", "action": {"type": "exec", "command": ["ls"], "user": null}});
        assert_eq!(chat_call(&local), Some(("e".into(), "local_shell".into(), "{\"command\":[\"ls\"]}".into())));
        let shell = json!({"type": "shell_call", "call_id": "g", "action": {"type": "exec", "commands": ["ls"], "timeout_ms": null}});
        assert_eq!(chat_call(&shell), Some(("g".into(), SHELL.into(), "{\"commands\":[\"ls\"]}".into())));
        let out = json!({"type": "local_shell_call_output", "id": "e", "output": "{\"output\":\"a\"}"});
        assert_eq!(chat_output(&out), Some((Some("e".into()), "{\"output\":\"a\"}".into())));
        let shell = json!({"type": "shell_call_output", "call_id": "f", "output": [{"stdout": "42\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]});
        assert_eq!(chat_output(&shell).map(|o| o.1), Some("exit code 0\nstdout:\n42\n\nstderr:\n".into()));
        let late = json!({"type": "shell_call_output", "call_id": "h", "output": [{"stdout": "", "stderr": "", "outcome": {"type": "timeout"}}]});
        assert_eq!(chat_output(&late).map(|o| o.1), Some("timed out\nstdout:\n\nstderr:\n".into()));
        assert_eq!(chat_call(&json!({"type": "message"})), None);
    }
}
