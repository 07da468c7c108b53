//! `conformance run --format html --output report.html` against the reference served on a loopback
//! socket, the page then rendered by headless Chromium (`--dump-dom`): the counts the browser shows
//! are the ones the same run printed in its summary line. Without Chromium (the Debian package
//! `chromium`, which `make deps` installs) the test is ignored with that reason — failed instead
//! under `MINIAGENT_REQUIRE_CHROMIUM=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "a test starts real programs and reads its own settings")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use conformance::features::{Feature, Setup};
use libtest_mimic::{Arguments, Completion, Trial};

/// Chromium on the `PATH`, or why not.
fn chromium() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| "no chromium on PATH (the Debian package `chromium`; `make deps` installs it)".to_owned())
}

/// The DOM headless Chromium builds from the page.
fn render(chromium: &Path, page: &Path, profile: &Path) -> String {
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("`{start}` not in the DOM:\n{text}")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("no `{end}` after `{start}`"));
    &text[from..from + len]
}

/// `passed/run` of a level's row, as the browser shows it.
fn shown(dom: &str, level: &str) -> String {
    let row = between(dom, &format!("<tr data-level=\"{level}\">"), "</tr>");
    let count = |what: &str| between(row, &format!("data-count=\"{what}\">"), "<").to_owned();
    format!("{level} {}/{}", count("passed"), count("run"))
}

async fn renders_in_chromium() -> Completion {
    let chromium = match chromium() {
        Ok(c) => c,
        Err(why) if std::env::var_os("MINIAGENT_REQUIRE_CHROMIUM").is_some_and(|v| v == "1") => {
            panic!("{why} (MINIAGENT_REQUIRE_CHROMIUM=1)")
        }
        Err(why) => return Completion::ignored_with(why),
    };
    let features = [Feature::Dummy, Feature::ShimEcho];
    let pairs: Vec<(String, String)> = features.iter().flat_map(|f| Setup::default().pairs(f.spec().env)).collect();
    let (addr, _served) = support::serve(&pairs).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    // `*shape`: a required case (models.list.shape), recommended ones, and three skipped for
    // features this target was not given (traces, auth).
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(["run", "--base-url", &format!("http://{addr}"), "--features", "dummy,shim-echo", "--case", "*shape"])
        .args(["--format", "html", "--output"])
        .arg(&page)
        .output()
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{log}");
    let summary = log.lines().find(|l| l.starts_with("required ")).unwrap_or_else(|| panic!("no summary: {log}"));
    assert_eq!(summary, "required 1/1, recommended 3/3, faithful 0/0 (passed/run); 3 skipped", "{log}");
    let dom = render(&chromium, &page, &dir.path().join("chromium-profile"));
    assert_eq!(between(&dom, "<p id=\"summary\">", "</p>"), summary, "the page's summary line");
    let levels: Vec<String> = ["required", "recommended", "faithful"].iter().map(|l| shown(&dom, l)).collect();
    assert_eq!(levels.join(", "), summary.split(" (").next().unwrap(), "the level table the browser shows");
    assert_eq!(dom.matches("data-verdict=\"pass\"").count(), 4, "{dom}");
    assert_eq!(dom.matches("data-verdict=\"skip\"").count(), 3, "{dom}");
    Completion::Completed
}

fn main() {
    let args = Arguments::from_args();
    let trial = Trial::ignorable_test("report.html.renders_in_chromium", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(rt.block_on(renders_in_chromium()))
    });
    libtest_mimic::run(&args, vec![trial]).exit();
}
