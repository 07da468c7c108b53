//! Expected failures: a project's list of known gaps, so a run fails only on regressions.
//!
//! The file has one case id per line (`#` starts a comment; text after the id is a note). A listed
//! case that fails is an expected failure; a listed case that now **passes** is stale and fails the
//! run (the list must shrink as gaps close); a listed id that is no case at all is an error, so a
//! typo cannot silently excuse nothing.

use std::collections::BTreeSet;

use crate::case::Case;
use crate::runner::{CaseOutcome, Verdict};

/// Parses the file text into case ids, refusing ids that are not cases.
pub fn parse(text: &str, cases: &[Case]) -> Result<BTreeSet<String>, String> {
    let mut ids = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let Some(id) = line.split('#').next().and_then(|l| l.split_whitespace().next()) else { continue };
        if !cases.iter().any(|c| c.id == id) {
            return Err(format!("line {}: `{id}` is not a conformance case (see `conformance list`)", n + 1));
        }
        ids.insert(id.to_owned());
    }
    Ok(ids)
}

/// Rewrites outcomes of listed cases: failures become expected, passes become stale.
pub fn apply(outcomes: &mut [CaseOutcome], expected: &BTreeSet<String>) {
    for o in outcomes.iter_mut().filter(|o| expected.contains(o.id)) {
        o.verdict = match std::mem::replace(&mut o.verdict, Verdict::Pass) {
            Verdict::Fail(why) => Verdict::ExpectedFail(why),
            Verdict::Pass => Verdict::Stale,
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Level, Profile};

    fn outcome(id: &'static str, verdict: Verdict) -> CaseOutcome {
        CaseOutcome {
            id,
            clause: "§x",
            profile: Profile::Core,
            level: Level::Required,
            verdict,
            millis: 0,
            missing_features: vec![],
        }
    }

    #[test]
    fn listed_failures_are_expected_and_listed_passes_are_stale() {
        let cases = crate::cases::all();
        let ids = parse("# known gaps\nhealth.ready.shape  # note\n\nshim.echo.reply\n", &cases).expect("valid");
        let mut outcomes = vec![
            outcome("health.ready.shape", Verdict::Fail("x".into())),
            outcome("shim.echo.reply", Verdict::Pass),
            outcome("models.list.shape", Verdict::Fail("y".into())),
        ];
        apply(&mut outcomes, &ids);
        assert_eq!(outcomes[0].verdict, Verdict::ExpectedFail("x".into()));
        assert_eq!(outcomes[1].verdict, Verdict::Stale);
        assert!(outcomes[1].fails_run(false) && outcomes[2].fails_run(false) && !outcomes[0].fails_run(true));
        assert!(parse("no.such.case\n", &cases).expect_err("typo").contains("not a conformance case"));
    }
}
