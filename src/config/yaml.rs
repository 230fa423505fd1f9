//! YAML read as Ruby's Psych (`YAML.unsafe_load`) reads it, built on yaml-rust2's event
//! parser: Psych's scalar resolution (YAML 1.1 booleans, `~`/`null`, `:symbols`, legacy
//! integers with `_`/`,`, sexagesimal numbers, floats that need a dot), anchors/aliases and
//! `<<` merge keys with Psych's semantics (the merged hash overwrites keys seen before it).
//! Also a small emitter that writes values back so Psych would read them the same.

use super::value::{Map, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML syntax error with a 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub message: String,
    pub line: usize,
    pub col: usize,
}

/// Alias expansion budget: refuse "billion laughs" documents instead of exhausting memory.
const MAX_NODES: usize = 2_000_000;
/// Nesting limit: keeps every recursive walk of the tree (clone, compare, drop) shallow.
const MAX_DEPTH: usize = 256;

enum Frame {
    Seq(Vec<Value>, usize),
    Map { map: Map, key: Option<(Value, bool)>, anchor: usize },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    error: Option<YamlError>,
    nodes: usize,
    done: bool,
}

fn size_of(v: &Value) -> usize {
    match v {
        Value::Seq(s) => 1 + s.iter().map(size_of).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(k, v)| size_of(k) + size_of(v)).sum::<usize>(),
        _ => 1,
    }
}

impl Builder {
    fn push_value(&mut self, v: Value, merge_key: bool, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
            }
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                None => *key = Some((v, merge_key)),
                Some((k, is_merge)) => {
                    if is_merge {
                        psych_merge(map, k, v);
                    } else {
                        map.insert(k, v);
                    }
                }
            },
        }
    }
}

/// Psych's `revive_hash` handling of `<<`.
fn psych_merge(map: &mut Map, key: Value, v: Value) {
    match v {
        Value::Map(m) => map.merge_from(&m),
        Value::Seq(items) => {
            if items.iter().all(|i| matches!(i, Value::Map(_))) {
                let mut h = Map::new();
                for i in items.iter().rev() {
                    if let Value::Map(m) = i {
                        h.merge_from(m);
                    }
                }
                map.merge_from(&h);
            } else {
                map.insert(key, Value::Seq(items));
            }
        }
        other => map.insert(key, other),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() || self.done {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                // Psych: any `<<` key is a merge key (quoted too) unless tagged `!!str`.
                let is_merge = text == "<<"
                    && !tag.as_ref().is_some_and(|t| (t.handle == "!!" || t.handle.starts_with("tag:yaml.org,2002:")) && t.suffix.ends_with("str"));
                let in_key_position = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let v = resolve_scalar(&text, style, tag.as_ref());
                self.nodes += 1;
                self.push_value(v, is_merge && in_key_position, anchor);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.error = Some(YamlError { message: "YAML nested too deeply".into(), line: mark.line(), col: mark.col() + 1 });
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map { map: Map::new(), key: None, anchor }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor)) = self.stack.pop() {
                    self.nodes += 1;
                    self.push_value(Value::Seq(items), false, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { map, anchor, .. }) = self.stack.pop() {
                    self.nodes += 1;
                    self.push_value(Value::Map(map), false, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(v) => {
                    let v = v.clone();
                    self.nodes += size_of(&v);
                    if self.nodes > MAX_NODES {
                        self.error = Some(YamlError { message: "document too large after alias expansion".into(), line: mark.line(), col: mark.col() + 1 });
                        return;
                    }
                    self.push_value(v, false, 0)
                }
                None => {
                    self.error = Some(YamlError {
                        message: "An alias referenced an unknown anchor (or an anchor inside itself)".into(),
                        line: mark.line(),
                        col: mark.col() + 1,
                    })
                }
            },
            Event::DocumentEnd if self.root.is_some() => self.done = true,
            _ => {}
        }
    }
}

/// Parse the first document of `src` like `YAML.unsafe_load`. An empty document gives `false`
/// in Psych (`YAML.load("")` is false); callers treat non-hash results themselves.
pub fn parse(src: &str) -> Result<Value, YamlError> {
    // yaml-rust2's loader recurses once per nesting level: refuse absurd nesting before it.
    if let Some(line) = too_deep(src) {
        return Err(YamlError { message: "YAML nested too deeply".into(), line, col: 1 });
    }
    let mut b = Builder { stack: Vec::new(), anchors: HashMap::new(), root: None, error: None, nodes: 0, done: false };
    // yaml-rust2 has internal asserts; a panic there must become an error, never a crash.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut p = Parser::new_from_str(src);
        let r = p.load(&mut b, false);
        (r, b)
    }));
    let (r, b) = match res {
        Ok(x) => x,
        Err(_) => return Err(YamlError { message: "unparseable YAML".into(), line: 1, col: 1 }),
    };
    if let Err(e) = r {
        let m = e.marker();
        let msg = e.info().to_string();
        // Psych's wording for the unknown-anchor case, so messages name the condition.
        let msg = if msg.contains("unknown anchor") { "An alias referenced an unknown anchor".to_string() } else { msg };
        return Err(YamlError { message: msg, line: m.line(), col: m.col() + 1 });
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Value::Bool(false)))
}

/// A cheap upper bound of the nesting depth (flow brackets, block indicators, indentation).
fn too_deep(src: &str) -> Option<usize> {
    let mut flow: i64 = 0;
    for (n, line) in src.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let dashes = line.matches("- ").count() + line.matches("? ").count() + line.matches(": ").count();
        if indent > 4 * MAX_DEPTH || dashes > MAX_DEPTH {
            return Some(n + 1);
        }
        for ch in line.chars() {
            match ch {
                '[' | '{' => flow += 1,
                ']' | '}' => flow -= 1,
                _ => {}
            }
            if flow > MAX_DEPTH as i64 {
                return Some(n + 1);
            }
        }
    }
    None
}

fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag {
        let suffix = t.suffix.as_str();
        let core = t.handle == "!!" || t.handle.starts_with("tag:yaml.org,2002:");
        match (core, suffix) {
            (true, "str") | (false, "") => return Value::Str(text.to_string()),
            (true, "int") => return parse_int(text).map(Value::Int).unwrap_or_else(|| Value::Str(text.into())),
            (true, "float") => return text.replace(['_', ','], "").parse::<f64>().map(Value::Float).unwrap_or_else(|_| Value::Str(text.into())),
            (true, "null") => return Value::Nil,
            (true, "bool") => return tokenize(text),
            _ => {}
        }
        if style != TScalarStyle::Plain {
            return Value::Str(text.to_string());
        }
        return tokenize(text);
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    tokenize(text)
}

fn re(p: &str) -> regex::Regex {
    regex::Regex::new(p).expect("static regex")
}

struct Res {
    stringy: regex::Regex,
    time: regex::Regex,
    date: regex::Regex,
    sexa_int: regex::Regex,
    sexa_float: regex::Regex,
    float: regex::Regex,
    int: regex::Regex,
}

fn res() -> &'static Res {
    static R: std::sync::OnceLock<Res> = std::sync::OnceLock::new();
    R.get_or_init(|| Res {
        stringy: re(r"^[^\d.:\-]?[[:alpha:]_\s!@#$%\^&*(){}<>|/\\~;=]+"),
        time: re(r"^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$"),
        date: re(r"^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$"),
        sexa_int: re(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}$"),
        sexa_float: re(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}\.[0-9_]*$"),
        float: re(r"^[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?$"),
        int: re(r"^(?:[-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[0-9a-fA-F_,]+)$"),
    })
}

/// Psych::ScalarScanner#tokenize for untagged plain scalars.
pub fn tokenize(s: &str) -> Value {
    if s.is_empty() {
        return Value::Nil;
    }
    let r = res();
    let low = s.to_ascii_lowercase();
    if r.stringy.is_match(s) || s.contains('\n') {
        if s.chars().count() > 5 {
            return Value::Str(s.into());
        }
        let first = low.chars().next().unwrap_or(' ');
        if !"ytonf~".contains(first) {
            return Value::Str(s.into());
        }
        if s == "~" || low == "null" {
            return Value::Nil;
        }
        if matches!(low.as_str(), "yes" | "true" | "on") {
            return Value::Bool(true);
        }
        if matches!(low.as_str(), "no" | "false" | "off") {
            return Value::Bool(false);
        }
        return Value::Str(s.into());
    }
    if r.time.is_match(s) || r.date.is_match(s) {
        // Psych gives Time/Date objects; they print back as the same text. Kept as strings.
        return Value::Str(s.into());
    }
    if low == ".inf" || low == "+.inf" {
        return Value::Float(f64::INFINITY);
    }
    if low == "-.inf" {
        return Value::Float(f64::NEG_INFINITY);
    }
    if low == ".nan" {
        return Value::Float(f64::NAN);
    }
    if s.starts_with(':') && s.chars().count() > 1 {
        let rest = &s[1..];
        for q in ['"', '\''] {
            if rest.starts_with(q) {
                if let Some(end) = rest[1..].find(q) {
                    let inner = &rest[1..1 + end];
                    return Value::Sym(inner.strip_prefix(':').unwrap_or(inner).to_string());
                }
            }
        }
        return Value::Sym(rest.to_string());
    }
    if r.sexa_int.is_match(s) {
        let mut i: i64 = 0;
        let parts: Vec<&str> = s.split(':').collect();
        for (e, n) in parts.iter().enumerate() {
            let n = ruby_to_i(n);
            let p = (e as i64 - 2).unsigned_abs() as u32;
            i = i.wrapping_add(n.wrapping_mul(60i64.wrapping_pow(p)));
        }
        return Value::Int(i);
    }
    if r.sexa_float.is_match(s) {
        let mut f = 0.0;
        for (e, n) in s.split(':').enumerate() {
            let n: f64 = ruby_to_f(n);
            f += n * 60f64.powi((e as i32 - 2).abs());
        }
        return Value::Float(f);
    }
    if r.float.is_match(s) {
        if s == "." || s == "-." || s == "+." {
            return Value::Str(s.into());
        }
        let cleaned: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
        let cleaned = cleaned.replace(".e", "e").replace(".E", "E");
        let cleaned = cleaned.strip_suffix('.').unwrap_or(&cleaned).to_string();
        if let Ok(f) = cleaned.parse::<f64>() {
            return Value::Float(f);
        }
        return Value::Str(s.into());
    }
    if r.int.is_match(s) {
        if let Some(i) = parse_int(s) {
            return Value::Int(i);
        }
    }
    Value::Str(s.into())
}

/// Ruby `Integer(s.delete(',_'))` (0x, 0b, 0o / leading-0 octal). None when out of range.
fn parse_int(s: &str) -> Option<i64> {
    let c: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
    let (neg, body) = match c.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, c.strip_prefix('+').unwrap_or(&c)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn ruby_to_i(s: &str) -> i64 {
    let t: String = s.chars().filter(|c| *c != '_').collect();
    let mut out = String::new();
    for (i, ch) in t.chars().enumerate() {
        if ch.is_ascii_digit() || (i == 0 && (ch == '-' || ch == '+')) {
            out.push(ch);
        } else {
            break;
        }
    }
    out.parse().unwrap_or(0)
}

fn ruby_to_f(s: &str) -> f64 {
    let t: String = s.chars().filter(|c| *c != '_').collect();
    t.parse().unwrap_or_else(|_| ruby_to_i(&t) as f64)
}

// ---------------------------------------------------------------------------------------
// Emitter

/// Emit `v` as a YAML document (`---` first, like Ruby's `to_yaml`).
pub fn emit(v: &Value) -> String {
    let mut out = String::from("---");
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(&mut out, m, 0);
        }
        Value::Seq(s) if !s.is_empty() => {
            out.push('\n');
            emit_seq(&mut out, s, 0);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_map(out: &mut String, m: &Map, ind: usize) {
    for (k, v) in m.iter() {
        indent(out, ind);
        out.push_str(&key_text(k));
        out.push(':');
        emit_child(out, v, ind, false);
    }
}

fn emit_seq(out: &mut String, s: &[Value], ind: usize) {
    for v in s {
        indent(out, ind);
        out.push('-');
        emit_child(out, v, ind, true);
    }
}

fn emit_child(out: &mut String, v: &Value, ind: usize, in_seq: bool) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            if in_seq {
                // "- key: value" with the rest of the map aligned under the first key.
                out.push(' ');
                let mut inner = String::new();
                emit_map(&mut inner, m, ind + 2);
                out.push_str(inner.trim_start());
            } else {
                out.push('\n');
                emit_map(out, m, ind + 2);
            }
        }
        Value::Seq(s) if !s.is_empty() => {
            if in_seq {
                out.push(' ');
                let mut inner = String::new();
                emit_seq(&mut inner, s, ind + 2);
                out.push_str(inner.trim_start());
            } else {
                out.push('\n');
                emit_seq(out, s, ind);
            }
        }
        Value::Nil => out.push('\n'),
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::Map(_) | Value::Seq(_) => format!("? {}", scalar(&Value::Str(k.inspect()))),
        Value::Nil => "''".into(),
        other => scalar(other),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            } else {
                let s = super::value::ruby_float(*f);
                if s.contains('.') {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
        Value::Sym(s) => {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                format!(":{s}")
            } else {
                format!(":{}", quote(s))
            }
        }
        Value::Str(s) => {
            if needs_quote(s) {
                quote(s)
            } else {
                s.clone()
            }
        }
        Value::Map(_) => "{}".into(),
        Value::Seq(_) => "[]".into(),
    }
}

fn needs_quote(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    if tokenize(s) != Value::Str(s.to_string()) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control()) {
        return true;
    }
    // Words the YAML 1.1/1.2 resolvers of other readers might take for booleans/null.
    matches!(s.to_ascii_lowercase().as_str(), "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~")
}

fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if c.is_control() => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &Value, k: &str) -> Value {
        v.as_map().unwrap().get(k).cloned().unwrap()
    }

    #[test]
    fn psych_scalars() {
        assert_eq!(tokenize("yes"), Value::Bool(true));
        assert_eq!(tokenize("Off"), Value::Bool(false));
        assert_eq!(tokenize("~"), Value::Nil);
        assert_eq!(tokenize("NULL"), Value::Nil);
        assert_eq!(tokenize("1_000"), Value::Int(1000));
        assert_eq!(tokenize("1,000"), Value::Int(1000));
        assert_eq!(tokenize("0755"), Value::Int(493));
        assert_eq!(tokenize("1e5"), Value::Str("1e5".into()));
        assert_eq!(tokenize("1.5"), Value::Float(1.5));
        assert_eq!(tokenize(":fatal"), Value::Sym("fatal".into()));
        assert_eq!(tokenize("22:22"), Value::Int(22 * 3600 + 22 * 60));
        assert_eq!(tokenize("8080:80"), Value::Str("8080:80".into()));
        assert_eq!(tokenize("y"), Value::Str("y".into()));
    }

    #[test]
    fn merge_keys_like_psych() {
        let v = parse("base: &b\n  a: 1\n  b: 2\nx:\n  a: 0\n  <<: *b\n  c: 3\n").unwrap();
        let x = m(&v, "x");
        // Psych's merge! overwrites keys seen before the `<<`.
        assert_eq!(m(&x, "a"), Value::Int(1));
        assert_eq!(m(&x, "c"), Value::Int(3));
        let v = parse("a: &a {k: 1}\nb: &b {k: 2, j: 1}\nc:\n  <<: [*a, *b]\n").unwrap();
        assert_eq!(m(&m(&v, "c"), "k"), Value::Int(1));
        assert!(parse("a: *nope\n").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        assert!(parse(&"[".repeat(100_000)).is_err());
        assert!(parse(&format!("{}x", "- ".repeat(10_000))).is_err());
        assert!(parse(&format!("{}1{}", "[".repeat(200), "]".repeat(200))).is_ok());
    }

    #[test]
    fn emit_round_trips() {
        let src = "a: 'yes'\nb: :sym\nc:\n- x: 1\n  y: '2'\n- []\nd: \"a: b\"\ne: \nf: 1.0\n";
        let v = parse(src).unwrap();
        assert_eq!(parse(&emit(&v)).unwrap(), v);
    }
}
