//! What a bridged request could not carry, said rather than lost: each entry becomes part of the
//! `x-miniagent-warnings` header (a comma list of `dropped:tools[i].type=<type>` and
//! `unmapped:<field>`) and of one `warn` log line.
//!
//! Field names come from the client's JSON, so an entry is reduced to characters a header and a
//! log line can hold, and the list is bounded: a request with a thousand unknown fields makes a
//! short header, not a large one.

use std::fmt;

/// At most this many entries are listed; the rest are counted.
const MAX_ENTRIES: usize = 24;
/// An entry's field or type is cut at this many characters.
const MAX_TEXT: usize = 80;

/// One thing the bridge did not carry upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Warning {
    /// A tool (or history item) of a kind no chat provider can run, left out: `dropped:<field>=<kind>`.
    Dropped { field: String, kind: String },
    /// A request field with no chat equivalent: `unmapped:<field>`.
    Unmapped { field: String },
}

impl Warning {
    pub(crate) fn dropped(field: impl Into<String>, kind: impl Into<String>) -> Self {
        Self::Dropped { field: field.into(), kind: kind.into() }
    }

    pub(crate) fn unmapped(field: impl Into<String>) -> Self {
        Self::Unmapped { field: field.into() }
    }
}

/// Characters a header value may hold and a reader can trust: ASCII letters, digits and a little
/// punctuation; anything else becomes `?`.
fn clean(text: &str) -> String {
    text.chars()
        .take(MAX_TEXT)
        .map(|c| if c.is_ascii_alphanumeric() || "_-.[]/".contains(c) { c } else { '?' })
        .collect()
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dropped { field, kind } => write!(f, "dropped:{}={}", clean(field), clean(kind)),
            Self::Unmapped { field } => write!(f, "unmapped:{}", clean(field)),
        }
    }
}

/// The header's value for `warnings` (`None` when there are none).
pub(crate) fn header_value(warnings: &[Warning]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = warnings.iter().take(MAX_ENTRIES).map(Warning::to_string).collect();
    if warnings.len() > MAX_ENTRIES {
        parts.push(format!("more:{}", warnings.len() - MAX_ENTRIES));
    }
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_clean_and_the_list_is_bounded() {
        let w = [Warning::dropped("tools[9].type", "web_search"), Warning::unmapped("reasoning.summary")];
        assert_eq!(header_value(&w).as_deref(), Some("dropped:tools[9].type=web_search,unmapped:reasoning.summary"));
        assert_eq!(Warning::unmapped("a,b\r\nX-Evil: 1").to_string(), "unmapped:a?b??X-Evil??1");
        let many: Vec<Warning> = (0..30).map(|i| Warning::unmapped(format!("f{i}"))).collect();
        let value = header_value(&many).unwrap_or_default();
        assert!(value.ends_with(",more:6"), "{value}");
        let value = header_value(&many[..24]).unwrap_or_default();
        assert!(value.ends_with(",unmapped:f23"), "exactly the bound: every entry, no `more`: {value}");
        assert_eq!(header_value(&[]), None);
    }
}
