//! A request body as its top-level fields, each kept as the raw JSON text it arrived as.
//!
//! The proxy reads only what routing needs (`model`, `stream`, `tool_backend`) and forwards every
//! other field byte for byte: nothing below the top level is parsed into values, so a body of
//! images or a long history costs one validating scan, not a tree of allocations, and a field this
//! server has never heard of reaches the provider exactly as the client wrote it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::api::RequestError;

/// The top-level fields of a JSON object body, in the order they came.
#[derive(Debug)]
pub(crate) struct RawObject<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// Parses `body`: not JSON → 400, not an object → 400 naming the body.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, RequestError> {
        let text =
            std::str::from_utf8(body).map_err(|e| RequestError::Malformed(format!("the body is not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            return Err(RequestError::Malformed("the body is empty; send a JSON object".to_owned()));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let fields = de.deserialize_any(FieldsVisitor).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => RequestError::invalid("body", "the body must be a JSON object"),
            _ => RequestError::Malformed(e.to_string()),
        })?;
        de.end().map_err(|e| RequestError::Malformed(e.to_string()))?;
        Ok(Self { fields })
    }

    /// The raw text of `key`, when present.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// `key` as a string: absent or `null` is `None`, another type is a 400 naming it.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, RequestError> {
        self.typed(key, "a string")
    }

    /// `key` as a boolean: absent or `null` is `None`, another type is a 400 naming it.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, RequestError> {
        self.typed(key, "a boolean")
    }

    /// `key` parsed as `T` (absent or `null` is `None`).
    pub(crate) fn typed<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, RequestError> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => serde_json::from_str(raw.get())
                .map(Some)
                .map_err(|_| RequestError::invalid(key, format!("`{key}` must be {what}, got {}", excerpt(raw.get())))),
        }
    }

    /// Whether `key` is present and a JSON array.
    pub(crate) fn is_array(&self, key: &str) -> bool {
        self.get(key).is_some_and(|r| r.get().starts_with('['))
    }

    /// The object again, with `replace`'s fields given new (JSON-encoded) values in place and
    /// `drop`'s fields left out; everything else byte for byte.
    pub(crate) fn write(&self, replace: &[(&str, &str)], drop: &[&str]) -> Vec<u8> {
        let size: usize = self.fields.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum();
        let mut out = Vec::with_capacity(size + 2);
        out.push(b'{');
        let mut first = true;
        for (key, value) in &self.fields {
            if drop.contains(&key.as_ref()) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            // A key is a string; writing it through serde escapes it again correctly.
            let _ = serde_json::to_writer(&mut out, key.as_ref());
            out.push(b':');
            let value = replace.iter().find(|(k, _)| *k == key.as_ref()).map_or(value.get(), |(_, v)| *v);
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'}');
        out
    }
}

fn excerpt(text: &str) -> String {
    crate::text::excerpt(text, 60)
}

/// A key that borrows from the body unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_lazily_and_written_back_byte_for_byte() {
        let body = br#"{"model":"openai/gpt-4o", "messages":[{"role":"user","content":"hi"}],"x-unknown":{"a" : [1, 2.50]},"stream":true}"#;
        let obj = RawObject::parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(obj.string("model").ok().flatten().as_deref(), Some("openai/gpt-4o"));
        assert_eq!(obj.boolean("stream").ok().flatten(), Some(true));
        assert!(obj.is_array("messages"));
        let out = obj.write(&[("model", "\"gpt-4o\"")], &["stream"]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x-unknown":{"a" : [1, 2.50]}}"#
        );
    }

    /// An explicit `null` is the field left out (SDKs that serialize `None` send it), for every type.
    #[test]
    fn null_is_the_same_as_absent() {
        let obj = RawObject::parse(br#"{"stream":null,"user":null,"n":null}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(obj.boolean("stream").ok(), Some(None));
        assert_eq!(obj.string("user").ok(), Some(None));
        assert_eq!(obj.typed::<u32>("n", "a number").ok(), Some(None));
        assert_eq!(obj.typed::<u32>("absent", "a number").ok(), Some(None));
    }

    #[test]
    fn bad_bodies_and_fields_say_what_is_wrong() {
        assert!(matches!(RawObject::parse(b"{nope"), Err(RequestError::Malformed(_))));
        assert!(matches!(RawObject::parse(b"[1]"), Err(RequestError::Invalid { .. })));
        assert!(matches!(RawObject::parse(b"  "), Err(RequestError::Malformed(_))));
        let obj = RawObject::parse(br#"{"model":5,"k\u0065y":1}"#).unwrap_or_else(|e| panic!("{e}"));
        let err = obj.string("model").expect_err("not a string");
        assert_eq!(err.field(), Some("model"));
        assert!(err.to_string().contains("`model` must be a string, got 5"), "{err}");
        assert!(obj.get("key").is_some(), "an escaped key is still found");
    }
}
