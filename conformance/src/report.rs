//! Rendering outcomes: a line per case for people, JSON and JUnit XML for machines, and the counts.

use std::collections::BTreeMap;

use serde_json::json;

use crate::case::Profile;
use crate::runner::{CaseOutcome, Verdict};

/// Counts of one profile.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    pub stale: usize,
}

pub fn counts(outcomes: &[CaseOutcome]) -> BTreeMap<Profile, Counts> {
    let mut map: BTreeMap<Profile, Counts> = BTreeMap::new();
    for o in outcomes {
        let c = map.entry(o.profile).or_default();
        match o.verdict {
            Verdict::Pass => c.passed += 1,
            Verdict::Fail(_) => c.failed += 1,
            Verdict::Skip(_) => c.skipped += 1,
            Verdict::ExpectedFail(_) => c.expected_failures += 1,
            Verdict::Stale => c.stale += 1,
        }
    }
    map
}

/// One line for a finished case (the progress line on a terminal).
pub fn line(o: &CaseOutcome) -> String {
    match &o.verdict {
        Verdict::Pass => format!("PASS  {} ({} ms)", o.id, o.millis),
        Verdict::Skip(why) => format!("SKIP  {} — {why}", o.id),
        Verdict::Fail(why) => format!("FAIL  {} [{}]\n      {}", o.id, o.clause, why.replace('\n', "\n      ")),
        Verdict::ExpectedFail(why) => format!("XFAIL {} — expected: {}", o.id, why.lines().next().unwrap_or_default()),
        Verdict::Stale => format!("STALE {} — passes now: remove it from the expected-failures file", o.id),
    }
}

pub fn pretty(outcomes: &[CaseOutcome]) -> String {
    let mut out = String::new();
    let total = counts(outcomes);
    for (profile, c) in &total {
        out.push_str(&format!(
            "{:<9} {} passed, {} failed, {} skipped, {} expected failures, {} stale\n",
            profile.name(),
            c.passed,
            c.failed,
            c.skipped,
            c.expected_failures,
            c.stale
        ));
    }
    let sum = |f: fn(&Counts) -> usize| total.values().map(f).sum::<usize>();
    let (p, f, s) = (sum(|c| c.passed), sum(|c| c.failed + c.stale), sum(|c| c.skipped + c.expected_failures));
    // The last line is the plain "N passed, N failed, N skipped" that CI runners read.
    out.push_str(&format!("{p} passed, {f} failed, {s} skipped\n"));
    out
}

pub fn json(outcomes: &[CaseOutcome]) -> String {
    let by_profile: BTreeMap<&str, Counts> = counts(outcomes).into_iter().map(|(p, c)| (p.name(), c)).collect();
    let value = json!({"counts": by_profile, "cases": outcomes});
    serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// JUnit XML: one `<testsuite>` per profile, one `<testcase>` per case.
pub fn junit(outcomes: &[CaseOutcome]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"miniagent-conformance\">\n");
    for (profile, c) in counts(outcomes) {
        let cases: Vec<&CaseOutcome> = outcomes.iter().filter(|o| o.profile == profile).collect();
        out.push_str(&format!(
            "  <testsuite name=\"conformance.{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            profile.name(),
            cases.len(),
            c.failed + c.stale,
            c.skipped + c.expected_failures
        ));
        for o in cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                xml(o.clause),
                xml(o.id),
                o.millis as f64 / 1e3
            ));
            match &o.verdict {
                Verdict::Pass => {}
                Verdict::Fail(why) => {
                    let first = xml(why.lines().next().unwrap_or_default());
                    out.push_str(&format!("<failure message=\"{first}\">{}</failure>", xml(why)));
                }
                Verdict::Stale => out.push_str("<failure message=\"stale expected failure: the case passes now\"/>"),
                Verdict::Skip(why) => out.push_str(&format!("<skipped message=\"{}\"/>", xml(why))),
                Verdict::ExpectedFail(why) => {
                    let first = xml(why.lines().next().unwrap_or_default());
                    out.push_str(&format!("<skipped message=\"expected failure: {first}\"/>"));
                }
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let outcomes = vec![
            CaseOutcome {
                id: "a.b",
                clause: "§1 <x>",
                profile: Profile::Core,
                verdict: Verdict::Fail("bad \"thing\" & more".into()),
                millis: 5,
            },
            CaseOutcome {
                id: "c.d",
                clause: "§2",
                profile: Profile::Core,
                verdict: Verdict::Skip("no feature".into()),
                millis: 0,
            },
        ];
        let x = junit(&outcomes);
        assert!(x.contains("tests=\"2\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("classname=\"§1 &lt;x&gt;\"") && x.contains("bad &quot;thing&quot; &amp; more"), "{x}");
        assert!(pretty(&outcomes).ends_with("0 passed, 1 failed, 1 skipped\n"));
    }
}
