//! `.kamal/secrets*` read as Kamal 2.11 reads them: `<path>-common` then `<path>` (no
//! destination) or `<path>.<dest>`, each file parsed on its own by dotenv 3.2 with
//! `overwrite: true`, later files win. Quirks kept on purpose (they change values):
//! `$VAR` sees only earlier keys of the same file and the process env; `${VAR:-x}` is not
//! supported (becomes `<VAR>:-x}`); backslash escapes are removed before `$(…)` runs;
//! double-quoted `\n` stays a literal backslash-n; `$(kamal secrets fetch|extract …)` runs
//! in-process (only the offline `test` adapter). Resolution is lazy and cached.

use super::backtick::run_backtick;
use super::error::{ConfigError, ErrorKind};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The app's secrets. Cheap to clone; values are read (and `$(…)` run) on first use.
#[derive(Clone)]
pub struct Secrets {
    inner: Arc<Inner>,
}

struct Inner {
    /// Candidate files in read order (`-common` first); only existing ones are read.
    candidates: Vec<PathBuf>,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    values: OnceLock<Result<IndexMap<String, String>, ConfigError>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values.
        f.debug_struct("Secrets").field("files", &self.inner.candidates).finish()
    }
}

impl Secrets {
    pub fn new(secrets_path: &str, destination: Option<&str>, cwd: &Path, env: BTreeMap<String, String>) -> Self {
        let base = secrets_path.to_string();
        let candidates = vec![
            PathBuf::from(format!("{base}-common")),
            PathBuf::from(match destination {
                Some(d) => format!("{base}.{d}"),
                None => base.clone(),
            }),
        ];
        Secrets { inner: Arc::new(Inner { candidates, cwd: cwd.to_path_buf(), env, values: OnceLock::new() }) }
    }

    fn abs(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.inner.cwd.join(p)
        }
    }

    /// The secrets files that exist, as Kamal names them (relative paths stay relative).
    pub fn files(&self) -> Vec<PathBuf> {
        self.inner.candidates.iter().filter(|p| self.abs(p).exists()).cloned().collect()
    }

    /// All candidate file names (for "no secret files (…) provided" messages).
    pub fn candidate_files(&self) -> &[PathBuf] {
        &self.inner.candidates
    }

    /// Every secret, resolved (runs `$(…)` commands once).
    pub fn values(&self) -> Result<&IndexMap<String, String>, ConfigError> {
        self.inner
            .values
            .get_or_init(|| {
                let mut all = IndexMap::new();
                for f in self.files() {
                    let path = self.abs(&f);
                    let raw =
                        std::fs::read(&path).map_err(|e| ConfigError::new(ErrorKind::Io, format!("cannot read secrets file: {e}")).with_file(f.clone()))?;
                    let text = String::from_utf8_lossy(&raw);
                    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                    let parsed = parse_dotenv(text, &self.inner.env, true, &self.inner.cwd).map_err(|m| {
                        let mut e = ConfigError::new(ErrorKind::Secret, m).with_file(f.clone());
                        e.key = None;
                        e
                    })?;
                    for (k, v) in parsed {
                        all.insert(k, v);
                    }
                }
                Ok(all)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Kamal's `secrets[key]`: a missing key is an error naming the files.
    pub fn get(&self, key: &str) -> Result<String, ConfigError> {
        let v = self.values()?;
        match v.get(key) {
            Some(s) => Ok(s.clone()),
            None => {
                let files = self.files();
                let msg = if files.is_empty() {
                    format!(
                        "Secret '{key}' not found, no secret files ({}) provided",
                        self.inner.candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("Secret '{key}' not found in {}", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
                };
                let mut e = ConfigError::new(ErrorKind::Secret, msg);
                e.key = None;
                if let Some(f) = files.last().or(self.inner.candidates.last()) {
                    e = e.with_file(f.clone());
                }
                Err(e)
            }
        }
    }

    /// Kamal's `secrets.key?(key)`: present and non-blank; errors count as absent.
    pub fn has(&self, key: &str) -> bool {
        self.values().ok().and_then(|v| v.get(key)).is_some_and(|s| !s.trim().is_empty())
    }
}

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
                        inline_kamal_secrets(&command)?
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

fn is_kamal_secrets(cmd: &str) -> bool {
    let t = cmd.trim_start();
    let Some(rest) = t.strip_prefix("kamal") else { return false };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix("secrets") else { return false };
    rest.starts_with(char::is_whitespace)
}

/// `kamal secrets fetch|extract …` inlined like Kamal does (`--inline`).
fn inline_kamal_secrets(cmd: &str) -> Result<String, String> {
    let words = shell_words::split(cmd).map_err(|e| format!("cannot split `{cmd}`: {e}"))?;
    let args = &words[2..];
    let sub = args.first().map(String::as_str).unwrap_or("");
    let mut opts: BTreeMap<String, String> = BTreeMap::new();
    let mut pos = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if let Some(o) = a.strip_prefix("--") {
            if let Some((k, v)) = o.split_once('=') {
                opts.insert(k.to_string(), v.to_string());
            } else if o == "inline" {
            } else if i + 1 < args.len() {
                opts.insert(o.to_string(), args[i + 1].clone());
                i += 1;
            }
        } else if a == "-a" && i + 1 < args.len() {
            opts.insert("adapter".into(), args[i + 1].clone());
            i += 1;
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    match sub {
        "fetch" => {
            let adapter = opts.get("adapter").cloned().unwrap_or_default();
            if adapter != "test" {
                return Err(format!(
                    "`kamal secrets fetch --adapter {adapter}` is not run by kdeck (only the offline `test` adapter); put the value in the secrets file or use a plain $(command)"
                ));
            }
            if opts.get("account").is_none_or(|a| a.trim().is_empty()) {
                return Err("No value provided for required options '--account'".into());
            }
            let from = opts.get("from");
            // JSON.dump of a Ruby hash: insertion order, later duplicates overwrite.
            let mut map: IndexMap<String, String> = IndexMap::new();
            for s in pos {
                let key = match from {
                    Some(f) => format!("{f}/{s}"),
                    None => s,
                };
                let val: String = key.replace("LPAREN", "(").replace("RPAREN", ")").chars().rev().collect();
                map.insert(key, val);
            }
            let body: Vec<String> = map.iter().map(|(k, v)| format!("{}:{}", json_str(k), json_str(v))).collect();
            Ok(ruby_shellescape(&format!("{{{}}}", body.join(","))))
        }
        "extract" => {
            let name = pos.first().cloned().unwrap_or_default();
            let json = pos.get(1).cloned().unwrap_or_default();
            let parsed: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("kamal secrets extract: invalid JSON: {e}"))?;
            let obj = parsed.as_object().ok_or("kamal secrets extract: not a JSON object")?;
            let v = obj.get(&name).or_else(|| obj.iter().find(|(k, _)| k.ends_with(&format!("/{name}"))).map(|(_, v)| v));
            match v {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Null) | None => Err(format!("Could not find secret {name}")),
                Some(other) => Ok(other.to_string()),
            }
        }
        other => Err(format!("`kamal secrets {other}` is not supported inside secrets files")),
    }
}

/// A JSON string as Ruby's `JSON.dump` writes it (UTF-8 kept, `/` not escaped).
fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Ruby's `Shellwords.escape`.
pub fn ruby_shellescape(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let mut o = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || "_-.,:+/@".contains(ch) || !ch.is_ascii() {
            o.push(ch);
        } else if ch == '\n' {
            o.push_str("'\n'");
        } else {
            o.push('\\');
            o.push(ch);
        }
    }
    o
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
    fn kamal_secrets_test_adapter() {
        let env = BTreeMap::new();
        let src = "S=$(kamal secrets fetch --adapter test --account a --from v/app K1 K2)\nK1=$(kamal secrets extract K1 $S)\nK2=$(kamal secrets extract v/app/K2 $S)\n";
        let p: IndexMap<_, _> = parse_dotenv(src, &env, true, Path::new("/")).unwrap().into_iter().collect();
        assert_eq!(p["K1"], "1K/ppa/v");
        assert_eq!(p["K2"], "2K/ppa/v");
    }
}
