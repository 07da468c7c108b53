//! Reading settings: one lookup, one set of parsing rules, every problem collected.
//!
//! Each module owns its settings and reads them with `XSettings::from_env(&Env)`; [`crate::config`]
//! only assembles them. The rules live here so every variable is parsed the same way: an empty
//! value counts as unset (a shell user who wrote `export X=` meant "off"), flags accept the usual
//! truthy words, and a value that does not parse is a **problem** naming the variable and what it
//! must be — a server with problems refuses to start, rather than running on a default the operator
//! did not choose.
//!
//! A leaf: it knows no setting by name.

use std::cell::RefCell;
use std::fmt::Debug;
use std::str::FromStr;
use std::time::Duration;

/// One setting as the code reads it: what the configuration reference is generated from
/// ([`crate::config_doc`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub name: String,
    /// The default the code falls back to, as it prints; `None` when it has none of its own.
    pub default: Option<String>,
    /// What a value must be, when the code says ("an integer ≥ 1", "on or off").
    pub rule: Option<String>,
    /// The source file that reads it.
    pub file: &'static str,
}

thread_local! {
    /// Where reads are recorded while [`record_reads`] runs on this thread.
    static READS: RefCell<Option<Vec<Read>>> = const { RefCell::new(None) };
}

/// Runs `f`, returning every setting read through an [`Env`] on this thread meanwhile.
#[cfg(test)]
pub(crate) fn record_reads(f: impl FnOnce()) -> Vec<Read> {
    READS.with(|r| *r.borrow_mut() = Some(Vec::new()));
    f();
    READS.with(|r| r.borrow_mut().take()).unwrap_or_default()
}

#[track_caller]
fn record(name: &str, default: Option<String>, rule: Option<&str>) {
    let file = std::panic::Location::caller().file();
    READS.with(|r| {
        if let Some(reads) = r.borrow_mut().as_mut() {
            reads.push(Read { name: name.to_owned(), default, rule: rule.map(str::to_owned), file });
        }
    });
}

/// The environment, as a lookup function (the process environment, or pairs in tests).
pub struct Env<'a> {
    var: &'a dyn Fn(&str) -> Option<String>,
    problems: RefCell<Vec<String>>,
}

impl<'a> Env<'a> {
    pub fn new(var: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { var, problems: RefCell::new(Vec::new()) }
    }

    /// The value of `name`, `None` when unset or blank.
    #[track_caller]
    pub fn get(&self, name: &str) -> Option<String> {
        record(name, None, None);
        self.value(name)
    }

    fn value(&self, name: &str) -> Option<String> {
        (self.var)(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether `name` is set to a truthy word (`1`, `true`, `yes`, `on`, any case).
    #[track_caller]
    pub fn flag(&self, name: &str) -> bool {
        record(name, Some("off".into()), Some("1/true/yes/on"));
        self.value(name).is_some_and(|v| is_truthy(&v))
    }

    /// An on/off setting: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`; `default` when unset or
    /// empty; anything else is a problem (a typo must not silently flip a switch).
    #[track_caller]
    pub fn switch(&self, name: &str, default: bool) -> bool {
        record(name, Some(if default { "on" } else { "off" }.into()), Some("on or off"));
        let Some(value) = self.value(name) else { return default };
        match value.trim().to_ascii_lowercase().as_str() {
            "" => default,
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                self.problem(format!("{name}={value} is not on or off (use 1/true/on or 0/false/off)"));
                default
            }
        }
    }

    /// `name` parsed as `T`, `default` when unset; a value that does not parse, or that `valid`
    /// refuses, is a problem described by `rule` ("a port number", "an integer ≥ 1").
    #[track_caller]
    pub fn parse_where<T: FromStr + Debug>(&self, name: &str, default: T, rule: &str, valid: impl Fn(&T) -> bool) -> T {
        record(name, Some(format!("{default:?}").trim_matches('"').to_owned()), Some(rule));
        match self.value(name) {
            None => default,
            Some(raw) => match raw.trim().parse::<T>() {
                Ok(v) if valid(&v) => v,
                _ => {
                    self.problem(format!("{name} must be {rule}, got {raw:?}"));
                    default
                }
            },
        }
    }

    /// `name` parsed as `T` (any value of the type is valid).
    #[track_caller]
    pub fn parse<T: FromStr + Debug>(&self, name: &str, default: T, rule: &str) -> T {
        self.parse_where(name, default, rule, |_| true)
    }

    /// A positive, finite number of seconds.
    #[track_caller]
    pub fn secs(&self, name: &str, default: Duration) -> Duration {
        let secs = self
            .parse_where(name, default.as_secs_f64(), "a positive number of seconds", |s| s.is_finite() && *s > 0.0);
        Duration::from_secs_f64(secs.min(MAX_SECONDS))
    }

    /// Records a problem; the server will refuse to start and print it.
    pub fn problem(&self, text: String) {
        self.problems.borrow_mut().push(text);
    }

    /// Every problem found while reading.
    pub fn into_problems(self) -> Vec<String> {
        self.problems.into_inner()
    }
}

/// Longest duration a setting may ask for (a year): `Duration::from_secs_f64` panics past its range.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

pub(crate) fn is_truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<T>(pairs: &[(&str, &str)], f: impl FnOnce(&Env) -> T) -> (T, Vec<String>) {
        let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&lookup);
        let out = f(&env);
        (out, env.into_problems())
    }

    #[test]
    fn blank_is_unset_and_flags_take_truthy_words() {
        let ((a, b, c), problems) =
            with(&[("A", "  "), ("B", "Yes"), ("C", "0")], |e| (e.get("A"), e.flag("B"), e.flag("C")));
        assert_eq!((a, b, c), (None, true, false));
        assert!(problems.is_empty());
    }

    #[test]
    fn a_value_that_does_not_parse_is_a_problem_naming_the_variable() {
        let (port, problems) = with(&[("PORT", "eighty")], |e| e.parse::<u16>("PORT", 8788, "a port number"));
        assert_eq!(port, 8788);
        assert_eq!(problems, [r#"PORT must be a port number, got "eighty""#]);
        let (t, problems) = with(&[("T", "-3")], |e| e.secs("T", Duration::from_secs(1)));
        assert_eq!(t, Duration::from_secs(1));
        assert_eq!(problems.len(), 1);
        let (t, _) = with(&[("T", "1e308")], |e| e.secs("T", Duration::from_secs(1)));
        assert_eq!(t, Duration::from_secs_f64(MAX_SECONDS), "huge values are clamped, not a panic");
    }

    #[test]
    fn switches_take_on_and_off_words_and_refuse_typos() {
        let ((a, b, c, d), problems) = with(&[("A", "off"), ("B", "ON"), ("D", "of")], |e| {
            (e.switch("A", true), e.switch("B", false), e.switch("C", true), e.switch("D", true))
        });
        assert_eq!((a, b, c, d), (false, true, true, true));
        assert_eq!(problems, ["D=of is not on or off (use 1/true/on or 0/false/off)"]);
    }
}
