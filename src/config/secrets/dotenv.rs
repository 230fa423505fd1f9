//! dotenv 3.2's parser as Kamal 2.11 installs it (its own `$(…)` substitution): `$VAR` sees
//! only earlier keys of the same file and the process env; `${VAR:-x}` is not supported
//! (becomes `<VAR>:-x}`); backslash escapes are removed before `$(…)` runs; double-quoted `\n`
//! stays a literal backslash-n; `$(kamal secrets fetch|extract …)` runs in-process.

use super::inline::{is_kamal_secrets, run_inline};
use super::vendor::VendorEnv;
use crate::config::backtick::run_backtick;
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

fn line_re() -> &'static regex::Regex {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| {
        regex::Regex::new(
            r#"(?m)(?:^|\A)[ \t\r\n\f\x0B]*(?P<export>export[ \t\r\n\f\x0B]+)?(?P<key>[A-Za-z0-9_.]+)(?:(?:[ \t\r\n\f\x0B]*=[ \t\r\n\f\x0B]*?|:[ \t\r\n\f\x0B]+?)(?P<value>[ \t\r\n\f\x0B]*'(?:\\'|[^'])*'|[ \t\r\n\f\x0B]*"(?:\\"|[^"])*"|[^#\n]+)?)?[ \t\r\n\f\x0B]*(?:#.*)?(?:$|\z)"#,
        )
        .expect("static regex")
    })
}

/// dotenv 3.2's parser (with Kamal's command substitution installed). `env` is the
/// process environment. Returns the file's keys in order.
pub fn parse_dotenv(text: &str, env: &BTreeMap<String, String>, overwrite: bool, cwd: &Path) -> Result<Vec<(String, String)>, String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut hash: IndexMap<String, String> = IndexMap::new();
    for caps in line_re().captures_iter(&text) {
        let key = caps.name("key").map(|m| m.as_str().to_string()).unwrap_or_default();
        let value = caps.name("value").map(|m| m.as_str());
        if !overwrite && key != "DOTENV_LINEBREAK_MODE" && env.contains_key(&key) {
            hash.insert(key.clone(), env.get(&key).cloned().unwrap_or_default());
        } else if caps.name("export").is_some() && value.is_none() {
            if !hash.contains_key(&key) {
                return Err(format!("Line {:?} has an unset variable", caps.get(0).map(|m| m.as_str()).unwrap_or("")));
            }
        } else {
            let v = parse_value(value.unwrap_or(""), &hash, env, cwd).map_err(|m| format!("{key}: {m}"))?;
            hash.insert(key, v);
        }
    }
    Ok(hash.into_iter().collect())
}

fn ruby_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0' || c == '\x0b')
}

fn parse_value(value: &str, hash: &IndexMap<String, String>, env: &BTreeMap<String, String>, cwd: &Path) -> Result<String, String> {
    let v = ruby_strip(value);
    let mut quote = None;
    let mut v = v.to_string();
    if v.len() >= 2 {
        let f = v.as_bytes()[0];
        if (f == b'"' || f == b'\'') && v.as_bytes()[v.len() - 1] == f {
            quote = Some(f as char);
            v = v[1..v.len() - 1].to_string();
        }
    }
    if quote == Some('"') {
        let legacy = hash.get("DOTENV_LINEBREAK_MODE").or_else(|| env.get("DOTENV_LINEBREAK_MODE")).is_some_and(|m| m == "legacy");
        v = if legacy { v.replace("\\n", "\n").replace("\\r", "\r") } else { v.replace("\\n", "\\\\n").replace("\\r", "\\\\r") };
    }
    if quote != Some('\'') {
        v = unescape(&v);
        v = command_substitution(&v, hash, env, cwd)?;
        v = variable_substitution(&v, hash, env);
    }
    Ok(v)
}

/// `value.gsub(/\\([^$])/, '\1')`
fn unescape(v: &str) -> String {
    let c: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\\' && i + 1 < c.len() && c[i + 1] != '$' && c[i + 1] != '\n' {
            out.push(c[i + 1]);
            i += 2;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Matches Kamal's `\((?:\\.|[^()\\]|\g<cmd>)+\)` starting at `c[i] == '('`; returns the
/// index after the closing paren. Iterative (no recursion on deeply nested input).
fn match_parens(c: &[char], i: usize) -> Option<usize> {
    if c.get(i) != Some(&'(') {
        return None;
    }
    // One counter of inner elements per open paren.
    let mut counts: Vec<usize> = vec![0];
    let mut j = i + 1;
    loop {
        match c.get(j)? {
            ')' => {
                let n = counts.pop()?;
                if n == 0 {
                    return None;
                }
                j += 1;
                match counts.last_mut() {
                    None => return Some(j),
                    Some(parent) => *parent += 1,
                }
            }
            '\\' => {
                if j + 1 >= c.len() || c[j + 1] == '\n' {
                    return None;
                }
                j += 2;
                *counts.last_mut()? += 1;
            }
            '(' => {
                counts.push(0);
                j += 1;
            }
            _ => {
                j += 1;
                *counts.last_mut()? += 1;
            }
        }
    }
}

fn command_substitution(v: &str, hash: &IndexMap<String, String>, env: &BTreeMap<String, String>, cwd: &Path) -> Result<String, String> {
    let c: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let escaped = c[i] == '\\' && c.get(i + 1) == Some(&'$');
        let dollar = if escaped { i + 1 } else { i };
        if c[dollar] == '$' {
            if let Some(end) = match_parens(&c, dollar + 1) {
                let inner: String = c[dollar + 2..end - 1].iter().collect();
                if escaped {
                    out.extend(&c[dollar..end]);
                } else {
                    let command = variable_substitution(&inner, hash, env);
                    let res = if is_kamal_secrets(&command) {
                        run_inline(&command, VendorEnv { env, cwd }).map_err(|e| e.to_string())?
                    } else {
                        let mut full = env.clone();
                        // Ruby's ENV at that point: dotenv does not export parsed keys yet.
                        full.retain(|_, _| true);
                        let o = run_backtick(&command, &full, cwd)?;
                        o.strip_suffix("\r\n").or_else(|| o.strip_suffix('\n')).or_else(|| o.strip_suffix('\r')).unwrap_or(&o).to_string()
                    };
                    out.push_str(&res);
                }
                i = end;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    Ok(out)
}

/// dotenv's `Substitutions::Variable`.
fn variable_substitution(v: &str, hash: &IndexMap<String, String>, env: &BTreeMap<String, String>) -> String {
    let c: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let escaped = c[i] == '\\' && c.get(i + 1) == Some(&'$') && c.get(i + 2) != Some(&'(');
        let d = if escaped { i + 1 } else { i };
        if c[d] == '$' && c.get(d + 1) != Some(&'(') {
            let mut j = d + 1;
            if c.get(j) == Some(&'{') {
                j += 1;
            }
            let ns = j;
            while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            let name: String = c[ns..j].iter().collect();
            if c.get(j) == Some(&'}') {
                j += 1;
            }
            let whole: String = c[d..j].iter().collect();
            if escaped {
                out.push_str(&whole);
            } else if !name.is_empty() {
                out.push_str(hash.get(&name).or_else(|| env.get(&name)).map(String::as_str).unwrap_or(""));
            } else {
                out.push_str(&whole);
            }
            i = j;
            continue;
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_quirks() {
        let mut env = BTreeMap::new();
        env.insert("E".to_string(), "from-env".to_string());
        env.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
        let src = "A=plain\nB = spaced # c\nC=\"double $A\\nnext\"\nD='single $A $(echo no)'\nF=${E:-fb}\nG=\\$A\nH=$(echo hi)\nI=$(echo outer-$(echo in))\nJ=\\$(echo no)\nK=$(printf 'a\\nb')\nexport L=x\n";
        let p: IndexMap<_, _> = parse_dotenv(src, &env, true, Path::new("/")).unwrap().into_iter().collect();
        assert_eq!(p["A"], "plain");
        assert_eq!(p["B"], "spaced");
        assert_eq!(p["C"], "double plain\\nnext");
        assert_eq!(p["D"], "single $A $(echo no)");
        assert_eq!(p["F"], "from-env:-fb}");
        assert_eq!(p["G"], "$A");
        assert_eq!(p["H"], "hi");
        assert_eq!(p["I"], "outer-in");
        assert_eq!(p["J"], "$(echo no)");
        assert_eq!(p["K"], "anb");
        assert_eq!(p["L"], "x");
    }

    #[test]
    fn deeply_nested_command_is_not_a_crash() {
        let env = BTreeMap::new();
        let src = format!("A=$({}x{})\n", "(".repeat(200_000), ")".repeat(10));
        let _ = parse_dotenv(&src, &env, true, Path::new("/"));
    }

    #[test]
    fn inline_kamal_secrets_with_the_test_adapter() {
        let env = BTreeMap::new();
        let src = "S=$(kamal secrets fetch --adapter test --account a --from v/app K1 K2)\nK1=$(kamal secrets extract K1 $S)\nK2=$(kamal secrets extract v/app/K2 $S)\n";
        let p: IndexMap<_, _> = parse_dotenv(src, &env, true, Path::new("/")).unwrap().into_iter().collect();
        assert_eq!(p["K1"], "1K/ppa/v");
        assert_eq!(p["K2"], "2K/ppa/v");
    }
}
