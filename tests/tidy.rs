//! Conventions as tests, one binary: every source module says what it owns in a `//!` header, no
//! file grows past the size where it should be split, the docs say what the code does (the feature
//! table, the configuration reference, the README's paths and links), and the structure holds
//! (`structure`: no import cycles, no long function, the API boundaries).
#![allow(clippy::disallowed_methods, reason = "tests read their own settings")]

#[path = "tidy/structure.rs"]
mod structure;

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["reference/src", "conformance/src", "harness/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found too few sources: {files:?}");
    files
}

#[test]
fn every_module_opens_with_a_doc_header() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap_or_default().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "modules without a `//!` header: {missing:#?}");
}

#[test]
fn no_source_file_is_over_the_split_size() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap_or_default().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:#?}");
}

#[test]
fn the_docs_feature_table_is_the_one_the_suite_renders() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/conformance.md")).unwrap_or_default();
    let (begin, end) = ("<!-- features:begin -->\n", "<!-- features:end -->");
    let start = readme.find(begin).map(|i| i + begin.len());
    let stop = readme.find(end);
    let Some((start, stop)) = start.zip(stop).filter(|(a, b)| a <= b) else {
        panic!("docs/conformance.md has no `{}` … `{end}` block", begin.trim_end());
    };
    let generated = conformance::features::markdown(&conformance::features::Setup::default());
    assert!(
        readme[start..stop] == generated,
        "docs/conformance.md's feature table differs from the feature table in conformance/src/features.rs; put the \
         output of `cargo run -q -p conformance -- features --markdown` between the markers.\n--- docs\n{}\n--- generated\n{generated}",
        &readme[start..stop]
    );
}

/// Every variable named in the reference's source (`MINI_AGENT_*`, `OTEL_*`, `CODEX_*`, …) is in the
/// generated configuration reference — a second net under `config_doc`'s own check, which sees only
/// what its readers read.
#[test]
fn every_setting_named_in_the_code_is_in_the_configuration_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("docs/operator-guide/configuration.md")).unwrap();
    let prefixes =
        ["MINI_AGENT_", "OTEL_", "CODEX_", "SCILLM_", "LITELLM_", "OPENAI_", "OLLAMA_", "CHUTES_", "NDSMOKE_"];
    let mut missing = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&root.join("reference/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices('"') {
            let rest = &text[i + 1..];
            let name: String =
                rest.chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            let whole = rest[name.len()..].starts_with('"');
            if whole
                && prefixes.iter().any(|p| name.starts_with(p) && name.len() > p.len())
                && !reference.contains(&name)
            {
                missing.insert(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "settings named in the code but not in docs/operator-guide/configuration.md: {missing:?}"
    );
}

/// The README stays a front page (≤ 200 lines, as the anchors keep theirs); every file its "where is
/// the code" table names exists, and every link of the README and of `docs/` to a page leads to one.
#[test]
fn the_readme_is_short_and_its_paths_and_links_are_real() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.lines().count() <= 200, "README.md has {} lines; put guides in docs/", readme.lines().count());
    let table = &readme[readme.find("## Where is the code").expect("a where-is-the-code table")..];
    let mut missing = Vec::new();
    for path in table.split('`').skip(1).step_by(2) {
        let is_path = ["reference/", "conformance/", "harness/", "tests/", "fixtures/", "docs/"]
            .iter()
            .any(|p| path.starts_with(p));
        if is_path && !path.contains('*') && !root.join(path).exists() {
            missing.push(path.to_owned());
        }
    }
    let mut pages = vec![root.join("README.md")];
    for dir in ["docs", "docs/user-guide", "docs/operator-guide"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "md") {
                pages.push(e.path());
            }
        }
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')' && *c != '#').collect();
            if target.ends_with(".md") && !target.contains("://") && !page.parent().unwrap().join(&target).exists() {
                missing.push(format!("{} → {target}", page.display()));
            }
        }
    }
    assert!(missing.is_empty(), "named but not there: {missing:?}");
}
