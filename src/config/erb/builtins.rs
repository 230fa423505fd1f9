//! Method calls: `ENV`/`File`/`Dotenv` class methods, receiver-less calls (`require`,
//! `raise`, `__dir__`), `scan`/`match` with a regexp, and the String/Array methods.

use super::eval::{Eval, Raise};
use super::parser::Expr;
use crate::config::value::Value;
use std::path::{Path, PathBuf};

impl Eval<'_, '_> {
    pub(super) fn call(&mut self, recv: Option<&Expr>, name: &str, args: &[Expr], block: Option<&Expr>, line: usize) -> Result<Value, Raise> {
        // Receivers that are constants: ENV, File, Dotenv.
        if let Some(Expr::Const(c)) = recv {
            let c = c.clone();
            let av = self.eval_args(args, line)?;
            return match c.as_str() {
                "ENV" => self.env_method(name, &av, block, line),
                "File" => self.file_method(name, &av, line),
                "Dotenv" => self.dotenv_method(name, &av, line),
                _ => None,
            }
            .unwrap_or_else(|| Err(self.unsup(line, &format!("`{c}.{name}`"))));
        }
        let Some(recv) = recv else {
            return self.bare_call(name, args, line);
        };
        let r = self.eval(recv, line)?;
        // `scan`/`match` take a regexp literal.
        if name == "scan" || name == "match" || name == "match?" {
            return self.regex_method(name, &r, args, line);
        }
        let av = self.eval_args(args, line)?;
        if let Some(v) = any_method(name, &r) {
            return Ok(v);
        }
        let v = match &r {
            Value::Str(s) => str_method(name, s, &av),
            Value::Seq(s) => seq_method(name, s, &av),
            _ => None,
        };
        match (v, name) {
            (Some(v), _) => Ok(v),
            (None, "gsub" | "sub" | "tr") => Err(self.unsup(line, &format!("`.{name}` (tr: plain characters and ranges only)"))),
            (None, m) => Err(self.unsup(line, &format!("`.{m}` on {}", r.class_name()))),
        }
    }

    fn eval_args(&mut self, args: &[Expr], line: usize) -> Result<Vec<Value>, Raise> {
        let mut av = Vec::new();
        for a in args {
            av.push(self.eval(a, line)?);
        }
        Ok(av)
    }

    /// `ENV.fetch` (with a default or a block), `ENV.key?`, `ENV[]`; None: not an ENV method.
    fn env_method(&mut self, name: &str, av: &[Value], block: Option<&Expr>, line: usize) -> Option<Result<Value, Raise>> {
        let key = |ev: &Self| ev.env_key(av.first().unwrap_or(&Value::Nil), line);
        Some(match name {
            "fetch" => self.env_fetch(av, block, line),
            "key?" | "has_key?" | "include?" => key(self).map(|k| Value::Bool(self.ctx.env.contains_key(&k))),
            "[]" => key(self).map(|k| self.ctx.env.get(&k).cloned().map(Value::Str).unwrap_or(Value::Nil)),
            _ => return None,
        })
    }

    /// `ENV.fetch(k)`, `ENV.fetch(k, default)`, `ENV.fetch(k) { default }`.
    fn env_fetch(&mut self, av: &[Value], block: Option<&Expr>, line: usize) -> Result<Value, Raise> {
        let k = self.env_key(av.first().unwrap_or(&Value::Nil), line)?;
        if let Some(v) = self.ctx.env.get(&k) {
            return Ok(Value::Str(v.clone()));
        }
        if let Some(d) = av.get(1) {
            return Ok(d.clone());
        }
        if let Some(b) = block {
            return self.eval(b, line);
        }
        Err(Raise::Ruby("KeyError".into(), format!("key not found: {:?}", k), line))
    }

    /// `File.read`, `File.exist?`, `File.join`, `File.expand_path`; None: not one of them.
    fn file_method(&self, name: &str, av: &[Value], line: usize) -> Option<Result<Value, Raise>> {
        let first = || av.first().map(Value::to_rstring).unwrap_or_default();
        Some(match name {
            "read" => {
                let p = first();
                match std::fs::read_to_string(self.path(&p)) {
                    Ok(s) => Ok(Value::Str(s)),
                    Err(_) => Err(Raise::Ruby("Errno::ENOENT".into(), format!("No such file or directory @ rb_sysopen - {p}"), line)),
                }
            }
            "exist?" | "exists?" | "file?" => Ok(Value::Bool(self.path(&first()).exists())),
            "join" => Ok(Value::Str(av.iter().map(Value::to_rstring).collect::<Vec<_>>().join("/"))),
            "expand_path" => {
                let p = first();
                // `~` is the user's home, as Ruby expands it.
                let home = || self.ctx.env.get("HOME").cloned().unwrap_or_default();
                let p = if p == "~" { home() } else { p.strip_prefix("~/").map(|r| format!("{}/{r}", home())).unwrap_or(p) };
                let base = av.get(1).filter(|b| !b.is_nil()).map(|b| self.path(&b.to_rstring())).unwrap_or_else(|| self.ctx.cwd.to_path_buf());
                Ok(Value::Str(normalize(&base.join(p)).display().to_string()))
            }
            _ => return None,
        })
    }

    /// `Dotenv.load`/`load!`/`overload`/`overwrite`: parse the files into ENV, return what was
    /// loaded; None: not one of them.
    fn dotenv_method(&mut self, name: &str, av: &[Value], line: usize) -> Option<Result<Value, Raise>> {
        if !matches!(name, "load" | "load!" | "overload" | "overwrite") {
            return None;
        }
        let overwrite = name == "overload" || name == "overwrite";
        let files: Vec<String> = if av.is_empty() { vec![".env".into()] } else { av.iter().map(Value::to_rstring).collect() };
        let mut loaded = crate::config::value::Map::new();
        for f in files {
            let path = self.path(&f);
            let Ok(text) = std::fs::read_to_string(&path) else {
                if name == "load!" {
                    return Some(Err(Raise::Ruby("Errno::ENOENT".into(), format!("No such file or directory @ rb_sysopen - {f}"), line)));
                }
                continue;
            };
            let parsed = match crate::config::secrets::parse_dotenv(&text, self.ctx.env, overwrite, self.ctx.cwd) {
                Ok(p) => p,
                Err(m) => return Some(Err(Raise::Ruby("Dotenv::FormatError".into(), m, line))),
            };
            for (k, v) in parsed {
                if overwrite || !self.ctx.env.contains_key(&k) {
                    self.ctx.env.insert(k.clone(), v.clone());
                }
                loaded.insert(Value::Str(k), Value::Str(v));
            }
        }
        Some(Ok(Value::Map(loaded)))
    }

    /// Calls without a receiver: `__dir__`, `require`, `raise`/`fail`, `format`/`sprintf`.
    fn bare_call(&mut self, name: &str, args: &[Expr], line: usize) -> Result<Value, Raise> {
        match name {
            // ERB#result evals without a file name, so `__dir__` is nil in Kamal.
            "__dir__" => Ok(Value::Nil),
            "require" => {
                let a = args.first().map(|a| self.eval(a, line)).transpose()?.unwrap_or(Value::Nil);
                match a.to_rstring().as_str() {
                    "dotenv" | "dotenv/load" | "yaml" | "json" | "erb" => Ok(Value::Bool(true)),
                    other => Err(self.unsup(line, &format!("require {other:?}"))),
                }
            }
            "raise" | "fail" => Err(self.raise(args, line)?),
            "format" | "sprintf" => {
                let av = self.eval_args(args, line)?;
                let Some((fmt, rest)) = av.split_first() else { return Err(Raise::Ruby("ArgumentError".into(), "too few arguments".into(), line)) };
                let s = super::format::format(&fmt.to_rstring(), rest).map_err(|e| self.format_err(e, line))?;
                Ok(Value::Str(s))
            }
            _ => Err(self.unsup(line, &format!("`{name}(…)`"))),
        }
    }

    /// `raise "msg"`, `raise Class`, `raise Class, "msg"`: the exception to raise (a
    /// RuntimeError unless a class is named).
    fn raise(&mut self, args: &[Expr], line: usize) -> Result<Raise, Raise> {
        let (class, msg) = match args {
            [] => ("RuntimeError".to_string(), "unhandled exception".to_string()),
            [Expr::Const(c)] => (c.clone(), c.clone()),
            [Expr::Const(c), m, ..] => (c.clone(), self.eval(m, line)?.to_rstring()),
            [m, ..] => ("RuntimeError".to_string(), self.eval(m, line)?.to_rstring()),
        };
        Ok(Raise::Ruby(class, msg, line))
    }

    /// `scan`, `match`, `match?` with a regexp literal (or a string pattern).
    fn regex_method(&mut self, name: &str, r: &Value, args: &[Expr], line: usize) -> Result<Value, Raise> {
        let re = match args.first() {
            Some(Expr::Regex(r)) => r.clone(),
            Some(other) => self.eval(other, line)?.to_rstring(),
            None => return Err(self.unsup(line, "scan without a pattern")),
        };
        let re = regex::Regex::new(&re).map_err(|_| self.unsup(line, &format!("regular expression /{re}/")))?;
        let s = r.to_rstring();
        Ok(match name {
            "scan" => Value::Seq(
                re.captures_iter(&s)
                    .map(|c| {
                        if c.len() == 1 {
                            Value::Str(c[0].to_string())
                        } else {
                            Value::Seq((1..c.len()).map(|i| c.get(i).map(|m| Value::Str(m.as_str().into())).unwrap_or(Value::Nil)).collect())
                        }
                    })
                    .collect(),
            ),
            "match?" => Value::Bool(re.is_match(&s)),
            _ => re.captures(&s).map(|c| Value::Str(c[0].to_string())).unwrap_or(Value::Nil),
        })
    }
}

/// Methods every value has (`to_s`, `inspect`, `nil?`, `present?`, …) and `to_i`.
fn any_method(name: &str, r: &Value) -> Option<Value> {
    use Value::*;
    Some(match (name, r) {
        ("to_s", v) => Str(v.to_rstring()),
        ("to_i", Str(s)) => Int(s.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect::<String>().parse().unwrap_or(0)),
        ("to_i", Int(i)) => Int(*i),
        ("to_i", Nil) => Int(0),
        ("inspect", v) => Str(v.inspect()),
        ("nil?", v) => Bool(v.is_nil()),
        ("present?", v) => Bool(v.present()),
        ("blank?", v) => Bool(!v.present()),
        ("presence", v) => {
            if v.present() {
                v.clone()
            } else {
                Nil
            }
        }
        ("to_json", v) => Str(to_json(v)?),
        _ => return None,
    })
}

/// `to_json` as the json gem writes it inside Kamal (no HTML escaping); None for values outside
/// strings, numbers, arrays, hashes.
fn to_json(v: &Value) -> Option<String> {
    Some(match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) | Value::Sym(s) => serde_json::to_string(s).ok()?,
        Value::Seq(items) => format!("[{}]", items.iter().map(to_json).collect::<Option<Vec<_>>>()?.join(",")),
        Value::Map(m) => {
            let pairs: Option<Vec<String>> = m.iter().map(|(k, v)| Some(format!("{}:{}", to_json(&Value::Str(k.to_rstring()))?, to_json(v)?))).collect();
            format!("{{{}}}", pairs?.join(","))
        }
        Value::Float(_) => return None,
    })
}

/// String methods; None: not one this subset has.
fn str_method(name: &str, s: &str, av: &[Value]) -> Option<Value> {
    use Value::*;
    let arg_s = |i: usize| av.get(i).map(Value::to_rstring);
    Some(match name {
        "strip" => Str(s.trim_matches(|c: char| c.is_whitespace() || c == '\0').to_string()),
        "lstrip" => Str(s.trim_start().to_string()),
        "rstrip" => Str(s.trim_end().to_string()),
        "chomp" => Str(s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n')).or_else(|| s.strip_suffix('\r')).unwrap_or(s).to_string()),
        "upcase" => Str(s.to_uppercase()),
        "downcase" => Str(s.to_lowercase()),
        "empty?" => Bool(s.is_empty()),
        "length" | "size" => Int(s.chars().count() as i64),
        "include?" => Bool(s.contains(&arg_s(0).unwrap_or_default())),
        "start_with?" => Bool(av.iter().any(|a| s.starts_with(&a.to_rstring()))),
        "end_with?" => Bool(av.iter().any(|a| s.ends_with(&a.to_rstring()))),
        "split" => {
            let parts: Vec<Value> = match arg_s(0) {
                None => s.split_whitespace().map(Value::str).collect(),
                Some(sep) if sep == " " => s.split_whitespace().map(Value::str).collect(),
                Some(sep) => {
                    let mut v: Vec<Value> = s.split(sep.as_str()).map(Value::str).collect();
                    // Ruby drops trailing empty fields.
                    while matches!(v.last(), Some(Str(x)) if x.is_empty()) {
                        v.pop();
                    }
                    v
                }
            };
            Seq(parts)
        }
        "to_sym" => Sym(s.to_string()),
        "delete_prefix" => Str(s.strip_prefix(arg_s(0)?.as_str()).unwrap_or(s).to_string()),
        "delete_suffix" => Str(s.strip_suffix(arg_s(0)?.as_str()).unwrap_or(s).to_string()),
        "tr" => Str(tr(s, &arg_s(0)?, &arg_s(1)?)?),
        _ => return None,
    })
}

/// `String#tr` with plain characters and `a-z` ranges (None for `^` negation or escapes).
fn tr(s: &str, from: &str, to: &str) -> Option<String> {
    fn set(spec: &str) -> Option<Vec<char>> {
        if spec.starts_with('^') || spec.contains('\\') {
            return None;
        }
        let c: Vec<char> = spec.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            if i + 2 < c.len() && c[i + 1] == '-' && c[i] <= c[i + 2] {
                out.extend(c[i]..=c[i + 2]);
                i += 3;
            } else {
                out.push(c[i]);
                i += 1;
            }
        }
        Some(out)
    }
    let (from, to) = (set(from)?, set(to)?);
    Some(
        s.chars()
            .filter_map(|ch| match from.iter().position(|f| *f == ch) {
                // Ruby pads the target with its last character; an empty target deletes.
                Some(i) => to.get(i).or(to.last()).copied(),
                None => Some(ch),
            })
            .collect(),
    )
}

/// Array methods; None: not one this subset has.
fn seq_method(name: &str, s: &[Value], av: &[Value]) -> Option<Value> {
    use Value::*;
    Some(match name {
        "empty?" => Bool(s.is_empty()),
        "length" | "size" => Int(s.len() as i64),
        "include?" => Bool(av.first().is_some_and(|a| s.contains(a))),
        "first" => s.first().cloned().unwrap_or(Nil),
        "last" => s.last().cloned().unwrap_or(Nil),
        "flatten" => {
            fn flat(v: &[Value], out: &mut Vec<Value>) {
                for x in v {
                    match x {
                        Value::Seq(i) => flat(i, out),
                        o => out.push(o.clone()),
                    }
                }
            }
            let mut out = Vec::new();
            flat(s, &mut out);
            Seq(out)
        }
        "compact" => Seq(s.iter().filter(|v| !v.is_nil()).cloned().collect()),
        "uniq" => {
            let mut out: Vec<Value> = Vec::new();
            for x in s {
                if !out.contains(x) {
                    out.push(x.clone());
                }
            }
            Seq(out)
        }
        "join" => Str(s.iter().map(Value::to_rstring).collect::<Vec<_>>().join(&av.first().map(Value::to_rstring).unwrap_or_default())),
        _ => return None,
    })
}

/// A path with `.` and `..` resolved lexically (Ruby's `File.expand_path`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
