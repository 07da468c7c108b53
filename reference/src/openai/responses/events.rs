//! Chat-completion chunks as the Responses event stream (`response.created` …
//! `response.completed`), a small state machine fed one chunk at a time.
//!
//! The invariants clients enforce (openai-python's stream accumulator, openai-agents, LangChain,
//! pydantic-ai): `response.created` first; an item's `output_item.added` before any event about it,
//! and it starts empty (`content: []`, `arguments: ""`); `content_part.added` before text deltas;
//! `output_index` counts 0, 1, 2… in the order items open; ids never change; and
//! `response.completed` repeats the whole output and the usage. Every event carries a
//! `sequence_number` from 0.

use serde_json::{Value, json};

use super::calls::ToolMap;
use super::output::{id, message_item, output_text, skeleton, status_of, usage};
use super::reasoning;
use super::request::Bridged;
use crate::provider::chat::first_choice;

/// One event: its type (also the SSE `event:` name) and its data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub kind: &'static str,
    pub data: Value,
}

/// An item being written: a message or a reasoning item (its text so far).
struct OpenText {
    id: String,
    index: usize,
    text: String,
}

struct OpenCall {
    chat_index: u64,
    id: String,
    call_id: String,
    /// The chat function's name; the item's own name comes from the tool map.
    name: String,
    arguments: String,
    index: usize,
    /// A `function_call` streams its arguments as they come; the other kinds (custom, shell) are
    /// sent whole once their arguments are complete, as their items cannot be written piecemeal.
    streamed: bool,
}

/// The stream of one Response.
pub(crate) struct Converter {
    response: Value,
    tools: ToolMap,
    encrypted_reasoning: bool,
    seq: u64,
    next_index: usize,
    reasoning: Option<OpenText>,
    message: Option<OpenText>,
    call: Option<OpenCall>,
    /// Finished items, in output order.
    output: Vec<Value>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    service_tier: Option<Value>,
}

impl Converter {
    pub(crate) fn new(response_id: &str, created_at: u64, model: &str, bridged: &Bridged) -> Self {
        Self {
            response: skeleton(response_id, created_at, model, &bridged.echo),
            tools: bridged.tools.clone(),
            encrypted_reasoning: bridged.encrypted_reasoning,
            seq: 0,
            next_index: 0,
            reasoning: None,
            message: None,
            call: None,
            output: Vec::new(),
            finish_reason: None,
            usage: None,
            service_tier: None,
        }
    }

    fn event(&mut self, kind: &'static str, mut data: Value) -> Event {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        Event { kind, data }
    }

    fn next_index(&mut self) -> usize {
        self.next_index += 1;
        self.next_index - 1
    }

    /// `response.created` and `response.in_progress`.
    pub(crate) fn start(&mut self) -> Vec<Event> {
        let r = self.response.clone();
        vec![
            self.event("response.created", json!({"response": r})),
            self.event("response.in_progress", json!({"response": r})),
        ]
    }

    /// The events for one chat chunk.
    pub(crate) fn chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        if let Some(tier) = chunk.get("service_tier").filter(|t| t.is_string()) {
            self.service_tier = Some(tier.clone());
        }
        if let Some(model) = chunk.get("model").and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.response["model"] = json!(model);
        }
        let Some(choice) = first_choice(chunk) else { return out };
        if let Some(thought) = choice.get("delta").and_then(reasoning::of_chat) {
            out.extend(self.thought(thought));
        }
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.extend(self.text(text));
        }
        for call in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
            out.extend(self.tool_call(call));
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        out
    }

    /// A piece of the provider's reasoning: `reasoning_text.delta` on a reasoning item.
    fn thought(&mut self, text: &str) -> Vec<Event> {
        let mut out = self.close_call();
        out.extend(self.close_message());
        if self.reasoning.is_none() {
            let (rs_id, index) = (id("rs"), self.next_index());
            let item = json!({"id": rs_id, "type": "reasoning", "status": "in_progress", "summary": [], "content": []});
            out.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
            self.reasoning = Some(OpenText { id: rs_id, index, text: String::new() });
        }
        let Some(r) = self.reasoning.as_mut() else { return out };
        r.text.push_str(text);
        let (item_id, index) = (r.id.clone(), r.index);
        out.push(self.event(
            "response.reasoning_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": text}),
        ));
        out
    }

    fn text(&mut self, text: &str) -> Vec<Event> {
        let mut out = self.close_call();
        out.extend(self.close_reasoning());
        out.extend(self.open_message());
        let Some(m) = self.message.as_mut() else { return out };
        m.text.push_str(text);
        let (item_id, index) = (m.id.clone(), m.index);
        out.push(self.event(
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
        ));
        out
    }

    /// `output_item.added` and `content_part.added` for a new message, unless one is open.
    fn open_message(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.message.is_none() {
            let (msg_id, index) = (id("msg"), self.next_index());
            let item =
                json!({"id": msg_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []});
            out.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
            let part = json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
            out.push(self.event(
                "response.content_part.added",
                json!({"item_id": msg_id, "output_index": index, "content_index": 0, "part": part}),
            ));
            self.message = Some(OpenText { id: msg_id, index, text: String::new() });
        }
        out
    }

    fn tool_call(&mut self, delta: &Value) -> Vec<Event> {
        let chat_index = delta.get("index").and_then(Value::as_u64).unwrap_or(0);
        let mut out = Vec::new();
        if self.call.as_ref().is_none_or(|c| c.chat_index != chat_index) {
            out.extend(self.close_reasoning());
            out.extend(self.close_message());
            out.extend(self.close_call());
            let name = delta.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let (item_id, index) = (id(self.tools.id_prefix(&name)), self.next_index());
            let call_id = delta.get("id").and_then(Value::as_str).map_or_else(|| id("call"), str::to_owned);
            let streamed = self.tools.is_function(&name);
            if streamed {
                let mut item = self.tools.item(&item_id, &call_id, &name, "", "in_progress");
                item["arguments"] = json!("");
                out.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
            }
            self.call =
                Some(OpenCall { chat_index, id: item_id, call_id, name, arguments: String::new(), index, streamed });
        }
        let piece = delta.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let Some(call) = self.call.as_mut().filter(|_| !piece.is_empty()) else { return out };
        call.arguments.push_str(piece);
        if call.streamed {
            let (item_id, index) = (call.id.clone(), call.index);
            out.push(self.event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": index, "delta": piece}),
            ));
        }
        out
    }

    fn item_status(&self) -> &'static str {
        if status_of(self.finish_reason.as_deref()).0 == "completed" { "completed" } else { "incomplete" }
    }

    fn close_reasoning(&mut self) -> Vec<Event> {
        let Some(r) = self.reasoning.take() else { return Vec::new() };
        let item = reasoning::item(&r.id, &r.text, self.item_status(), self.encrypted_reasoning);
        self.output.push(item.clone());
        vec![
            self.event(
                "response.reasoning_text.done",
                json!({"item_id": r.id, "output_index": r.index, "content_index": 0, "text": r.text}),
            ),
            self.event("response.output_item.done", json!({"output_index": r.index, "item": item})),
        ]
    }

    fn close_message(&mut self) -> Vec<Event> {
        let Some(m) = self.message.take() else { return Vec::new() };
        let status = self.item_status();
        let part = json!({"type": "output_text", "text": m.text, "annotations": [], "logprobs": []});
        let item = message_item(&m.id, &m.text, status);
        self.output.push(item.clone());
        vec![
            self.event(
                "response.output_text.done",
                json!({"item_id": m.id, "output_index": m.index, "content_index": 0, "text": m.text, "logprobs": []}),
            ),
            self.event(
                "response.content_part.done",
                json!({"item_id": m.id, "output_index": m.index, "content_index": 0, "part": part}),
            ),
            self.event("response.output_item.done", json!({"output_index": m.index, "item": item})),
        ]
    }

    fn close_call(&mut self) -> Vec<Event> {
        let Some(c) = self.call.take() else { return Vec::new() };
        let item = self.tools.item(&c.id, &c.call_id, &c.name, &c.arguments, self.item_status());
        self.output.push(item.clone());
        let mut out = Vec::new();
        if c.streamed {
            let arguments = item["arguments"].clone();
            out.push(self.event(
                "response.function_call_arguments.done",
                json!({"item_id": c.id, "output_index": c.index, "arguments": arguments}),
            ));
        } else {
            let mut added = item.clone();
            added["status"] = json!("in_progress");
            if let Some(input) = item.get("input").cloned() {
                // A custom tool call: its input, as the API streams it, in one piece.
                added["input"] = json!("");
                out.push(self.event("response.output_item.added", json!({"output_index": c.index, "item": added})));
                let ids = json!({"item_id": c.id, "output_index": c.index});
                let mut delta = ids.clone();
                delta["delta"] = input.clone();
                out.push(self.event("response.custom_tool_call_input.delta", delta));
                let mut done = ids;
                done["input"] = input;
                out.push(self.event("response.custom_tool_call_input.done", done));
            } else {
                out.push(self.event("response.output_item.added", json!({"output_index": c.index, "item": added})));
            }
        }
        out.push(self.event("response.output_item.done", json!({"output_index": c.index, "item": item})));
        out
    }

    /// Closes what is open and ends with `response.completed` (or `response.incomplete`).
    pub(crate) fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.output.is_empty() && self.message.is_none() && self.call.is_none() {
            // No text and no calls: still a message, with empty text.
            out.extend(self.close_reasoning());
            out.extend(self.open_message());
        }
        out.extend(self.close_reasoning());
        out.extend(self.close_message());
        out.extend(self.close_call());
        let (status, incomplete) = status_of(self.finish_reason.as_deref());
        self.response["status"] = json!(status);
        self.response["incomplete_details"] = incomplete;
        self.response["output_text"] = json!(output_text(&self.output));
        self.response["output"] = Value::Array(self.output.clone());
        self.response["usage"] = usage(self.usage.as_ref());
        if let Some(tier) = self.service_tier.take() {
            self.response["service_tier"] = tier;
        }
        let kind = if status == "completed" { "response.completed" } else { "response.incomplete" };
        let r = self.response.clone();
        out.push(self.event(kind, json!({"response": r})));
        out
    }

    /// Ends the stream with an `error` event: OpenAI's nested shape and the documented flat fields
    /// (every Python client then raises a real API error).
    pub(crate) fn fail(&mut self, message: &str) -> Vec<Event> {
        let error = json!({"type": "server_error", "code": "server_error", "message": message, "param": null});
        vec![self.event("error", json!({"code": "server_error", "message": message, "param": null, "error": error}))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::settings::HostedTools;

    fn bridged(tools: Value) -> Bridged {
        let body = json!({"model": "m", "input": "q", "tools": tools});
        super::super::request::bridge(body.as_object().cloned().unwrap_or_default(), HostedTools::Warn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn run(chunks: &[Value]) -> Vec<Event> {
        run_with(&bridged(json!([])), chunks)
    }

    fn run_with(bridged: &Bridged, chunks: &[Value]) -> Vec<Event> {
        let mut c = Converter::new("resp_1", 1, "m", bridged);
        let mut out = c.start();
        for chunk in chunks {
            out.extend(c.chunk(chunk));
        }
        out.extend(c.finish());
        out
    }

    /// A streamed message is `completed` when the answer finished and `incomplete` when it was cut
    /// (a reasoning item before it was complete once the text began).
    #[test]
    fn a_streamed_message_is_completed_or_incomplete_as_the_answer_ended() {
        for (finish, status) in [("stop", "completed"), ("length", "incomplete")] {
            let events = run(&[
                json!({"choices": [{"index": 0, "delta": {"reasoning_content": "hmm", "content": "hi"}}]}),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
            ]);
            let done: Vec<&Value> =
                events.iter().filter(|e| e.kind == "response.output_item.done").map(|e| &e.data["item"]).collect();
            let statuses: Vec<(&str, &str)> =
                done.iter().map(|i| (i["type"].as_str().unwrap_or(""), i["status"].as_str().unwrap_or(""))).collect();
            assert_eq!(statuses, [("reasoning", "completed"), ("message", status)], "{finish}");
        }
    }

    /// An answer that is only a tool call has only that item: no empty message beside it.
    #[test]
    fn a_call_alone_is_the_only_item() {
        let events = run(&[
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get", "arguments": "{}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        let done = &events.last().expect("events").data["response"];
        let kinds: Vec<&str> =
            done["output"].as_array().into_iter().flatten().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(kinds, ["function_call"], "{done}");
    }

    /// The Response names the model the provider said it used; a chunk with an empty `model` does
    /// not blank it.
    #[test]
    fn the_response_names_the_providers_model() {
        let events = run(&[
            json!({"model": "up-2024", "choices": [{"index": 0, "delta": {"content": "hi"}}]}),
            json!({"model": "", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ]);
        let done = events.iter().find(|e| e.kind == "response.completed").expect("completed");
        assert_eq!(done.data["response"]["model"], "up-2024", "{:?}", done.data);
    }

    #[test]
    fn text_then_a_call_follow_the_clients_invariants() {
        let events = run(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "Let me "}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "check."}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "get", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
        ]);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let seqs: Vec<u64> = events.iter().filter_map(|e| e.data["sequence_number"].as_u64()).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
        let added: Vec<&Value> =
            events.iter().filter(|e| e.kind == "response.output_item.added").map(|e| &e.data).collect();
        assert_eq!((added[0]["output_index"].as_u64(), added[1]["output_index"].as_u64()), (Some(0), Some(1)));
        assert_eq!(added[1]["item"]["arguments"], "", "added items start empty");
        let done = &events[events.len() - 1].data["response"];
        assert_eq!(done["output"][0]["content"][0]["text"], "Let me check.");
        assert_eq!(done["output_text"], "Let me check.");
        assert_eq!(done["output"][1]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(done["output"][1]["id"], added[1]["item"]["id"], "ids are stable");
        assert_eq!((done["status"].as_str(), done["usage"]["total_tokens"].as_u64()), (Some("completed"), Some(7)));
        assert_eq!(done["id"], events[0].data["response"]["id"]);
    }

    #[test]
    fn an_empty_answer_is_still_a_message_and_a_cut_one_is_incomplete() {
        let events = run(&[json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})]);
        let last = &events[events.len() - 1];
        assert_eq!(last.kind, "response.incomplete");
        assert_eq!(last.data["response"]["output"][0]["content"][0]["text"], "");
        let seqs: Vec<u64> = events.iter().filter_map(|e| e.data["sequence_number"].as_u64()).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn reasoning_namespaced_and_custom_calls_keep_their_kinds() {
        let b = bridged(json!([
            {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "get"}]},
            {"type": "custom", "name": "apply_patch"}
        ]));
        let call = |index: u64, id: &str, name: &str, arguments: &str| json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "id": id, "function": {"name": name, "arguments": arguments}}]}}]});
        let events = run_with(
            &b,
            &[
                json!({"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}}]}),
                call(0, "c1", "ns__get", "{}"),
                call(1, "c2", "apply_patch", "{\"input\":\"*** Begin"),
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": " Patch\"}"}}]}}]}),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            ],
        );
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let done = &events[events.len() - 1].data["response"];
        assert_eq!(done["output"][0]["content"][0]["text"], "hmm");
        assert_eq!(
            (done["output"][1]["name"].as_str(), done["output"][1]["namespace"].as_str()),
            (Some("get"), Some("ns"))
        );
        assert_eq!(
            (done["output"][2]["type"].as_str(), done["output"][2]["input"].as_str()),
            (Some("custom_tool_call"), Some("*** Begin Patch"))
        );
        assert_eq!(events[6].data["item"]["namespace"], "ns", "the added item already names its namespace");
        let indexes: Vec<u64> = events
            .iter()
            .filter(|e| e.kind == "response.output_item.added")
            .filter_map(|e| e.data["output_index"].as_u64())
            .collect();
        assert_eq!(indexes, [0, 1, 2]);
    }
}
