//! Selecting and running cases: profile and feature filters, skips with reasons (naming the missing
//! feature and how to enable it), a time limit and panic containment per case, results in registry
//! order, and whether the run failed — on a `required` case, or on any case with `--strict`.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;

use crate::case::{Case, Level, Profile};
use crate::failure::Failure;
use crate::features::{Feature, Setup};
use crate::target::Ctx;

/// A case that has not finished in this long has failed: a hang is a bug too.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Which cases to run.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Run the cases this profile includes (`extended` runs all; see [`Profile::includes`]).
    pub profile: Profile,
    /// What the target supports; cases needing anything else are skipped.
    pub features: HashSet<Feature>,
    /// Only ids matching this glob (`*` matches any run of characters).
    pub pattern: Option<String>,
    /// Fills in the feature table's placeholders in skip messages.
    pub setup: Setup,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
    /// Failed, and listed in the expected-failures file: a known gap, not a regression.
    #[serde(rename = "expected_fail")]
    ExpectedFail(String),
    /// Passed, but listed in the expected-failures file: the entry is stale and must go.
    Stale,
}

impl Verdict {
    /// Whether this is a failure: the case failed, or passed while listed as expected to fail.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Fail(_) | Self::Stale)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOutcome {
    pub id: &'static str,
    pub clause: &'static str,
    pub profile: Profile,
    pub level: Level,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub millis: u128,
    /// The features whose absence skipped the case (empty unless it was skipped for that).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_features: Vec<Feature>,
}

impl Selection {
    /// Whether the case is in scope at all (profile and pattern).
    pub fn includes(&self, case: &Case) -> bool {
        self.profile.includes(case.profile) && self.pattern.as_deref().is_none_or(|p| glob_match(p, case.id))
    }

    /// The features the case needs that the target lacks.
    pub fn missing(&self, case: &Case) -> Vec<Feature> {
        case.features.iter().copied().filter(|f| !self.features.contains(f)).collect()
    }

    /// Why a case needing `missing` is skipped: each feature, and how to enable it.
    pub fn skip_reason(&self, missing: &[Feature]) -> String {
        let parts: Vec<String> =
            missing.iter().map(|f| format!("`{}` (to enable: {})", f.name(), f.how_to_enable(&self.setup))).collect();
        let noun = if missing.len() == 1 { "feature" } else { "features" };
        format!("needs {noun} {}", parts.join(", "))
    }
}

/// Runs one case with panic containment and [`CASE_TIMEOUT`].
pub async fn run_case(case: &Case, ctx: &Ctx) -> Verdict {
    run_case_within(case, ctx, CASE_TIMEOUT).await
}

/// Runs one case with panic containment; a case still running after `limit` fails.
pub async fn run_case_within(case: &Case, ctx: &Ctx, limit: Duration) -> Verdict {
    let fut = AssertUnwindSafe((case.run)(ctx)).catch_unwind();
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(Ok(()))) => Verdict::Pass,
        Ok(Ok(Err(Failure::Unsupported(reason)))) => Verdict::Skip(format!("target does not support it: {reason}")),
        Ok(Ok(Err(Failure::Failed(why)))) => Verdict::Fail(why),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".to_owned());
            Verdict::Fail(format!("the case panicked: {msg}"))
        }
        Err(_) => Verdict::Fail(format!("no result within {}s", limit.as_secs())),
    }
}

/// Runs the selected cases one after another against contexts from `ctx_for`, reporting each
/// outcome to `progress` as it is known.
pub async fn run_all(
    cases: &[Case],
    selection: &Selection,
    ctx_for: impl Fn(&Case) -> Ctx,
    mut progress: impl FnMut(&CaseOutcome),
) -> Vec<CaseOutcome> {
    let mut out = Vec::new();
    for case in cases.iter().filter(|c| selection.includes(c)) {
        let started = Instant::now();
        let missing_features = selection.missing(case);
        let verdict = if missing_features.is_empty() {
            run_case(case, &ctx_for(case)).await
        } else {
            Verdict::Skip(selection.skip_reason(&missing_features))
        };
        let outcome = CaseOutcome {
            id: case.id,
            clause: case.clause,
            profile: case.profile,
            level: case.level,
            verdict,
            millis: started.elapsed().as_millis(),
            missing_features,
        };
        progress(&outcome);
        out.push(outcome);
    }
    out
}

impl CaseOutcome {
    /// Whether this outcome fails the run: a failure of a `required` case, or with `strict` any
    /// failure. A gateway that is faithful by design elsewhere (it rewrites `model`, say) still
    /// passes the run when every client it serves works.
    pub fn fails_run(&self, strict: bool) -> bool {
        self.verdict.is_failure() && (strict || self.level == Level::Required)
    }
}

/// Whether a run with these outcomes failed (see [`CaseOutcome::fails_run`]).
pub fn run_failed(outcomes: &[CaseOutcome], strict: bool) -> bool {
    outcomes.iter().any(|o| o.fails_run(strict))
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn profiles_select_their_cases() {
        use crate::case::Profile::{Core, Extended, Openai};
        assert!(Core.includes(Core) && !Core.includes(Extended) && !Core.includes(Openai));
        assert!(Extended.includes(Core) && Extended.includes(Extended) && Extended.includes(Openai));
        assert!(Openai.includes(Openai) && !Openai.includes(Core) && !Openai.includes(Extended));
    }

    #[test]
    fn only_a_required_failure_fails_a_run_unless_strict() {
        use super::{CaseOutcome, Level, Profile, Verdict, run_failed};
        let outcome = |level, verdict| CaseOutcome {
            id: "x",
            clause: "§",
            profile: Profile::Openai,
            level,
            verdict,
            millis: 0,
            missing_features: vec![],
        };
        let fail = || Verdict::Fail("no".into());
        let recommended = [outcome(Level::Recommended, fail()), outcome(Level::Faithful, Verdict::Stale)];
        assert!(!run_failed(&recommended, false) && run_failed(&recommended, true));
        let required = [outcome(Level::Required, Verdict::Pass), outcome(Level::Required, Verdict::Stale)];
        assert!(run_failed(&required, false));
        let fine = [outcome(Level::Required, Verdict::Skip("s".into())), outcome(Level::Required, Verdict::Pass)];
        assert!(!run_failed(&fine, true));
    }

    #[test]
    fn globs() {
        assert!(glob_match("shim.*", "shim.echo.reply"));
        assert!(glob_match("*.reply", "shim.echo.reply"));
        assert!(glob_match("*echo*", "shim.echo.reply"));
        assert!(glob_match("envelope.echo.minimal", "envelope.echo.minimal"));
        assert!(!glob_match("shim.*", "envelope.echo.minimal"));
        assert!(!glob_match("a*a", "a"));
    }
}
