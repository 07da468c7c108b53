//! The tools of a Responses request as chat tools, and `tool_choice` with them.
//!
//! Carried: `function` tools as they are; the functions and custom tools of a `namespace`, flattened
//! (see [`super::calls`]); `custom` (free-form) tools as functions taking `{"input": string}`, their
//! grammar told to the model in the description; `local_shell` and `shell` as functions taking the
//! documented action. Everything else — the hosted tools (`web_search`, `file_search`,
//! `code_interpreter`, `image_generation`, `computer_use`, remote `mcp` …) and kinds this bridge does
//! not know — runs on OpenAI's servers or nowhere a chat provider can reach: it is left out with a
//! warning, or refused with a 400 naming it under `MINI_AGENT_RESPONSES_HOSTED_TOOLS=reject`.

use serde_json::{Map, Value, json};

use super::calls::{Origin, ToolMap};
use super::warnings::Warning;
use crate::api::RequestError;
use crate::openai::settings::HostedTools;

/// The chat side of a request's tools.
#[derive(Debug, Default)]
pub(crate) struct Offered {
    pub tools: Vec<Value>,
    pub map: ToolMap,
    pub warnings: Vec<Warning>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::invalid(field, message)
}

/// `tools` as chat tools, with what each chat name stands for.
pub(crate) fn offer(tools: &[Value], hosted: HostedTools) -> Result<Offered, RequestError> {
    let mut out = Offered::default();
    for (i, tool) in tools.iter().enumerate() {
        let field = format!("tools[{i}]");
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => add(&mut out, &field, function(tool, &field, None)?)?,
            Some("custom") => add(&mut out, &field, custom(tool, &field, None)?)?,
            Some("namespace") => {
                let ns = tool.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
                let ns = ns.ok_or_else(|| invalid(format!("{field}.name"), "a namespace tool needs a name"))?;
                let inner = tool.get("tools").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                for (j, t) in inner.iter().enumerate() {
                    let field = format!("{field}.tools[{j}]");
                    match t.get("type").and_then(Value::as_str) {
                        Some("function") => add(&mut out, &field, function(t, &field, Some(ns))?)?,
                        Some("custom") => add(&mut out, &field, custom(t, &field, Some(ns))?)?,
                        other => not_carried(&mut out, &field, other, hosted)?,
                    }
                }
            }
            Some("local_shell") => add(&mut out, &field, (Origin::LocalShell, local_shell()))?,
            Some("shell") => add(&mut out, &field, (Origin::Shell, shell()))?,
            other => not_carried(&mut out, &field, other, hosted)?,
        }
    }
    Ok(out)
}

/// Records a chat function, refusing two tools that would share its name.
fn add(out: &mut Offered, field: &str, (origin, function): (Origin, Map<String, Value>)) -> Result<(), RequestError> {
    let mut function = function;
    let name = out.map.insert(origin).map_err(|existing| {
        invalid(
            format!("{field}.name"),
            format!(
                "this tool and {existing:?} would both be the chat function `{}`; rename one",
                existing.chat_name()
            ),
        )
    })?;
    function.insert("name".into(), json!(name));
    out.tools.push(json!({"type": "function", "function": function}));
    Ok(())
}

/// A tool no chat provider can run: dropped with a warning, or refused.
fn not_carried(out: &mut Offered, field: &str, kind: Option<&str>, hosted: HostedTools) -> Result<(), RequestError> {
    let Some(kind) = kind else { return Err(invalid(format!("{field}.type"), "a tool needs a `type`")) };
    match hosted {
        HostedTools::Reject => Err(invalid(
            format!("{field}.type"),
            format!(
                "tool `{kind}` runs on OpenAI's servers and cannot be carried to a chat-completions provider \
                 (MINI_AGENT_RESPONSES_HOSTED_TOOLS=reject); leave it out, or unset that variable to have it \
                 dropped with a warning"
            ),
        )),
        HostedTools::Warn => {
            out.warnings.push(Warning::dropped(format!("{field}.type"), kind));
            Ok(())
        }
    }
}

fn name_of<'a>(tool: &'a Value, field: &str, what: &str) -> Result<&'a str, RequestError> {
    tool.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{field}.name"), format!("a {what} tool needs a name")))
}

fn function(tool: &Value, field: &str, namespace: Option<&str>) -> Result<(Origin, Map<String, Value>), RequestError> {
    let name = name_of(tool, field, "function")?;
    let mut function = Map::new();
    if let Some(d) = tool.get("description").filter(|d| d.is_string()) {
        function.insert("description".into(), d.clone());
    }
    let parameters = tool.get("parameters").filter(|p| p.get("type").is_some()).cloned();
    function.insert("parameters".into(), parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}})));
    if let Some(strict) = tool.get("strict").filter(|s| s.is_boolean()) {
        function.insert("strict".into(), strict.clone());
    }
    let origin = Origin::Function { namespace: namespace.map(str::to_owned), name: name.to_owned() };
    Ok((origin, function))
}

/// A free-form tool as a function of one string; a grammar is for the model to follow, so it goes
/// into the description.
fn custom(tool: &Value, field: &str, namespace: Option<&str>) -> Result<(Origin, Map<String, Value>), RequestError> {
    let name = name_of(tool, field, "custom")?;
    let mut description = tool.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(format) = tool.get("format").filter(|f| f["type"] == "grammar") {
        let syntax = format.get("syntax").and_then(Value::as_str).unwrap_or("lark");
        let definition = format.get("definition").and_then(Value::as_str).unwrap_or_default();
        description.push_str(&format!("\n\nThe input must follow this {syntax} grammar:\n{definition}"));
    }
    let mut function = Map::new();
    function.insert("description".into(), json!(description.trim()));
    function.insert(
        "parameters".into(),
        json!({"type": "object", "properties": {"input": {"type": "string", "description": "The tool's whole input, as free text."}},
               "required": ["input"], "additionalProperties": false}),
    );
    let origin = Origin::Custom { namespace: namespace.map(str::to_owned), name: name.to_owned() };
    Ok((origin, function))
}

/// `local_shell`'s action (`exec`) as parameters.
fn local_shell() -> Map<String, Value> {
    let mut function = Map::new();
    function.insert("description".into(), json!("Runs a command on the user's machine and returns its output."));
    function.insert(
        "parameters".into(),
        json!({"type": "object", "properties": {
            "command": {"type": "array", "items": {"type": "string"}, "description": "The program and its arguments, e.g. [\"bash\", \"-lc\", \"ls\"]."},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "timeout_ms": {"type": "integer"},
            "working_directory": {"type": "string"},
            "user": {"type": "string"}
        }, "required": ["command"]}),
    );
    function
}

/// `shell`'s action as parameters.
fn shell() -> Map<String, Value> {
    let mut function = Map::new();
    function
        .insert("description".into(), json!("Runs shell commands in the user's environment and returns their output."));
    function.insert(
        "parameters".into(),
        json!({"type": "object", "properties": {
            "commands": {"type": "array", "items": {"type": "string"}, "description": "Shell commands, run in order."},
            "timeout_ms": {"type": "integer"},
            "max_output_length": {"type": "integer"}
        }, "required": ["commands"]}),
    );
    function
}

/// A Responses tool reference (`{type, name, namespace?}`) as the chat function it became.
fn chat_function_name(reference: &Value) -> Option<String> {
    let name = || reference.get("name").and_then(Value::as_str).map(str::to_owned);
    let namespace = reference.get("namespace").and_then(Value::as_str).map(str::to_owned);
    let origin = match reference.get("type").and_then(Value::as_str)? {
        "function" => Origin::Function { namespace, name: name()? },
        "custom" => Origin::Custom { namespace, name: name()? },
        "local_shell" => Origin::LocalShell,
        "shell" => Origin::Shell,
        _ => return None,
    };
    Some(origin.chat_name())
}

/// `tool_choice` for the chat request (`None`: leave it to the provider). A choice of a hosted tool
/// is dropped with a warning, or refused, like the tool.
pub(crate) fn choice(
    choice: &Value,
    hosted: HostedTools,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Value>, RequestError> {
    let function = |name: String| json!({"type": "function", "function": {"name": name}});
    match choice {
        Value::Null => Ok(None),
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => Ok(Some(choice.clone())),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("allowed_tools") => {
            let mut names = Vec::new();
            for (k, reference) in o.get("tools").and_then(Value::as_array).into_iter().flatten().enumerate() {
                match chat_function_name(reference) {
                    Some(name) => names.push(json!({"type": "function", "function": {"name": name}})),
                    None => warnings.push(Warning::unmapped(format!("tool_choice.tools[{k}]"))),
                }
            }
            let mode = o.get("mode").cloned().unwrap_or(json!("auto"));
            Ok(Some(json!({"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": names}})))
        }
        Value::Object(o) => match (chat_function_name(choice), o.get("type").and_then(Value::as_str)) {
            (Some(name), _) => Ok(Some(function(name))),
            (None, Some(kind)) if !matches!(kind, "function" | "custom") && hosted == HostedTools::Warn => {
                warnings.push(Warning::dropped("tool_choice.type", kind));
                Ok(None)
            }
            (None, Some(kind)) if !matches!(kind, "function" | "custom") => Err(invalid(
                "tool_choice",
                format!("tool_choice `{kind}` names a hosted tool a chat-completions provider cannot run"),
            )),
            _ => Err(invalid("tool_choice", "a function or custom tool_choice needs a `name`")),
        },
        _ => Err(invalid("tool_choice", "tool_choice must be auto, none, required or a tool")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_s_default_tools_are_carried_or_dropped_with_a_warning() {
        let tools = json!([
            {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "sub-agents", "tools": [
                {"type": "function", "name": "spawn_agent", "description": "spawn", "parameters": {"type": "object"}},
                {"type": "custom", "name": "notes", "format": {"type": "grammar", "syntax": "regex", "definition": "[a-z]+"}}]},
            {"type": "web_search", "external_web_access": true},
            {"type": "local_shell"}
        ]);
        let offered =
            offer(tools.as_array().unwrap_or(&Vec::new()), HostedTools::Warn).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = offered.tools.iter().filter_map(|t| t["function"]["name"].as_str()).collect();
        assert_eq!(names, ["exec_command", "multi_agent_v1__spawn_agent", "multi_agent_v1__notes", "local_shell"]);
        assert!(
            offered.tools[2]["function"]["description"].as_str().unwrap_or_default().contains("regex grammar:\n[a-z]+")
        );
        assert_eq!(offered.warnings, [Warning::dropped("tools[2].type", "web_search")]);
        // The local shell is offered with its action's parameters, the command required.
        let shell = &offered.tools[3]["function"];
        assert_eq!(shell["parameters"]["required"], json!(["command"]), "{shell}");
        assert_eq!(shell["parameters"]["properties"]["command"]["type"], "array");
        let err = offer(tools.as_array().unwrap_or(&Vec::new()), HostedTools::Reject).expect_err("reject");
        assert_eq!(err.field(), Some("tools[2].type"));
    }

    #[test]
    fn tool_choices_follow_their_tools() {
        let mut warnings = Vec::new();
        let mut pick = |c: Value, hosted| choice(&c, hosted, &mut warnings);
        assert_eq!(
            pick(json!({"type": "function", "name": "spawn_agent", "namespace": "ns"}), HostedTools::Warn).ok(),
            Some(Some(json!({"type": "function", "function": {"name": "ns__spawn_agent"}})))
        );
        assert_eq!(
            pick(json!({"type": "shell"}), HostedTools::Warn).ok(),
            Some(Some(json!({"type": "function", "function": {"name": "shell"}})))
        );
        assert_eq!(
            pick(json!({"type": "custom", "name": "notes", "namespace": "ns"}), HostedTools::Warn).ok(),
            Some(Some(json!({"type": "function", "function": {"name": "ns__notes"}})))
        );
        assert_eq!(pick(Value::Null, HostedTools::Reject).ok(), Some(None), "null: no choice, no error");
        for word in ["auto", "none", "required"] {
            assert_eq!(pick(json!(word), HostedTools::Reject).ok(), Some(Some(json!(word))));
        }
        let err = pick(json!("sometimes"), HostedTools::Warn).expect_err("not a choice");
        assert_eq!(err.field(), Some("tool_choice"));
        for hosted in [HostedTools::Warn, HostedTools::Reject] {
            let err = pick(json!({"type": "function"}), hosted).expect_err("no name");
            assert!(err.to_string().contains("needs a `name`"), "{err}");
        }
        assert_eq!(
            pick(json!({"type": "local_shell"}), HostedTools::Warn).ok(),
            Some(Some(json!({"type": "function", "function": {"name": "local_shell"}})))
        );
        assert_eq!(pick(json!({"type": "web_search"}), HostedTools::Warn).ok(), Some(None));
        let err = pick(json!({"type": "file_search"}), HostedTools::Reject).expect_err("hosted");
        assert!(err.to_string().contains("`file_search` names a hosted tool"), "{err}");
        let allowed = pick(
            json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "a"}, {"type": "mcp", "server_label": "x"}]}),
            HostedTools::Warn,
        );
        assert_eq!(
            allowed.ok().flatten().map(|a| a["allowed_tools"]["tools"].clone()),
            Some(json!([{"type": "function", "function": {"name": "a"}}]))
        );
        assert_eq!(
            warnings,
            [Warning::dropped("tool_choice.type", "web_search"), Warning::unmapped("tool_choice.tools[1]")]
        );
    }
}
