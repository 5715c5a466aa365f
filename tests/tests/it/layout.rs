//! The house's rules, read from the source: a function crate reaches the store only through
//! the use cases (it names the store in its start-up file only, to build it), no source file
//! grows past 400 lines of non-test code, and no crate's modules import each other in a circle.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

/// The most lines of non-test code (before a file's `#[cfg(test)]`) in one source file.
const MAX_LINES: usize = 400;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The code before the file's first `#[cfg(test)]`: what ships.
fn non_test_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// Every crate's `src` directory, as (crate directory, its `src`).
fn crate_sources() -> Vec<(PathBuf, PathBuf)> {
    let root = workspace();
    let mut crates = Vec::new();
    for parent in ["shared", "functions"] {
        for entry in fs::read_dir(root.join(parent)).unwrap() {
            let dir = entry.unwrap().path();
            if dir.join("Cargo.toml").is_file() {
                crates.push(dir);
            }
        }
    }
    crates.extend(["shared", "infra", "local", "tests"].map(|dir| root.join(dir)));
    crates.sort();
    crates
        .into_iter()
        .filter(|dir| dir.join("src").is_dir())
        .map(|dir| {
            let src = dir.join("src");
            (dir, src)
        })
        .collect()
}

/// A function crate's start-up: its binaries' `main`s and a `state.rs` that builds its state.
fn is_start_up(src: &Path, file: &Path) -> bool {
    let relative = file.strip_prefix(src).unwrap();
    relative == Path::new("main.rs")
        || relative == Path::new("state.rs")
        || relative.starts_with("bin")
}

#[test]
fn function_crates_name_the_store_only_in_their_start_up() {
    let store = Regex::new(r"\bstore::|\b(DynamoStore|AuditStore)\b").unwrap();
    let mut found = Vec::new();
    let mut start_ups = 0;
    for (dir, src) in crate_sources() {
        if !dir.starts_with(workspace().join("functions")) {
            continue;
        }
        for file in rust_files(&src) {
            if is_start_up(&src, &file) {
                start_ups += 1;
                continue;
            }
            let text = fs::read_to_string(&file).unwrap();
            for (number, line) in non_test_code(&text).lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if store.is_match(code) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        start_ups >= 8,
        "the function crates' start-up files were not found"
    );
    assert!(
        found.is_empty(),
        "function code names the store outside its start-up (reach it through the use cases):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_source_file_is_over_400_lines_of_non_test_code() {
    let mut long = Vec::new();
    let mut files = 0;
    for (_, src) in crate_sources() {
        for file in rust_files(&src) {
            files += 1;
            let lines = non_test_code(&fs::read_to_string(&file).unwrap())
                .lines()
                .count();
            if lines > MAX_LINES {
                long.push(format!("{lines:>5} {}", file.display()));
            }
        }
    }
    assert!(files > 100, "only {files} source files found");
    assert!(
        long.is_empty(),
        "split these along their seams (at most {MAX_LINES} lines before `#[cfg(test)]`):\n{}",
        long.join("\n")
    );
}

/// A file's module path inside its crate: `pages/accounts.rs` is `pages::accounts`, and
/// `pages/mod.rs` is `pages`; a binary's root (`main.rs`, `bin/*.rs`) is `None`.
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).unwrap();
    if relative.starts_with("bin") || relative == Path::new("main.rs") {
        return None;
    }
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    Some(parts)
}

/// The paths a `use` tree's text names, expanded: `a::{b, c::d}` is `a::b` and `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|path| format!("{prefix}{path}"))
        .collect()
}

/// The modules of its own crate that a file's code names (`crate::…`, `super::…`).
/// What names a module of its own crate: `crate::` or `super::`, then a path or a use tree.
fn use_paths() -> Regex {
    Regex::new(r"\b(crate|super(?:::super)*)::(\{[^;]*?\}|[A-Za-z0-9_:]+(?:::\{[^;]*?\})?)")
        .unwrap()
}

/// `path` finds `crate::…` and `super::…` paths and use trees ([`use_paths`]).
fn imports(
    path: &Regex,
    text: &str,
    module: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let code: Vec<&str> = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect();
    let code = code.join("\n");
    let mut found = BTreeSet::new();
    for captures in path.captures_iter(&code) {
        let base: Vec<String> = match &captures[1] {
            "crate" => Vec::new(),
            supers => {
                let up = supers.matches("super").count();
                module[..module.len().saturating_sub(up)].to_vec()
            }
        };
        for named in expand(&captures[2]) {
            let mut target = base.clone();
            target.extend(
                named
                    .split("::")
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned),
            );
            // The longest prefix that is a module of the crate.
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            found.insert(target);
        }
    }
    found
}

#[test]
fn no_crate_has_modules_importing_each_other_in_a_circle() {
    let path = use_paths();
    let mut circles = Vec::new();
    for (_, src) in crate_sources() {
        let files: Vec<(Vec<String>, String)> = rust_files(&src)
            .into_iter()
            .filter_map(|file| {
                let module = module_of(&src, &file)?;
                let text = fs::read_to_string(&file).unwrap();
                Some((module, non_test_code(&text).to_owned()))
            })
            .collect();
        let modules: BTreeSet<Vec<String>> =
            files.iter().map(|(module, _)| module.clone()).collect();
        // An edge between two modules neither of which contains the other (a parent's
        // re-export of its child and the child's use of its parent are one module's parts).
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (module, text) in &files {
            for target in imports(&path, text, module, &modules) {
                if !target.starts_with(module) && !module.starts_with(&target) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        // A circle is an edge whose target reaches back to its source.
        for (from, targets) in &edges {
            for to in targets {
                if from < to && reaches(&edges, to, from) {
                    circles.push(format!(
                        "{}: {} <-> {}",
                        src.display(),
                        from.join("::"),
                        to.join("::")
                    ));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other (move what they share into a module both use):\n{}",
        circles.join("\n")
    );
}

fn reaches(
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    from: &[String],
    to: &[String],
) -> bool {
    let mut seen = BTreeSet::new();
    let mut pending = vec![from.to_vec()];
    while let Some(module) = pending.pop() {
        if module == to {
            return true;
        }
        if seen.insert(module.clone()) {
            pending.extend(edges.get(&module).into_iter().flatten().cloned());
        }
    }
    false
}

#[test]
fn the_use_tree_expansion_reads_nested_groups() {
    assert_eq!(
        expand("pages::{accounts::{a, b}, tokens, }"),
        ["pages::accounts::a", "pages::accounts::b", "pages::tokens"]
    );
    assert_eq!(expand("views::page"), ["views::page"]);
}
