//! Conventions as tests: every source module says what it owns in a `//!` header, and no file grows
//! past the size where it should be split.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
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

/// Functions longer than this are split (tests excepted): a screenful is what one reads at once.
const MAX_FN_LINES: usize = 80;

/// `fn` items of a source, as (name, first line, line count), up to its `#[cfg(test)]` section.
/// rustfmt puts an item's closing brace alone on a line at the item's indentation, which is what
/// ends it here.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().take_while(|l| l.trim() != "#[cfg(test)]").collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else { continue };
        let qualifiers = ["pub", "pub(crate)", "const", "async", "unsafe"];
        if !words[..at].iter().all(|w| qualifiers.contains(w)) || words.get(at + 1).is_none() {
            continue;
        }
        let name: String = words[at + 1].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let indent = &line[..line.len() - trimmed.len()];
        let opens = lines[i..].iter().position(|l| l.trim_end().ends_with('{') || l.trim_end().ends_with(';'));
        match opens.map(|o| lines[i + o].trim_end()) {
            Some(l) if l.ends_with(';') => continue, // a declaration without a body (a trait method)
            None => continue,
            Some(_) if trimmed.ends_with('}') => out.push((name, i + 1, 1)),
            Some(_) => {
                let close = format!("{indent}}}");
                if let Some(end) = lines[i..].iter().position(|l| *l == close) {
                    out.push((name, i + 1, end + 1));
                }
            }
        }
    }
    out
}

#[test]
fn no_function_of_the_conformance_crate_is_over_a_screenful() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            functions(&text)
                .into_iter()
                .filter(|(_, _, n)| *n > MAX_FN_LINES)
                .map(|(name, line, n)| format!("{}:{line} fn {name} ({n} lines)", p.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(long.is_empty(), "split these functions (at most {MAX_FN_LINES} lines): {long:#?}");
}

/// The module path a source file of a library defines (`lib.rs` → `[]`, `a/mod.rs` → `[a]`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else { return vec![tree.to_owned()] };
    let (prefix, rest) = (&tree[..open], &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())]);
    let (mut parts, mut depth, mut from) = (Vec::new(), 0, 0);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&rest[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rest[from..]);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand_use_tree(p.trim()))
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Paths (as module segments) a source of module `here` mentions — in `use` trees and inline:
/// `crate::…`, `super::…`, and its own child modules (`child::item`). In its `#[cfg(test)]` tail
/// `super` is the file itself.
fn mentioned_paths(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let children: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    let (main, tests) = text.split_once("#[cfg(test)]").unwrap_or((text, ""));
    let mut out = Vec::new();
    for (part, parent) in [(main, &here[..here.len().saturating_sub(1)]), (tests, here)] {
        let (mut paths, mut other, mut statement) = (Vec::new(), String::new(), None::<String>);
        for line in part.lines() {
            let t = line.trim();
            let start = ["use ", "pub use ", "pub(crate) use "].iter().find_map(|p| t.strip_prefix(p));
            match (&mut statement, start) {
                (Some(s), _) => s.push_str(t),
                (None, Some(rest)) => statement = Some(rest.to_owned()),
                (None, None) => {
                    other.push_str(line);
                    other.push('\n');
                }
            }
            if statement.as_ref().is_some_and(|s| s.ends_with(';')) {
                paths.extend(statement.take().map(|s| expand_use_tree(s.trim_end_matches(';'))).unwrap_or_default());
            }
        }
        paths.extend(other.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).map(str::to_owned));
        for path in paths {
            let segs: Vec<&str> = path.split("::").map(str::trim).filter(|s| !s.is_empty()).collect();
            let mut abs: Vec<String> = match segs.first().copied() {
                _ if segs.len() < 2 => continue, // a word ("the crate"), not a path
                Some("crate") => vec![],
                Some("super") => parent.to_vec(),
                Some(name) if children.contains(&name) => here.iter().cloned().chain([name.to_owned()]).collect(),
                _ => continue,
            };
            abs.extend(segs[1..].iter().map(|s| (*s).to_owned()));
            out.push(abs);
        }
    }
    out
}

#[test]
fn the_files_of_the_conformance_library_import_each_other_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.retain(|f| !f.ends_with("main.rs")); // the binary is a crate of its own
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(&root, f)).collect();
    // Each mentioned path belongs to the file of its longest module prefix.
    let owner = |path: &[String]| (0..=path.len()).rev().find_map(|n| modules.iter().position(|m| m[..] == path[..n]));
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for path in mentioned_paths(&text, &modules[i]) {
            if let Some(j) = owner(&path).filter(|j| *j != i && !edges[i].contains(j)) {
                edges[i].push(j);
            }
        }
    }
    // Depth-first search; a back edge is a cycle, reported as the files around it.
    fn visit(n: usize, edges: &[Vec<usize>], state: &mut [u8], stack: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[n] = 1;
        stack.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                let at = stack.iter().position(|s| *s == m).unwrap_or(0);
                return Some(stack[at..].iter().copied().chain([m]).collect());
            }
            if state[m] == 0
                && let Some(c) = visit(m, edges, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[n] = 2;
        None
    }
    let mut state = vec![0u8; files.len()];
    for n in 0..files.len() {
        if state[n] == 0
            && let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new())
        {
            let names: Vec<String> = cycle
                .iter()
                .map(|i| files[*i].strip_prefix(&root).unwrap_or(&files[*i]).display().to_string())
                .collect();
            panic!("import cycle between files: {}", names.join(" → "));
        }
    }
    assert!(edges.iter().map(Vec::len).sum::<usize>() > 20, "found too few imports to trust the check: {edges:?}");
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
