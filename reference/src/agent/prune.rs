//! History pruning before each model call.
//!
//! Kept: every system message; the last assistant message with tool calls together with its tool
//! replies (the pair the model is working on); and the most recent other messages, at most
//! [`MAX_RECENT`], within a [`CHAR_BUDGET`]-character content budget. Messages are grouped into
//! units first — an assistant tool-call message and the tool messages answering it are one unit — so
//! a pair is never split (a tool message without its call is an error at every provider). Recent
//! units are taken newest first and the walk stops at the first that does not fit, so what is kept
//! is a contiguous recent history, in its original order.
//!
//! The latest user message is always kept — the model is never sent a conversation without the
//! question — and one that alone exceeds the budget is cut in the middle with a visible
//! `[… N characters omitted …]` marker (the start states the task, the end often the question).
//!
//! Pruning borrows: what is kept is sent as it is, never copied (a history can carry base64
//! images); only a cut message is a new value.

use std::borrow::Cow;

use serde_json::Value;

pub(crate) const MAX_RECENT: usize = 50;
pub(crate) const CHAR_BUDGET: usize = 16_000;

/// Prunes `messages` with the contract's limits.
pub(crate) fn prune(messages: &[Value]) -> Vec<Cow<'_, Value>> {
    prune_with(messages, MAX_RECENT, CHAR_BUDGET)
}

/// Prunes with explicit limits (for tests).
pub(crate) fn prune_with(messages: &[Value], max_recent: usize, char_budget: usize) -> Vec<Cow<'_, Value>> {
    let units = units(messages);
    let pinned = units.iter().rposition(|u| u.is_tool_pair);
    let latest_user = messages
        .iter()
        .rposition(|m| role(m) == "user")
        .and_then(|m| units.iter().position(|u| u.indices.contains(&m)));
    let mut keep = vec![false; units.len()];
    let (mut chars, mut count) = (0usize, 0usize);
    for (i, u) in units.iter().enumerate() {
        if u.is_system || Some(i) == pinned || Some(i) == latest_user {
            keep[i] = true;
            if !u.is_system {
                chars += u.chars.min(char_budget);
                count += u.indices.len();
            }
        }
    }
    for i in (0..units.len()).rev() {
        if keep[i] {
            continue;
        }
        let u = &units[i];
        if count + u.indices.len() > max_recent || chars + u.chars > char_budget {
            break;
        }
        keep[i] = true;
        count += u.indices.len();
        chars += u.chars;
    }
    units
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .flat_map(|(u, _)| u.indices.iter().copied())
        .map(|i| {
            let m = &messages[i];
            if latest_user.is_some_and(|l| units[l].indices.contains(&i)) && content_chars(m) > char_budget {
                Cow::Owned(cut_in_the_middle(m, char_budget))
            } else {
                Cow::Borrowed(m)
            }
        })
        .collect()
}

/// `message` with its text shortened to about `budget` characters: the start and the end kept, the
/// middle replaced by a marker saying how much was left out. Text parts of a list are cut as one
/// text; other parts (images) are kept.
pub(crate) fn cut_in_the_middle(message: &Value, budget: usize) -> Value {
    let mut out = message.clone();
    match out.get_mut("content") {
        Some(Value::String(s)) => *s = cut_text(s, budget),
        Some(Value::Array(parts)) => {
            let texts: Vec<usize> =
                (0..parts.len()).filter(|&i| parts[i].get("text").is_some_and(Value::is_string)).collect();
            let total: usize =
                texts.iter().map(|&i| parts[i]["text"].as_str().unwrap_or_default().chars().count()).sum();
            for &i in &texts {
                let text = parts[i]["text"].as_str().unwrap_or_default().to_owned();
                let share = budget * text.chars().count() / total.max(1);
                parts[i]["text"] = Value::String(cut_text(&text, share));
            }
        }
        _ => {}
    }
    out
}

fn cut_text(text: &str, budget: usize) -> String {
    let n = text.chars().count();
    if n <= budget {
        return text.to_owned();
    }
    let omitted_estimate = n - budget;
    let marker_len = format!(" [… {omitted_estimate} characters omitted …] ").chars().count();
    let keep = budget.saturating_sub(marker_len);
    let (head, tail) = (keep - keep / 2, keep / 2);
    let omitted = n - head - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start} [… {omitted} characters omitted …] {end}")
}

#[derive(Debug)]
struct Unit {
    indices: Vec<usize>,
    chars: usize,
    is_system: bool,
    is_tool_pair: bool,
}

fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

fn tool_call_ids(m: &Value) -> Vec<&str> {
    m.get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| calls.iter().filter_map(|c| c.get("id").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

/// Characters of text content: a string, or the text parts of a list (an image costs nothing here).
pub(crate) fn content_chars(m: &Value) -> usize {
    match m.get("content") {
        Some(Value::String(s)) => s.chars().count(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).map(|t| t.chars().count()).sum()
        }
        _ => 0,
    }
}

fn units(messages: &[Value]) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        let ids = tool_call_ids(m);
        if role(m) == "assistant" && !ids.is_empty() {
            let mut indices = vec![i];
            let mut chars = content_chars(m);
            let mut j = i + 1;
            while j < messages.len()
                && role(&messages[j]) == "tool"
                && messages[j].get("tool_call_id").and_then(Value::as_str).is_some_and(|id| ids.contains(&id))
            {
                indices.push(j);
                chars += content_chars(&messages[j]);
                j += 1;
            }
            out.push(Unit { indices, chars, is_system: false, is_tool_pair: true });
            i = j;
        } else {
            out.push(Unit {
                indices: vec![i],
                chars: content_chars(m),
                is_system: role(m) == "system",
                is_tool_pair: false,
            });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn owned(kept: Vec<Cow<'_, Value>>) -> Vec<Value> {
        kept.into_iter().map(Cow::into_owned).collect()
    }

    fn msg(role: &str, content: &str) -> Value {
        json!({"role": role, "content": content})
    }

    fn call(id: &str) -> Value {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function", "function": {"name": "t", "arguments": "{}"}}]})
    }

    fn reply(id: &str, content: &str) -> Value {
        json!({"role": "tool", "tool_call_id": id, "content": content})
    }

    #[test]
    fn keeps_system_pinned_pair_and_recent_within_budget() {
        let big = "x".repeat(100);
        let msgs = vec![
            msg("system", "rules"),
            msg("user", &big),
            call("a"),
            reply("a", &big),
            msg("user", &big),
            msg("user", "last"),
        ];
        let kept = owned(prune_with(&msgs, 50, 250));
        // budget 250: pinned pair 100 → recent "last"(4) and big(100) fit; the first user (100) does not.
        assert_eq!(kept, vec![msgs[0].clone(), msgs[2].clone(), msgs[3].clone(), msgs[4].clone(), msgs[5].clone()]);
    }

    #[test]
    fn the_latest_user_message_is_always_kept_and_cut_when_alone_too_big() {
        let huge = format!("START {} END", "x".repeat(20_000));
        let msgs = vec![msg("system", "s"), msg("user", "old"), msg("assistant", "a"), msg("user", &huge)];
        let kept = owned(prune(&msgs));
        let last = kept.last().and_then(|m| m["content"].as_str()).unwrap_or_default().to_owned();
        assert!(last.starts_with("START ") && last.ends_with(" END"), "the start and end survive");
        assert!(last.contains("characters omitted …]"), "{}", &last[..80]);
        assert!(last.chars().count() <= CHAR_BUDGET, "{}", last.chars().count());
        assert_eq!(kept[0], msgs[0], "system kept");
        let omitted: usize =
            last.split("[… ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert_eq!(
            omitted + last.chars().count() - format!(" [… {omitted} characters omitted …] ").chars().count(),
            huge.chars().count()
        );
        // A newer assistant message that eats the budget cannot push the question out.
        let msgs = vec![msg("user", "the question"), msg("assistant", &"y".repeat(20_000))];
        let kept = owned(prune(&msgs));
        assert_eq!(kept[0], msgs[0]);
    }

    #[test]
    fn both_limits_are_inclusive_and_count_what_is_always_kept() {
        // Count: the pinned pair (2) and the latest user message (1) count towards max_recent, so
        // with 4 one more message fits, and the one before it does not.
        let msgs = vec![msg("user", "q1"), msg("assistant", "a1"), call("a"), reply("a", "r"), msg("user", "last")];
        assert_eq!(owned(prune_with(&msgs, 4, 10_000)), msgs[1..].to_vec());
        assert_eq!(owned(prune_with(&msgs, 5, 10_000)), msgs, "exactly max_recent messages are kept");
        // Characters: 2 (latest user) + 5 + 4 = 11.
        let msgs = vec![msg("user", "aaaa"), msg("assistant", "bbbbb"), msg("user", "cc")];
        assert_eq!(owned(prune_with(&msgs, 50, 11)), msgs, "exactly the budget is kept");
        assert_eq!(owned(prune_with(&msgs, 50, 10)), msgs[1..].to_vec(), "one character over is not");
    }

    #[test]
    fn a_cut_text_fills_the_budget_exactly() {
        // 20 013 characters into 16 000: the marker's count (4 044 omitted) has as many digits as
        // its first estimate (4 013), so the start, the marker and the end add up to the budget.
        let text = "x".repeat(20_013);
        let cut = cut_in_the_middle(&msg("user", &text), 16_000);
        let cut = cut["content"].as_str().unwrap_or_default();
        assert_eq!(cut.chars().count(), 16_000);
        assert!(cut.contains(" [… 4044 characters omitted …] "), "{}", &cut[7980..8040]);
    }

    #[test]
    fn text_parts_are_cut_in_proportion_and_images_kept() {
        let image = json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}});
        let parts =
            json!([{"type": "text", "text": "a".repeat(3_000)}, image, {"type": "text", "text": "b".repeat(1_000)}]);
        let m = json!({"role": "user", "content": parts});
        let cut = cut_in_the_middle(&m, 1_000);
        let lens: Vec<usize> =
            [0, 2].iter().map(|&i| cut["content"][i]["text"].as_str().map_or(0, |t| t.chars().count())).collect();
        // Shares of 750 and 250 characters; each cut fills its share.
        assert_eq!(lens, vec![750, 250], "{cut}");
        assert_eq!(cut["content"][1], m["content"][1], "the image part is kept as it is");
        // Through prune: the latest user message with list content is cut the same way.
        let kept = owned(prune_with(std::slice::from_ref(&m), 50, 1_000));
        assert_eq!(kept, vec![cut]);
    }

    #[test]
    fn only_an_assistant_message_with_calls_is_pinned() {
        // A plain assistant answer is an ordinary recent message: over the budget, it goes (and the
        // walk stops there), while the latest question stays.
        let msgs = vec![msg("user", "q"), msg("assistant", &"x".repeat(100)), msg("user", "last")];
        assert_eq!(owned(prune_with(&msgs, 50, 50)), vec![msgs[2].clone()]);
    }

    #[test]
    fn only_the_latest_user_message_is_ever_cut() {
        // A pinned tool reply over the budget is sent whole (cutting it would change what the tool
        // said); only the question is shortened.
        let huge = "r".repeat(2_000);
        let msgs = vec![msg("user", &"q".repeat(1_500)), call("a"), reply("a", &huge)];
        let kept = owned(prune_with(&msgs, 50, 1_000));
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[2], msgs[2], "the tool reply is whole");
        assert_eq!(kept[0]["content"].as_str().map(|c| c.chars().count()), Some(1_000), "the question is cut");
    }

    #[test]
    fn short_histories_are_untouched() {
        let msgs = vec![msg("system", "s"), msg("user", "q"), call("a"), reply("a", "r"), msg("assistant", "done")];
        assert_eq!(owned(prune(&msgs)), msgs);
    }

    fn arb_history() -> impl Strategy<Value = Vec<Value>> {
        // (kind, size, calls): 0 system, 1 user, 2 assistant, 3 a tool-call pair with `calls` replies.
        let item = (0u8..4, prop_oneof![9 => 0usize..4000, 1 => 10_000usize..20_000], 1usize..4);
        prop::collection::vec(item, 0..80).prop_map(|items| {
            let mut out = Vec::new();
            for (unit, (kind, n, k)) in items.into_iter().enumerate() {
                match kind {
                    0 => out.push(msg("system", &"s".repeat(n / 10))),
                    1 => out.push(msg("user", &"u".repeat(n))),
                    2 => out.push(msg("assistant", &"a".repeat(n))),
                    _ => {
                        // Ids unique per unit, so equal-looking pairs are still told apart.
                        let ids: Vec<String> = (0..k).map(|i| format!("u{unit}-c{i}")).collect();
                        let calls: Vec<Value> = ids
                            .iter()
                            .map(|id| json!({"id": id, "type": "function", "function": {"name": "t", "arguments": "{}"}}))
                            .collect();
                        out.push(json!({"role": "assistant", "content": null, "tool_calls": calls}));
                        out.extend(ids.iter().map(|id| reply(id, &"r".repeat(n * 3 / 4))));
                    }
                }
            }
            out
        })
    }

    proptest! {
        #[test]
        fn pruning_invariants(history in arb_history()) {
            let kept = owned(prune(&history));
            // Never drops a system message.
            let systems = |v: &[Value]| v.iter().filter(|m| role(m) == "system").count();
            prop_assert_eq!(systems(&kept), systems(&history));
            // Never splits a pair: every kept tool message directly follows its call or a sibling.
            for (i, m) in kept.iter().enumerate() {
                if role(m) == "tool" {
                    let id = m["tool_call_id"].as_str().unwrap_or_default();
                    let owner = kept[..i].iter().rev().find(|p| role(p) != "tool");
                    prop_assert!(owner.is_some_and(|o| tool_call_ids(o).contains(&id)), "orphan tool message {}", id);
                }
                if role(m) == "assistant" && !tool_call_ids(m).is_empty() {
                    let orig = history.iter().position(|h| h == m).unwrap_or(0);
                    let replies_orig = history[orig + 1..].iter().take_while(|h| role(h) == "tool").count();
                    let replies_kept = kept[i + 1..].iter().take_while(|h| role(h) == "tool").count();
                    prop_assert_eq!(replies_orig, replies_kept, "a call lost some of its replies");
                }
            }
            // Order is preserved: kept is a subsequence of history (a cut message stands for its
            // original, the latest user message).
            let latest_user = history.iter().rev().find(|m| role(m) == "user");
            let is_cut = |m: &Value| m["content"].as_str().is_some_and(|c| c.contains("characters omitted …]"));
            let mut it = history.iter();
            for k in &kept {
                prop_assert!(it.any(|h| h == k || (is_cut(k) && Some(h) == latest_user)), "order changed");
            }
            // Respects the budget when possible: beyond systems and the pinned pair, ≤ 16 000 chars and ≤ 50 messages.
            let units = units(&kept);
            let pinned = units.iter().rposition(|u| u.is_tool_pair);
            let pinned_chars = pinned.map_or(0, |p| units[p].chars);
            let pinned_len = pinned.map_or(0, |p| units[p].indices.len());
            let others: usize = units.iter().enumerate().filter(|(i, u)| !u.is_system && Some(*i) != pinned).map(|(_, u)| u.chars).sum();
            let other_len: usize = units.iter().enumerate().filter(|(i, u)| !u.is_system && Some(*i) != pinned).map(|(_, u)| u.indices.len()).sum();
            // Over the limits only with nothing but the latest user message besides the pinned pair
            // (it is always kept).
            let only_latest_user = units.iter().enumerate().filter(|(i, u)| !u.is_system && Some(*i) != pinned).count() <= 1;
            prop_assert!(others + pinned_chars <= CHAR_BUDGET || only_latest_user, "over budget: {} + {}", others, pinned_chars);
            prop_assert!(other_len + pinned_len <= MAX_RECENT || only_latest_user);
            // The latest user message is always there.
            if let Some(latest) = latest_user {
                let kept_latest = kept.iter().rev().find(|m| role(m) == "user");
                prop_assert!(kept_latest.is_some_and(|k| k == latest || is_cut(k)), "the latest user message was dropped");
            }
        }
    }
}
