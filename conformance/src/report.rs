//! Rendering outcomes: a line per case for people, JSON for machines, and the counts.

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
}

pub fn counts(outcomes: &[CaseOutcome]) -> BTreeMap<Profile, Counts> {
    let mut map: BTreeMap<Profile, Counts> = BTreeMap::new();
    for o in outcomes {
        let c = map.entry(o.profile).or_default();
        match o.verdict {
            Verdict::Pass => c.passed += 1,
            Verdict::Fail(_) => c.failed += 1,
            Verdict::Skip(_) => c.skipped += 1,
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
    }
}

pub fn pretty(outcomes: &[CaseOutcome]) -> String {
    let mut out = String::new();
    let total = counts(outcomes);
    for (profile, c) in &total {
        out.push_str(&format!(
            "{:<9} {} passed, {} failed, {} skipped\n",
            profile.name(),
            c.passed,
            c.failed,
            c.skipped
        ));
    }
    let (p, f, s) = total.values().fold((0, 0, 0), |(p, f, s), c| (p + c.passed, f + c.failed, s + c.skipped));
    out.push_str(&format!("{p} passed, {f} failed, {s} skipped\n"));
    out
}

pub fn json(outcomes: &[CaseOutcome]) -> String {
    let by_profile: BTreeMap<&str, Counts> = counts(outcomes).into_iter().map(|(p, c)| (p.name(), c)).collect();
    let value = json!({"counts": by_profile, "cases": outcomes});
    serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
