//! The modules of `src/` depend one way: this reads every file's paths
//! (`use` lines and paths written inline: `crate::…`, `super::…`, a child
//! module's name) and fails on any circle in the graph of files. A child
//! module's `super::` is an edge to its parent's file, so a parent that
//! uses its children cannot also serve them helpers: those live in a lower
//! module. Inline `mod … { … }` blocks (unit tests) are left out: they are
//! not part of the shipped graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A file's module path: `src/lib.rs` → `[]`, `src/edge/mod.rs` →
/// `["edge"]`, `src/edge/sql.rs` → `["edge", "sql"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments, string and char literals, and
/// inline `mod name { … }` blocks.
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Depths at which an inline module block opened; while any is open,
    // code is skipped.
    let mut depth = 0usize;
    let mut skip_from: Option<usize> = None;
    while i < b.len() {
        let c = b[i] as char;
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
            continue;
        }
        if c == 'r' && (rest.starts_with("r\"") || rest.starts_with("r#")) {
            let hashes = rest[1..].chars().take_while(|&h| h == '#').count();
            if rest[1 + hashes..].starts_with('"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let body = 2 + hashes;
                i += rest[body..]
                    .find(&close)
                    .map_or(rest.len(), |e| body + e + close.len());
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            if b.get(i + 1) == Some(&b'\\') {
                i += rest[2..].find('\'').map_or(rest.len(), |e| e + 3);
                continue;
            }
            if b.get(i + 2) == Some(&b'\'') {
                i += 3;
                continue;
            }
        }
        if c == '{' {
            if skip_from.is_none() {
                if let Some(at) = inline_mod_at(&out) {
                    out.truncate(at);
                    skip_from = Some(depth);
                }
            }
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            if skip_from == Some(depth) {
                skip_from = None;
                i += 1;
                continue;
            }
        }
        if skip_from.is_none() {
            out.push(c);
        }
        i += c.len_utf8();
    }
    out
}

/// Where `mod name` starts, when it is the code just before a `{`.
fn inline_mod_at(before: &str) -> Option<usize> {
    let t = before.trim_end();
    let name_start = t
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |p| p + 1);
    let head = t[..name_start].trim_end();
    (name_start < t.len() && head.ends_with("mod")).then(|| head.len() - "mod".len())
}

/// The child modules a file declares (`mod x;`).
fn children(code: &str) -> BTreeSet<String> {
    code.split(';')
        .filter_map(|stmt| {
            let words: Vec<&str> = stmt.split_whitespace().collect();
            let at = words.iter().rposition(|w| *w == "mod")?;
            (at + 2 == words.len()).then(|| words[at + 1].to_owned())
        })
        .collect()
}

/// Every path in the code that starts with `crate::`, `super::` or a
/// child's name, as segments resolved from the crate root.
fn paths(code: &str, me: &[String], kids: &BTreeSet<String>) -> Vec<Vec<String>> {
    let tokens: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.contains("::"))
        .collect();
    let mut out = Vec::new();
    for t in tokens {
        let segs: Vec<&str> = t.split("::").filter(|s| !s.is_empty()).collect();
        let Some(first) = segs.first() else { continue };
        let mut base: Vec<String>;
        let mut rest = &segs[..];
        match *first {
            "crate" => {
                base = Vec::new();
                rest = &segs[1..];
            }
            "super" | "self" => {
                base = me.to_vec();
                while let Some(s) = rest.first() {
                    match *s {
                        "super" => {
                            base.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            name if kids.contains(name) => base = me.to_vec(),
            _ => continue,
        }
        base.extend(rest.iter().map(|s| (*s).to_owned()));
        out.push(base);
    }
    // A `use a::{b, c}` group: `a::` alone resolves to `a`, which is
    // enough for a graph of files.
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of files, from each file's module path and code.
fn graph(modules: &[(Vec<String>, String)]) -> Graph {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|(m, _)| m.clone()).collect();
    let name = |m: &[String]| {
        if m.is_empty() {
            "crate".to_owned()
        } else {
            m.join("::")
        }
    };
    let mut edges = Graph::new();
    for (me, code) in modules {
        let kids = children(code);
        let from = name(me);
        edges.entry(from.clone()).or_default();
        for mut p in paths(code, me, &kids) {
            // The longest prefix that is a file of src/.
            while !p.is_empty() && !known.contains(&p) {
                p.pop();
            }
            let to = name(&p);
            // `crate::` alone is the root, which only declares modules.
            if to != from && !p.is_empty() {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A circle of the graph, if it has one (depth-first search).
fn circle(edges: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut circle = stack[at..].to_vec();
                circle.push(n.to_owned());
                return Some(circle);
            }
            _ => {}
        }
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut state, &mut Vec::new()))
}

#[test]
fn the_modules_of_src_have_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            (module_of(&src, f), code_of(&text))
        })
        .collect();
    let edges = graph(&modules);
    assert!(edges.len() > 10, "src/ was read: {edges:?}");
    if let Some(c) = circle(&edges) {
        panic!("a circle in the modules of src/: {}", c.join(" -> "));
    }
    // The graph the test saw, for a reader of its output.
    for (from, to) in &edges {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
}

#[test]
fn the_reader_finds_circles() {
    let m = |path: &[&str], code: &str| {
        (
            path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            code_of(code),
        )
    };
    // A parent that uses its child, which uses `super::` (comments, strings,
    // chars and inline test modules do not count).
    let parent = m(
        &["x"],
        "mod a;\nuse a::f;\npub fn g() {}\n#[cfg(test)]\nmod tests { use crate::y::z; }",
    );
    let child = m(
        &["x", "a"],
        "use super::g; // crate::y\nfn h() { let s = \"crate::y\"; let c = '{'; }",
    );
    let other = m(&["y"], "pub fn z() {}");
    assert_eq!(children(&parent.1), BTreeSet::from(["a".to_owned()]));
    let edges = graph(&[parent.clone(), child, other.clone()]);
    assert_eq!(edges["x"], BTreeSet::from(["x::a".to_owned()]));
    assert_eq!(edges["x::a"], BTreeSet::from(["x".to_owned()]));
    assert!(edges["y"].is_empty());
    assert_eq!(
        circle(&edges),
        Some(vec!["x".to_owned(), "x::a".to_owned(), "x".to_owned()])
    );
    // Without the child's `super::`, no circle.
    let child = m(&["x", "a"], "use crate::y::z;");
    let edges = graph(&[parent, child, other]);
    assert_eq!(circle(&edges), None);
}
