//! How many JSON values a body holds, counted without building any of them — so a request the
//! server will parse into `serde_json::Value`s cannot make it allocate 40× its size (8 MiB of
//! `1,1,1,…` is four million values). The scan stops as soon as the budget is spent.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Values a body may hold on the routes that parse it whole (`/agent/run`, the agent mode of the
/// shim, the Responses bridge, exec-RPC, the sidecar). A long real conversation holds a few
/// thousand; text, however long, is one value each.
pub const MAX_JSON_VALUES: usize = 200_000;

/// Whether `body` holds at most `max` JSON values (`Ok` too when it is not JSON at all: the real
/// parse reports that better).
pub(crate) fn within(body: &[u8], max: usize) -> bool {
    // Every value takes at least one byte: a body no longer than `max` cannot hold more (and most
    // requests are far below the limit — counting them cost 2 % of an `/agent/run`).
    if body.len() <= max {
        return true;
    }
    let left = Cell::new(max);
    let mut de = serde_json::Deserializer::from_slice(body);
    match (Count { left: &left }).deserialize(&mut de) {
        Ok(()) => true,
        Err(e) => !e.to_string().starts_with(OVER),
    }
}

const OVER: &str = "over the JSON value budget";

#[derive(Clone, Copy)]
struct Count<'a> {
    left: &'a Cell<usize>,
}

impl Count<'_> {
    fn take<E: de::Error>(self) -> Result<(), E> {
        match self.left.get() {
            0 => Err(E::custom(OVER)),
            n => {
                self.left.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.take()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.take()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.take()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.take()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.take()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.take()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.take()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.take()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.take()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_value_and_stops_at_the_budget() {
        let body = br#"{"a":[1,2,{"b":null}],"c":"x"}"#;
        // object, "a", array, 1, 2, object, "b", null, "c", "x" = 10
        assert!(within(body, 10));
        assert!(!within(body, 9));
        let numbers = format!("[{}1]", "1,".repeat(1_000_000));
        assert!(!within(numbers.as_bytes(), MAX_JSON_VALUES));
        assert!(within(b"{not json", 1), "the real parse reports malformed JSON");
        let text = format!(r#"{{"content":"{}"}}"#, "a".repeat(1 << 20));
        assert!(within(text.as_bytes(), 3), "a long text is one value");
    }

    #[test]
    fn every_kind_of_value_counts_and_each_alone_can_spend_the_budget() {
        for value in [
            "true",
            "false",
            "0",
            "7",
            "-1",
            "-9223372036854775808",
            "1.5",
            "-2e-3",
            "1e300",
            "null",
            r#""x""#,
            "[]",
            "{}",
        ] {
            assert!(within(value.as_bytes(), 1), "{value} is one value");
            assert!(!within(value.as_bytes(), 0), "{value} is over a budget of none");
            let three = format!("[{value},{value},{value}]");
            assert!(within(three.as_bytes(), 4), "{three} is four values");
            assert!(!within(three.as_bytes(), 3), "{three} is over a budget of three");
        }
        let many_bools = format!("[{}true]", "false,".repeat(300_000));
        assert!(!within(many_bools.as_bytes(), MAX_JSON_VALUES), "a body of booleans is refused like one of numbers");
        let many_negatives = format!("[{}-1]", "-1,".repeat(300_000));
        assert!(!within(many_negatives.as_bytes(), MAX_JSON_VALUES));
        let many_floats = format!("[{}0.5]", "0.5,".repeat(300_000));
        assert!(!within(many_floats.as_bytes(), MAX_JSON_VALUES));
        let many_nulls = format!("[{}null]", "null,".repeat(300_000));
        assert!(!within(many_nulls.as_bytes(), MAX_JSON_VALUES));
    }
}
