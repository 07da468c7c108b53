//! Structure as tests (a module of `tidy`): the file-level import graph of each crate has no cycles, and no function
//! outside tests is longer than [`MAX_FN_LINES`].
//!
//! Both checks read the sources as text, which is enough because `rustfmt` fixes the layout they
//! rely on: a function's body ends at the first line holding only `}` at the indentation its
//! signature started at, and `#[cfg(test)]` starts the tests of a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::rust_files;

const CRATES: [&str; 3] = ["reference/src", "conformance/src", "harness/src"];

/// The source without its tests: everything before the first `#[cfg(test)]`.
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The module path of a file relative to its crate's `src` (`provider/route.rs` → `["provider",
/// "route"]`; `mod.rs`, `lib.rs` and `main.rs` name their directory or the crate root).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// Paths (`crate::a::b`, `super::c`) mentioned in code, one per occurrence, with `use` groups
/// expanded (`use crate::a::{b, c::d}` → `crate::a::b`, `crate::a::c::d`).
fn mentioned_paths(code: &str) -> Vec<String> {
    let code: String = code
        .lines()
        .map(|l| {
            // A comment runs to the end of the line; `://` inside a URL string is not one.
            let cut = l.match_indices("//").find(|(i, _)| !l[..*i].ends_with(':')).map_or(l.len(), |(i, _)| i);
            format!("{}\n", &l[..cut])
        })
        .collect();
    let mut out = Vec::new();
    for (start, _) in code.match_indices(['c', 's']) {
        let rest = &code[start..];
        if !(rest.starts_with("crate::") || rest.starts_with("super::")) {
            continue;
        }
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(rest, "", &mut out);
    }
    out
}

/// Reads one path (possibly ending in a `{…}` group) from the start of `text`.
fn expand(text: &str, prefix: &str, out: &mut Vec<String>) {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    let head = &text[..end];
    let path = format!("{prefix}{head}");
    if head.ends_with("::") && text[end..].starts_with('{') {
        let inner = &text[end + 1..];
        let mut depth = 0;
        let mut item_start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    expand(inner[item_start..i].trim_start(), &path, out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(inner[item_start..i].trim_start(), &path, out);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
    } else {
        out.push(path.trim_end_matches("::").to_owned());
    }
}

/// The file a path points into: its longest prefix that is a module of the crate.
fn resolve(path: &str, here: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = Vec::new();
    match segments.first() {
        Some(&"crate") => {
            segments.remove(0);
        }
        Some(&"super") => {
            base = here.to_vec();
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        _ => return None,
    }
    let full: Vec<String> = base.into_iter().chain(segments.iter().map(|s| (*s).to_owned())).collect();
    (0..=full.len()).rev().find_map(|n| modules.get(&full[..n])).cloned()
}

#[test]
fn the_import_graph_of_each_crate_has_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cycles = Vec::new();
    for krate in CRATES {
        let src = root.join(krate);
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeMap<Vec<String>, PathBuf> =
            files.iter().filter(|f| !f.ends_with("main.rs")).map(|f| (module_of(&src, f), f.clone())).collect();
        let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for file in files.iter().filter(|f| !f.to_string_lossy().contains("/bin/") && !f.ends_with("main.rs")) {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let here = module_of(&src, file);
            let targets = mentioned_paths(non_test(&text))
                .iter()
                .filter_map(|p| resolve(p, &here, &modules))
                .filter(|t| t != file)
                .collect();
            edges.insert(file.clone(), targets);
        }
        if let Some(cycle) = find_cycle(&edges) {
            let names: Vec<String> =
                cycle.iter().map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string()).collect();
            cycles.push(names.join(" → "));
        }
    }
    assert!(cycles.is_empty(), "import cycles (file → file it imports from): {cycles:#?}");
}

fn find_cycle(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        marks: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    edges.keys().find_map(|n| visit(n, edges, &mut marks, &mut Vec::new()))
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

/// Functions longer than the limit, as `file:line name (N lines)`.
fn long_functions(file: &Path, text: &str) -> Vec<String> {
    functions(text)
        .into_iter()
        .filter(|(_, _, n)| *n > MAX_FN_LINES)
        .map(|(name, line, n)| format!("{}:{line} {name} ({n} lines)", file.display()))
        .collect()
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .flat_map(|f| {
            long_functions(f.strip_prefix(root).unwrap_or(f), &std::fs::read_to_string(f).unwrap_or_default())
        })
        .collect();
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines (split them): {long:#?}");
}

#[test]
fn the_checks_see_what_they_should() {
    let paths = mentioned_paths("use crate::a::{b, c::{d, e}};\nlet x = super::f::g(1); // crate::not::this\n");
    assert_eq!(paths, ["crate::a::b", "crate::a::c::d", "crate::a::c::e", "super::f::g"]);
    let long_body: String = (0..90).map(|i| format!("    let x{i} = {i};\n")).collect();
    let text = format!("fn short() {{\n}}\n\npub async fn long() {{\n{long_body}}}\n");
    assert_eq!(long_functions(Path::new("x.rs"), &text).len(), 1);
    let mut edges = BTreeMap::new();
    edges.insert(PathBuf::from("a"), BTreeSet::from([PathBuf::from("b")]));
    edges.insert(PathBuf::from("b"), BTreeSet::from([PathBuf::from("a")]));
    assert!(find_cycle(&edges).is_some());
}

/// The files of `reference/src` (outside tests) that contain `needle`.
fn reference_files_containing(needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("reference/src"), &mut files);
    let mut hits: Vec<String> = files
        .iter()
        // A `tests.rs` is a `#[cfg(test)] mod tests;` of its own: test code throughout.
        .filter(|f| f.file_name().is_none_or(|n| n != "tests.rs"))
        .filter(|f| non_test(&std::fs::read_to_string(f).unwrap_or_default()).contains(needle))
        .map(|f| f.strip_prefix(root.join("reference/src")).unwrap_or(f).display().to_string())
        .collect();
    hits.sort();
    hits
}

/// ARCHITECTURE.md's API boundaries, held: the process environment is read in one place (`main`
/// and `Config::from_env`), HTTP statuses are chosen in one place (`error.rs`), and a provider key
/// goes on the wire in one place (`provider/openai.rs`).
#[test]
fn the_api_boundaries_hold() {
    assert_eq!(reference_files_containing("std::env::var"), ["config.rs", "main.rs"]);
    assert_eq!(reference_files_containing("StatusCode"), ["error.rs"]);
    assert_eq!(reference_files_containing("bearer_auth"), ["provider/openai.rs"]);
}
