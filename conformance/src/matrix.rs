//! The compatibility matrix: `conformance/reports/README.md`, generated from the runs kept in
//! `reports/runs/` — each the `--format json` report of one run, named `<implementation>.<run>.json`
//! — beside each implementation's own report `<implementation>.md` (how it was installed, isolated and
//! run, written by whoever ran it). The matrix reads implementation × profile × level: for every
//! profile an implementation ran, passed/run per level over all its runs (an implementation is often
//! started several ways: each case counts once, failed where any run failed it); every failure is
//! listed under it, with the run it failed in, and linked to its case in the generated catalogue
//! `cases.md` (id, profile, level, clause and what the case checks, for every case of the suite).
//!
//! `conformance matrix conformance/reports` writes both files; `--check` fails when either differs
//! from what the runs give (a test runs it on the committed files).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::case::{Case, Level, Profile};

/// One case of a stored run, as `report::json` wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct RunCase {
    pub id: String,
    pub profile: String,
    pub level: String,
    pub verdict: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One stored run of one implementation.
#[derive(Debug, Clone)]
pub struct Run {
    pub implementation: String,
    /// What follows the implementation in the file name (`openai`, `extended-no-provider`).
    pub name: String,
    pub cases: Vec<RunCase>,
}

#[derive(Debug, Deserialize)]
struct RunFile {
    cases: Vec<RunCase>,
}

/// Passed and run (skips apart) of one level, and the skips.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub run: usize,
    pub skipped: usize,
}

impl Run {
    fn of_profile<'a>(&'a self, profile: &'a str) -> impl Iterator<Item = &'a RunCase> + 'a {
        self.cases.iter().filter(move |c| c.profile == profile)
    }

    /// The tally of `profile`'s cases at `level` in this run. An expected failure ran and did not
    /// pass; a stale one passed.
    pub fn tally(&self, profile: &str, level: &str) -> Tally {
        let mut t = Tally::default();
        for c in self.of_profile(profile).filter(|c| c.level == level) {
            match c.verdict.as_str() {
                "skip" => t.skipped += 1,
                "pass" | "stale" => {
                    t.passed += 1;
                    t.run += 1;
                }
                _ => t.run += 1,
            }
        }
        t
    }

    fn ran(&self, profile: &str) -> usize {
        self.of_profile(profile).filter(|c| c.verdict != "skip").count()
    }
}

/// The runs under `dir/runs`, sorted by implementation (miniagent first) and run name.
pub fn load(dir: &Path) -> Result<Vec<Run>, String> {
    let runs_dir = dir.join("runs");
    let entries = std::fs::read_dir(&runs_dir).map_err(|e| format!("cannot read {}: {e}", runs_dir.display()))?;
    let mut runs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", runs_dir.display()))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let Some((implementation, name)) = stem.split_once('.') else {
            return Err(format!("{}: name it <implementation>.<run>.json", path.display()));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: RunFile = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a `conformance run --format json` report: {e}", path.display()))?;
        runs.push(Run { implementation: implementation.to_owned(), name: name.to_owned(), cases: file.cases });
    }
    runs.sort_by(|a, b| order(&a.implementation).cmp(&order(&b.implementation)).then(a.name.cmp(&b.name)));
    Ok(runs)
}

fn order(implementation: &str) -> (bool, &str) {
    (implementation != "miniagent", implementation)
}

/// The title of an implementation's report (`# Conformance report: the LiteLLM proxy` → `the
/// LiteLLM proxy`); an implementation without a report is an error: the matrix says how each was run.
fn title(dir: &Path, implementation: &str) -> Result<String, String> {
    let path = dir.join(format!("{implementation}.md"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: every implementation with runs needs its report ({e})", path.display()))?;
    let heading = text.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or(implementation);
    Ok(heading.rsplit_once(": ").map_or(heading, |(_, t)| t).trim().to_owned())
}

/// One case of one profile over every run of an implementation: failed when any run that ran it
/// failed it (the verdict and reason of that run), passed when every run that ran it passed it,
/// skipped when none ran it.
#[derive(Debug, Clone)]
struct Merged<'a> {
    case: &'a RunCase,
    run: &'a str,
}

/// Every case of `profile` over `runs`, in first-seen order, and the runs that ran any of them.
fn merged<'a>(runs: &[&'a Run], profile: &'a str) -> (Vec<Merged<'a>>, Vec<&'a str>) {
    let mut order: Vec<&str> = Vec::new();
    let mut by_id: BTreeMap<&str, Merged<'a>> = BTreeMap::new();
    let rank = |verdict: &str| match verdict {
        "skip" => 0,
        "pass" | "stale" => 1,
        _ => 2,
    };
    let mut ran = Vec::new();
    for run in runs {
        if run.ran(profile) > 0 {
            ran.push(run.name.as_str());
        }
        for case in run.of_profile(profile) {
            let entry = by_id.entry(case.id.as_str()).or_insert_with(|| {
                order.push(case.id.as_str());
                Merged { case, run: &run.name }
            });
            if rank(&case.verdict) > rank(&entry.case.verdict) {
                *entry = Merged { case, run: &run.name };
            }
        }
    }
    (order.into_iter().filter_map(|id| by_id.remove(id)).collect(), ran)
}

fn tally(cases: &[Merged<'_>], level: Level) -> Tally {
    let only = Run {
        implementation: String::new(),
        name: String::new(),
        cases: cases.iter().map(|m| m.case.clone()).collect(),
    };
    cases.first().map_or_else(Tally::default, |m| only.tally(&m.case.profile, level.name()))
}

const PROFILES: [Profile; 5] = [Profile::Core, Profile::Extended, Profile::Openai, Profile::Router, Profile::Anthropic];

fn cell(t: Tally) -> String {
    match (t.run, t.passed == t.run) {
        (0, _) => "—".to_owned(),
        (_, true) => format!("**{}/{}**", t.passed, t.run),
        _ => format!("{}/{}", t.passed, t.run),
    }
}

/// Markdown-safe text on one line.
fn inline(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// `README.md`: the matrix, then the failures of each best run linked to the catalogue.
pub fn readme(dir: &Path, runs: &[Run], catalogue: &[Case]) -> Result<String, String> {
    let mut out = String::from(
        "# Compatibility matrix\n\n<!-- Generated by `conformance matrix conformance/reports` from runs/*.json: do not edit by \
         hand (a test fails when it differs). -->\n\n\
         Every implementation below was run here, on loopback, with this repository's suite; its report says how \
         (version, configuration, isolation, each run's command) and why each failure happens. A cell is \
         *passed/run* of that profile's cases at that level — bold when all passed; skipped cases (a feature the \
         implementation was not started with, or an extension it lacks) are counted apart. An implementation run \
         several ways (instances started with other features) counts each case once: failed when any run that ran \
         it failed it, passed when every run that ran it passed it. What the levels mean: \
         [docs/conformance.md](../../docs/conformance.md#levels-which-failures-matter); every case: \
         [cases.md](cases.md).\n\n\
         | implementation | profile | runs | required | recommended | faithful | skipped |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut failures = String::new();
    let mut implementations: Vec<&str> = runs.iter().map(|r| r.implementation.as_str()).collect();
    implementations.dedup();
    let known: BTreeMap<&str, &Case> = catalogue.iter().map(|c| (c.id, c)).collect();
    for implementation in implementations {
        let name = title(dir, implementation)?;
        let own: Vec<&Run> = runs.iter().filter(|r| r.implementation == implementation).collect();
        let _ = write!(failures, "\n## {name}\n\nReport: [{implementation}.md]({implementation}.md). ");
        let _ = writeln!(
            failures,
            "Runs: {}.\n",
            own.iter().map(|r| format!("`{}`", r.name)).collect::<Vec<_>>().join(", ")
        );
        let mut any = false;
        for profile in PROFILES {
            let p = profile.name();
            let (cases, ran) = merged(&own, p);
            if ran.is_empty() {
                continue;
            }
            any = true;
            let tallies: Vec<Tally> = Level::ALL.iter().map(|l| tally(&cases, *l)).collect();
            let skipped: usize = tallies.iter().map(|t| t.skipped).sum();
            let runs = ran.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" ");
            let _ = writeln!(
                out,
                "| [{name}]({implementation}.md) | `{p}` | {runs} | {} | {} | {} | {skipped} |",
                cell(tallies[0]),
                cell(tallies[1]),
                cell(tallies[2]),
            );
            let failed: Vec<&Merged<'_>> =
                cases.iter().filter(|m| !matches!(m.case.verdict.as_str(), "pass" | "stale" | "skip")).collect();
            let _ = write!(failures, "### `{p}`: ");
            if failed.is_empty() {
                failures.push_str("every case that ran passed\n\n");
                continue;
            }
            let _ = writeln!(failures, "{} failed\n", failed.len());
            for level in Level::ALL {
                for m in failed.iter().filter(|m| m.case.level == level.name()) {
                    let c = m.case;
                    let reason = c.reason.as_deref().unwrap_or("an expected failure");
                    let first = reason.lines().next().unwrap_or_default();
                    let link = if known.contains_key(c.id.as_str()) {
                        format!("[`{}`](cases.md#{})", c.id, c.id)
                    } else {
                        format!("`{}` (no longer in the suite)", c.id)
                    };
                    let _ = writeln!(failures, "- {} {link} (run `{}`) — {}", level.name(), m.run, inline(first));
                }
            }
            failures.push('\n');
        }
        if !any {
            failures.push_str("No case ran.\n");
        }
    }
    out.push_str(&failures);
    Ok(out)
}

/// `cases.md`: every case of the suite, with an anchor per id.
pub fn catalogue(cases: &[Case]) -> String {
    let mut out = String::from(
        "# The cases\n\n<!-- Generated by `conformance matrix conformance/reports` from the suite: do not edit by hand \
         (a test fails when it differs). -->\n\n\
         Every case of the suite (`conformance list`), by profile: its level, the CONTRACT.md clause it checks, \
         the features it needs, and what it checks (a `required` case names the client that breaks without it).\n",
    );
    for profile in PROFILES {
        let _ = write!(
            out,
            "\n## `{}`\n\n| case | level | clause | needs | what it checks |\n|---|---|---|---|---|\n",
            profile.name()
        );
        for c in cases.iter().filter(|c| c.profile == profile) {
            let needs: Vec<String> = c.features.iter().map(|f| format!("`{}`", f.name())).collect();
            let _ = writeln!(
                out,
                "| <a id=\"{id}\"></a>`{id}` | {} | {} | {} | {} |",
                c.level.name(),
                inline(c.clause),
                needs.join(" "),
                inline(c.description),
                id = c.id,
            );
        }
    }
    out
}

/// Writes (or, with `check`, compares) `README.md` and `cases.md` in `dir`; the files that differ.
pub fn generate(dir: &Path, check: bool) -> Result<Vec<PathBuf>, String> {
    let runs = load(dir)?;
    let cases = crate::cases::all();
    let files = [(dir.join("README.md"), readme(dir, &runs, &cases)?), (dir.join("cases.md"), catalogue(&cases))];
    let mut differ = Vec::new();
    for (path, text) in files {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if !check {
            std::fs::write(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        differ.push(path);
    }
    Ok(differ)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn case(id: &str, profile: &str, level: &str, verdict: &str) -> RunCase {
        RunCase {
            id: id.into(),
            profile: profile.into(),
            level: level.into(),
            verdict: verdict.into(),
            reason: (verdict == "fail").then(|| format!("{id} went wrong\nsecond line")),
        }
    }

    fn run(name: &str, cases: Vec<RunCase>) -> Run {
        Run { implementation: "gw".into(), name: name.into(), cases }
    }

    #[test]
    fn a_tally_counts_passed_of_run_and_skips_apart() {
        let r = run(
            "openai",
            vec![
                case("a", "openai", "required", "pass"),
                case("b", "openai", "required", "fail"),
                case("c", "openai", "required", "skip"),
                case("d", "openai", "required", "expected_fail"),
                case("e", "openai", "required", "stale"),
                case("f", "core", "required", "pass"),
                case("g", "openai", "faithful", "pass"),
            ],
        );
        assert_eq!(r.tally("openai", "required"), Tally { passed: 2, run: 4, skipped: 1 });
        assert_eq!(r.tally("openai", "faithful"), Tally { passed: 1, run: 1, skipped: 0 });
        assert_eq!(r.tally("core", "faithful"), Tally::default());
    }

    #[test]
    fn a_case_counts_once_over_the_runs_failed_where_any_run_failed_it() {
        let discovered =
            run("openai", vec![case("a", "openai", "required", "skip"), case("b", "openai", "required", "skip")]);
        let proxy = run(
            "openai-proxy",
            vec![
                case("a", "openai", "required", "pass"),
                case("b", "openai", "required", "fail"),
                case("c", "openai", "faithful", "skip"),
            ],
        );
        let second =
            run("passthrough", vec![case("b", "openai", "required", "pass"), case("c", "openai", "faithful", "pass")]);
        let full = run("extended", vec![case("x", "core", "recommended", "pass")]);
        let (cases, ran) = merged(&[&discovered, &proxy, &second, &full], "openai");
        assert_eq!(ran, ["openai-proxy", "passthrough"], "the runs that ran a case of the profile");
        let verdicts: Vec<(&str, &str, &str)> =
            cases.iter().map(|m| (m.case.id.as_str(), m.case.verdict.as_str(), m.run)).collect();
        assert_eq!(
            verdicts,
            [("a", "pass", "openai-proxy"), ("b", "fail", "openai-proxy"), ("c", "pass", "passthrough")]
        );
        assert_eq!(tally(&cases, Level::Required), Tally { passed: 1, run: 2, skipped: 0 });
        assert_eq!(tally(&cases, Level::Faithful), Tally { passed: 1, run: 1, skipped: 0 });
    }

    #[test]
    fn the_matrix_links_each_failure_to_its_case_and_bolds_a_full_pass() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gw.md"), "# Conformance report: Some Gateway\n").unwrap();
        let all = crate::cases::all();
        let (known, level) = (all[0].id, "required");
        let r = run(
            "openai",
            vec![
                case(known, "openai", level, "fail"),
                case("gone.case", "openai", "faithful", "fail"),
                case("ok", "openai", "recommended", "pass"),
            ],
        );
        let text = readme(dir.path(), &[r], &all).unwrap();
        assert!(text.contains("| [Some Gateway](gw.md) | `openai` | `openai` |"), "{text}");
        assert!(
            text.contains(&format!("- {level} [`{known}`](cases.md#{known}) (run `openai`) — {known} went wrong\n")),
            "{text}"
        );
        assert!(
            text.contains("- faithful `gone.case` (no longer in the suite) (run `openai`) — gone.case went wrong"),
            "{text}"
        );
        assert!(text.contains("| **1/1** |"), "a full pass is bold: {text}");
        let catalogue = catalogue(&all);
        assert!(catalogue.contains(&format!("<a id=\"{known}\"></a>")), "the link has its anchor");
        assert_eq!(catalogue.matches("<a id=").count(), all.len());
    }

    #[test]
    fn an_implementation_without_its_report_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = readme(dir.path(), &[run("openai", vec![])], &[]).unwrap_err();
        assert!(err.contains("gw.md") && err.contains("needs its report"), "{err}");
    }

    /// docs/conformance.md's table of cases per profile and level is the suite's.
    #[test]
    fn the_guide_counts_the_cases_per_profile_and_level() {
        let guide =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/conformance.md")).unwrap();
        let all = crate::cases::all();
        for profile in PROFILES {
            let n = |level: Level| all.iter().filter(|c| c.profile == profile && c.level == level).count();
            let name = if profile == Profile::Extended {
                "`extended` (its own cases)".to_owned()
            } else {
                format!("`{}`", profile.name())
            };
            let row =
                format!("| {name} | {} | {} | {} |", n(Level::Required), n(Level::Recommended), n(Level::Faithful));
            assert!(guide.lines().any(|l| l == row), "docs/conformance.md should have the row `{row}`");
        }
    }

    #[test]
    fn the_committed_matrix_is_what_the_runs_give() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
        let differ = generate(&dir, true).unwrap();
        assert!(
            differ.is_empty(),
            "{differ:?} differ from what the runs give: run `cargo run -p conformance -- matrix conformance/reports`"
        );
    }
}
