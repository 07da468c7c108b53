//! The report as one self-contained HTML page (`conformance run --format html --output report.html`):
//! the level summary line, counts per level and per profile, the skips per missing feature, and
//! every case with its level, verdict and reason. Inline CSS, no script, no external asset — it
//! opens from a file or an artifact store with no network, and prints.
//!
//! The counts carry `data-level`/`data-profile` and `data-count` attributes so a test (a headless
//! browser's DOM) reads them without scraping prose. It renders what `report` counts; it counts
//! nothing itself.

use std::fmt::Write as _;

use crate::case::Level;
use crate::features::FeatureStatus;
use crate::report::{Counts, FeatureSkips, counts, level_counts, level_summary, xml};
use crate::runner::{CaseOutcome, Verdict};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;width:100%}\
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}\
td[data-count],th.n{text-align:right;font-variant-numeric:tabular-nums}#summary{font-size:1.2em;font-weight:600}\
.pass{color:#146c2e}.fail,.stale{color:#b3261e;font-weight:600}.skip,.expected_fail{color:#6b6b6b}\
.required{font-weight:600}pre{white-space:pre-wrap;margin:.2em 0;font-size:.9em}code{font-size:.95em}";

/// The page.
pub fn page(outcomes: &[CaseOutcome], features: &[FeatureStatus], skips: &[FeatureSkips]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>miniagent conformance report</title>\n<style>{STYLE}</style>\n</head>\n<body>");
    out.push_str("<h1>miniagent conformance report</h1>\n");
    let _ = writeln!(out, "<p id=\"summary\">{}</p>", xml(&level_summary(outcomes)));
    out.push_str(
        "<p>A run fails on a <b>required</b> failure (an official SDK or a mainstream framework breaks without \
         the case), or on any failure with <code>--strict</code>.</p>\n",
    );
    out.push_str("<h2>Per level</h2>\n");
    let levels: Vec<(String, Counts)> = level_counts(outcomes).into_iter().map(|(l, c)| (l.name().into(), c)).collect();
    counts_table(&mut out, "levels", "level", &levels);
    out.push_str("<h2>Per profile</h2>\n");
    let profiles: Vec<(String, Counts)> = counts(outcomes).into_iter().map(|(p, c)| (p.name().into(), c)).collect();
    counts_table(&mut out, "profiles", "profile", &profiles);
    skipped(&mut out, skips);
    cases(&mut out, outcomes);
    enabled(&mut out, features);
    out.push_str("</body>\n</html>\n");
    out
}

/// A table of counts, one row per `key`, each count a `data-count` cell.
fn counts_table(out: &mut String, id: &str, key: &str, rows: &[(String, Counts)]) {
    let _ = writeln!(
        out,
        "<table id=\"{id}\">\n<tr><th>{key}</th><th class=\"n\">passed</th><th class=\"n\">run</th>\
         <th class=\"n\">failed</th><th class=\"n\">skipped</th><th class=\"n\">expected failures</th>\
         <th class=\"n\">stale</th></tr>"
    );
    for (name, c) in rows {
        let (passed, run) = c.passed_of_run();
        let _ = write!(out, "<tr data-{key}=\"{0}\"><td class=\"{0}\">{0}</td>", xml(name));
        for (what, n) in [
            ("passed", passed),
            ("run", run),
            ("failed", c.failed),
            ("skipped", c.skipped),
            ("expected_failures", c.expected_failures),
            ("stale", c.stale),
        ] {
            let _ = write!(out, "<td data-count=\"{what}\">{n}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn skipped(out: &mut String, skips: &[FeatureSkips]) {
    if skips.is_empty() {
        return;
    }
    out.push_str("<h2>Skipped for missing features</h2>\n<table id=\"skips\">\n<tr><th>feature</th><th class=\"n\">cases</th><th>to enable</th></tr>\n");
    for s in skips {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td data-count=\"skipped\">{}</td><td>{}</td></tr>",
            s.feature.name(),
            s.skipped,
            xml(&s.enable)
        );
    }
    out.push_str("</table>\n");
}

fn cases(out: &mut String, outcomes: &[CaseOutcome]) {
    out.push_str("<h2>Cases</h2>\n<table id=\"cases\">\n<tr><th>case</th><th>profile</th><th>level</th><th>verdict</th><th>clause and reason</th></tr>\n");
    for o in outcomes {
        let (verdict, why) = match &o.verdict {
            Verdict::Pass => ("pass", ""),
            Verdict::Fail(why) => ("fail", why.as_str()),
            Verdict::Skip(why) => ("skip", why.as_str()),
            Verdict::ExpectedFail(why) => ("expected_fail", why.as_str()),
            Verdict::Stale => ("stale", "passes now: remove it from the expected-failures file"),
        };
        let level = o.level.name();
        let strong = if o.level == Level::Required { " class=\"required\"" } else { "" };
        let _ = write!(
            out,
            "<tr data-verdict=\"{verdict}\" data-level=\"{level}\"><td id=\"{0}\"><code>{0}</code></td><td>{1}</td>\
             <td{strong}>{level}</td><td class=\"{verdict}\">{verdict}</td><td>{2}",
            xml(o.id),
            o.profile.name(),
            xml(o.clause)
        );
        if !why.is_empty() {
            let _ = write!(out, "<pre>{}</pre>", xml(why));
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn enabled(out: &mut String, features: &[FeatureStatus]) {
    if features.is_empty() {
        return;
    }
    out.push_str("<h2>Features</h2>\n<table id=\"features\">\n<tr><th>feature</th><th>enabled</th><th>why</th></tr>\n");
    for s in features {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            s.feature.name(),
            if s.enabled { "yes" } else { "no" },
            xml(&s.why)
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Profile;

    fn outcome(id: &'static str, level: Level, verdict: Verdict) -> CaseOutcome {
        CaseOutcome {
            id,
            clause: "§1 <x>",
            profile: Profile::Openai,
            level,
            verdict,
            millis: 1,
            missing_features: vec![],
        }
    }

    #[test]
    fn the_page_holds_the_counts_and_nothing_from_outside() {
        let outcomes = [
            outcome("a.pass", Level::Required, Verdict::Pass),
            outcome("a.fail", Level::Required, Verdict::Fail("got <b>\"x\"</b> & more".into())),
            outcome("b.skip", Level::Faithful, Verdict::Skip("needs feature".into())),
            outcome("c.pass", Level::Recommended, Verdict::Pass),
        ];
        let page = page(&outcomes, &[], &[]);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(
            page.contains("<p id=\"summary\">required 1/2, recommended 1/1, faithful 0/0 (passed/run); 1 skipped</p>"),
            "{page}"
        );
        assert!(page.contains(
            "<tr data-level=\"required\"><td class=\"required\">required</td><td data-count=\"passed\">1</td>\
             <td data-count=\"run\">2</td><td data-count=\"failed\">1</td><td data-count=\"skipped\">0</td>"
        ));
        assert!(page.contains("got &lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; more") && page.contains("§1 &lt;x&gt;"));
        assert_eq!(page.matches("<tr data-verdict=").count(), 4);
        for outside in ["src=", "href=", "@import", "url(", "<script", "<link"] {
            assert!(!page.contains(outside), "`{outside}` in a self-contained page");
        }
    }
}
