//! The house's shape, checked from the source text (no crate import, milliseconds to run).
//!
//! **Layers.** Every file of `src/` belongs to a top-level module; a module may name (through
//! `crate::<module>` or, in `main.rs`, `kdeck::<module>`) only modules on a lower floor:
//!
//! | floor | modules | what they own |
//! | --- | --- | --- |
//! | 0 | `pattern`, `logging` | leaf utilities (wildcards, the tracing file) |
//! | 1 | `config` | Kamal's configuration as Kamal reads it (YAML, ERB, secrets) |
//! | 2 | `ssh` | one connection per host, `ConnState` |
//! | 3 | `docker` | typed operations on one host's engine, `ContainerInfo` |
//! | 4 | `kamal` | Kamal's names, labels, lock (`LockInfo`), audit, hooks, command strings |
//! | 5 | `deploy`, `fleet` | the engine; the live picture (siblings: never name each other) |
//! | 6 | `cli` | the command line (clap definitions) |
//! | 7 | `app` | the composition root: load the app, build the pool, describe the fleet |
//! | 8 | `commands`, `tui` | the headless commands; the dashboard (siblings) |
//! | 9 | `main` | the binary |
//!
//! **Rooms.** No file over 600 lines and no function over 100: a room that grows past them is
//! split along the seam it already marks (a folder module, named steps).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 100;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments, string and char literals blanked (newlines kept), so that braces
/// and `fn` inside them are not counted.
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !b.get(i.wrapping_sub(1)).is_some_and(|p| p.is_alphanumeric() || *p == '_') {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            for &ch in &b[i..(j + 1).min(b.len())] {
                out.push(blank(ch));
            }
            i = j + 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a): only the former is blanked.
            let lit_end = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match lit_end {
                Some(e) => {
                    for &ch in &b[i..=e] {
                        out.push(blank(ch));
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `(name, first line, line count)` of every function with a body.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
        let Some(pos) = words.iter().position(|w| *w == "fn") else { continue };
        let Some(name) = words.get(pos + 1) else { continue };
        // Walk from the `fn` to its body's closing brace; a `;` before any `{` is a declaration.
        let mut depth = 0i32;
        let mut opened = false;
        let start = line.find("fn ").unwrap_or(0);
        'outer: for (m, l) in lines.iter().enumerate().skip(n) {
            let text = if m == n { &l[start..] } else { l };
            for ch in text.chars() {
                match ch {
                    ';' if !opened && depth == 0 => break 'outer,
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => {
                        depth -= 1;
                        if opened && depth == 0 {
                            found.push((name.to_string(), n + 1, m - n + 1));
                            break 'outer;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// The floor of each top-level module (see the table at the top).
const FLOORS: &[(&str, u8)] = &[
    ("pattern", 0),
    ("logging", 0),
    ("config", 1),
    ("ssh", 2),
    ("docker", 3),
    ("kamal", 4),
    ("deploy", 5),
    ("fleet", 5),
    ("cli", 6),
    ("app", 7),
    ("commands", 8),
    ("tui", 8),
    ("main", 9),
];

fn src_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 20, "too few source files under {}/src", root.display());
    files.into_iter().map(|f| (f.strip_prefix(root).unwrap().display().to_string(), std::fs::read_to_string(&f).unwrap())).collect()
}

/// `src/ssh/x.rs` → `ssh`, `src/cli.rs` → `cli`, `src/lib.rs` → None (it only declares).
fn module_of(rel: &str) -> Option<&str> {
    let rest = rel.strip_prefix("src/")?;
    let top = rest.split('/').next()?;
    let top = top.strip_suffix(".rs").unwrap_or(top);
    (top != "lib").then_some(top)
}

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// Every `(line, module)` a file names: `crate::m`, `$crate::m`, `kdeck::m` (in main.rs), and
/// the members of `use crate::{a, b::c}` groups.
fn named_modules(code: &str, from: &str) -> Vec<(usize, String)> {
    let prefixes: &[&str] = if from == "main" { &["kdeck::"] } else { &["crate::"] };
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for p in prefixes {
            let mut rest = line;
            while let Some(i) = rest.find(p) {
                let before = rest[..i].chars().last();
                let after = &rest[i + p.len()..];
                rest = after;
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                if let Some(group) = after.strip_prefix('{') {
                    let inner = group.split('}').next().unwrap_or("");
                    for item in inner.split(',') {
                        let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        out.push((n + 1, name));
                    }
                } else {
                    let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    out.push((n + 1, name));
                }
            }
        }
    }
    out.retain(|(_, m)| floor(m).is_some());
    out
}

/// `(from, to) → first place` for every edge between two top-level modules.
fn edges() -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for (rel, src) in src_files() {
        let Some(from) = module_of(&rel) else { continue };
        assert!(floor(from).is_some(), "{rel}: top-level module `{from}` has no floor in FLOORS");
        for (line, to) in named_modules(&code_only(&src), from) {
            if to != from {
                edges.entry((from.to_string(), to)).or_insert(format!("{rel}:{line}"));
            }
        }
    }
    edges
}

#[test]
fn src_modules_name_only_layers_below_them() {
    let edges = edges();
    assert!(edges.contains_key(&("tui".into(), "fleet".into())), "the edge reader found no tui -> fleet edge: {edges:?}");
    let bad: Vec<String> = edges.iter().filter(|((from, to), _)| floor(to) >= floor(from)).map(|((from, to), at)| format!("{at}  {from} -> {to}")).collect();
    assert!(bad.is_empty(), "modules naming a module on their own floor or above:\n{}", bad.join("\n"));
}

#[test]
fn top_level_modules_form_no_cycle() {
    let edges = edges();
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().insert(to);
    }
    // Depth-first search; a module met again on the current path closes a cycle.
    fn visit<'a>(n: &'a str, g: &BTreeMap<&'a str, BTreeSet<&'a str>>, path: &mut Vec<&'a str>, done: &mut BTreeSet<&'a str>) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n);
            return Some(cycle);
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, &graph, &mut vec![], &mut done) {
            panic!("import cycle between top-level modules: {}", c.join(" -> "));
        }
    }
}

#[test]
fn no_room_is_over_its_size() {
    let mut problems = Vec::new();
    for (rel, src) in src_files() {
        let lines = src.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{rel}: file of {lines} lines (at most {MAX_FILE_LINES})"));
        }
        for (name, _, len) in functions(&code_only(&src)) {
            if len > MAX_FN_LINES {
                problems.push(format!("{rel}:{name}: fn of {len} lines (at most {MAX_FN_LINES})"));
            }
        }
    }
    assert!(problems.is_empty(), "rooms over size:\n{}", problems.join("\n"));
}

#[test]
fn function_finder_counts_bodies_and_skips_literals() {
    let src = "fn a() {\n    let s = \"}{\";\n    let c = '}';\n    // }\n}\nfn decl();\nfn b<'x>(v: &'x str) -> &'x str {\n    r#\"{\"#;\n    v\n}\n";
    let fns = functions(&code_only(src));
    assert_eq!(fns, vec![("a".to_string(), 1, 5), ("b".to_string(), 7, 4)]);
}
