//! Rendering outcomes: a line per case for people, JSON and JUnit XML for machines, the counts per
//! profile and per level — the summary line `required 30/31, recommended 40/42, faithful 10/12`
//! (passed of run; skips apart) — and the per-feature summary of skips (how many cases each missing
//! feature skipped, and how to enable it) that tells a maintainer what to turn on next.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::case::{Level, Profile};
use crate::features::{Feature, FeatureStatus, Setup};
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

impl Counts {
    fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::Skip(_) => self.skipped += 1,
            Verdict::ExpectedFail(_) => self.expected_failures += 1,
            Verdict::Stale => self.stale += 1,
        }
    }

    /// The cases that ran (everything but skips), and of those the ones that passed — a stale
    /// expected failure passed, an expected one did not.
    pub fn passed_of_run(&self) -> (usize, usize) {
        (self.passed + self.stale, self.passed + self.failed + self.expected_failures + self.stale)
    }
}

pub fn counts(outcomes: &[CaseOutcome]) -> BTreeMap<Profile, Counts> {
    let mut map: BTreeMap<Profile, Counts> = BTreeMap::new();
    for o in outcomes {
        map.entry(o.profile).or_default().add(&o.verdict);
    }
    map
}

/// Counts per level, every level present (a level no case of the run has counts 0/0).
pub fn level_counts(outcomes: &[CaseOutcome]) -> BTreeMap<Level, Counts> {
    let mut map: BTreeMap<Level, Counts> = Level::ALL.into_iter().map(|l| (l, Counts::default())).collect();
    for o in outcomes {
        map.entry(o.level).or_default().add(&o.verdict);
    }
    map
}

/// `required 30/31, recommended 40/42, faithful 10/12 (passed/run); 27 skipped`.
pub fn level_summary(outcomes: &[CaseOutcome]) -> String {
    let levels = level_counts(outcomes);
    let parts: Vec<String> = levels
        .iter()
        .map(|(level, c)| {
            let (passed, run) = c.passed_of_run();
            format!("{} {passed}/{run}", level.name())
        })
        .collect();
    let skipped: usize = levels.values().map(|c| c.skipped).sum();
    format!("{} (passed/run); {skipped} skipped", parts.join(", "))
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

/// How many cases one missing feature skipped, and how to enable it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureSkips {
    pub feature: Feature,
    pub skipped: usize,
    pub enable: String,
}

/// Skips per missing feature, most skips first. A case that needs several missing features counts
/// for each: the number says how many cases the feature alone holds back at most.
pub fn skips_by_feature(outcomes: &[CaseOutcome], setup: &Setup) -> Vec<FeatureSkips> {
    let mut per: BTreeMap<Feature, usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Skip(_))) {
        for f in &o.missing_features {
            *per.entry(*f).or_default() += 1;
        }
    }
    let mut out: Vec<FeatureSkips> = per
        .into_iter()
        .map(|(feature, skipped)| FeatureSkips { feature, skipped, enable: feature.how_to_enable(setup) })
        .collect();
    out.sort_by(|a, b| b.skipped.cmp(&a.skipped).then(a.feature.cmp(&b.feature)));
    out
}

/// Skipped cases the target answered as unsupported (an extension it refuses), not for a feature.
fn unsupported_skips(outcomes: &[CaseOutcome]) -> usize {
    outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Skip(_)) && o.missing_features.is_empty()).count()
}

/// The summary block of the pretty report: skips per feature and how to enable each.
fn feature_summary(outcomes: &[CaseOutcome], skips: &[FeatureSkips]) -> String {
    let mut out = String::new();
    if !skips.is_empty() {
        out.push_str("skipped for missing features (a case needing several counts for each):\n");
    }
    for s in skips {
        let noun = if s.skipped == 1 { "case" } else { "cases" };
        let _ = writeln!(out, "  {:<20} {:>3} {noun:<5} — to enable: {}", s.feature.name(), s.skipped, s.enable);
    }
    let unsupported = unsupported_skips(outcomes);
    if unsupported > 0 {
        let _ = writeln!(
            out,
            "  {:<20} {unsupported:>3} cases — the target answered as lacking an extension; see each case's reason",
            "(unsupported)"
        );
    }
    out
}

/// Counts per profile, the per-feature summary of skips, and the totals line.
pub fn pretty(outcomes: &[CaseOutcome], skips: &[FeatureSkips]) -> String {
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
    out.push_str(&feature_summary(outcomes, skips));
    out.push_str(&level_summary(outcomes));
    out.push('\n');
    let sum = |f: fn(&Counts) -> usize| total.values().map(f).sum::<usize>();
    let (p, f, s) = (sum(|c| c.passed), sum(|c| c.failed + c.stale), sum(|c| c.skipped + c.expected_failures));
    // The last line is the plain "N passed, N failed, N skipped" that CI runners read.
    out.push_str(&format!("{p} passed, {f} failed, {s} skipped\n"));
    out
}

/// Counts, every case, the features the run assumed (and why), and the per-feature summary of skips.
pub fn json(outcomes: &[CaseOutcome], features: &[FeatureStatus], skips: &[FeatureSkips]) -> String {
    let by_profile: BTreeMap<&str, Counts> = counts(outcomes).into_iter().map(|(p, c)| (p.name(), c)).collect();
    let value = json!({
        "summary": level_summary(outcomes),
        "counts": by_profile,
        "levels": level_counts(outcomes).into_iter().map(|(l, c)| (l.name(), c)).collect::<BTreeMap<_, _>>(),
        "cases": outcomes,
        "features": features,
        "skipped_unsupported": unsupported_skips(outcomes),
        "skipped_by_feature": skips,
    });
    serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// JUnit XML: one `<testsuite>` per profile, one `<testcase>` per case, its level as the property
/// `level` (as pytest's `record_property` writes them).
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
            out.push_str(&format!("<properties><property name=\"level\" value=\"{}\"/></properties>", o.level.name()));
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

/// Text escaped for XML and HTML (attribute values included); control characters but newline and tab
/// dropped.
pub(crate) fn xml(text: &str) -> String {
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
                level: Level::Required,
                verdict: Verdict::Fail("bad \"thing\" & more".into()),
                millis: 5,
                missing_features: vec![],
            },
            CaseOutcome {
                id: "c.d",
                clause: "§2",
                profile: Profile::Core,
                level: Level::Faithful,
                verdict: Verdict::Skip("no feature".into()),
                millis: 0,
                missing_features: vec![Feature::ProviderFake],
            },
        ];
        let x = junit(&outcomes);
        assert!(x.contains("tests=\"2\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("classname=\"§1 &lt;x&gt;\"") && x.contains("bad &quot;thing&quot; &amp; more"), "{x}");
        let skips = skips_by_feature(&outcomes, &Setup::default());
        assert_eq!(skips.len(), 1);
        assert_eq!((skips[0].feature, skips[0].skipped), (Feature::ProviderFake, 1));
        let text = pretty(&outcomes, &skips);
        assert!(
            text.contains("provider-fake          1 case  — to enable: start the target with OPENAI_API_BASE="),
            "{text}"
        );
        assert!(text.ends_with("0 passed, 1 failed, 1 skipped\n"), "the totals line stays last: {text}");
        assert!(
            text.contains("required 0/1, recommended 0/0, faithful 0/0 (passed/run); 1 skipped\n"),
            "the level summary: {text}"
        );
        assert!(x.contains("<property name=\"level\" value=\"required\"/>"), "{x}");
        let j: serde_json::Value = serde_json::from_str(&json(&outcomes, &[], &skips)).expect("JSON");
        assert_eq!(
            (j["cases"][0]["level"].clone(), j["levels"]["faithful"]["skipped"].clone()),
            (json!("required"), json!(1))
        );
        assert_eq!(j["summary"], json!("required 0/1, recommended 0/0, faithful 0/0 (passed/run); 1 skipped"));
    }
}
