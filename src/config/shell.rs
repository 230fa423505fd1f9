//! Kamal::Utils' argument builders (`argumentize`, `optionize`, `escape_shell_value`), so
//! docker/kamal-proxy arguments come out byte-for-byte as Kamal builds them.

use super::value::{Map, Value};

/// The escapes Ruby's `String#dump` and `String#inspect` share (named control characters,
/// quote, backslash, and `#` before `{`, `$` or `@`); `None` for any other character.
pub(crate) fn ruby_named_escape(ch: char, next: Option<char>) -> Option<&'static str> {
    Some(match ch {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\t' => "\\t",
        '\r' => "\\r",
        '\x0c' => "\\f",
        '\x0b' => "\\v",
        '\x08' => "\\b",
        '\x07' => "\\a",
        '\x1b' => "\\e",
        '#' if matches!(next, Some('{' | '$' | '@')) => "\\#",
        _ => return None,
    })
}

/// Ruby `String#dump` of an ASCII string, then Kamal's extra escaping of backticks and
/// of `$` not followed by `{…}`.
fn escape_ascii(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut o = String::from("\"");
    for (i, ch) in c.iter().enumerate() {
        match ruby_named_escape(*ch, c.get(i + 1).copied()) {
            Some(e) => o.push_str(e),
            None if (*ch as u32) < 0x20 || *ch as u32 == 0x7f => o.push_str(&format!("\\x{:02X}", *ch as u32)),
            None => o.push(*ch),
        }
    }
    o.push('"');
    // gsub(/`/, '\\`') and gsub(/\$(?!{[^\}]*\})/, '\$')
    let o = o.replace('`', "\\`");
    let c: Vec<char> = o.chars().collect();
    let mut out = String::new();
    for (i, ch) in c.iter().enumerate() {
        if *ch == '$' {
            let braced = c.get(i + 1) == Some(&'{') && c[i + 2..].contains(&'}');
            if !braced {
                out.push('\\');
            }
        }
        out.push(*ch);
    }
    out
}

/// `Kamal::Utils.escape_shell_value`: ASCII runs dumped in double quotes, others kept raw.
pub fn escape_shell_value(v: &Value) -> String {
    let s = v.to_rstring();
    let mut out = String::new();
    let mut run = String::new();
    let mut run_ascii = true;
    for ch in s.chars() {
        let a = ch.is_ascii();
        if !run.is_empty() && a != run_ascii {
            out.push_str(&if run_ascii { escape_ascii(&run) } else { run.clone() });
            run.clear();
        }
        run_ascii = a;
        run.push(ch);
    }
    if !run.is_empty() {
        out.push_str(&if run_ascii { escape_ascii(&run) } else { run });
    }
    out
}

/// `argumentize(argument, attributes)` for a hash (`key=value`) or a list (`value`).
pub fn argumentize(arg: &str, attrs: &Value) -> Vec<String> {
    let pairs: Vec<(Value, Value)> = match attrs {
        Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Seq(s) => s
            .iter()
            .map(|x| match x {
                // `|key, value|` destructuring of an array element.
                Value::Seq(p) => (p.first().cloned().unwrap_or(Value::Nil), p.get(1).cloned().unwrap_or(Value::Nil)),
                other => (other.clone(), Value::Nil),
            })
            .collect(),
        Value::Nil => vec![],
        other => vec![(other.clone(), Value::Nil)],
    };
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.push(arg.to_string());
        if v.present() {
            out.push(format!("{}={}", k.to_rstring(), escape_shell_value(&v)));
        } else if v == Value::Bool(false) {
            out.push(format!("{}=false", k.to_rstring()));
        } else {
            out.push(k.to_rstring());
        }
    }
    out
}

fn flatten_args(args: &Map) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for (k, v) in args.iter() {
        match v {
            Value::Seq(items) => out.extend(items.iter().map(|i| (k.clone(), i.clone()))),
            Value::Map(m) => out.extend(m.iter().map(|(a, b)| (k.clone(), Value::Seq(vec![a.clone(), b.clone()])))),
            other => out.push((k.clone(), other.clone())),
        }
    }
    out
}

/// `optionize(args)`: `["--key", "value"]` pairs (`--key` alone for `true`).
pub fn optionize(args: &Map) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in flatten_args(args) {
        out.push(format!("--{}", k.to_rstring()));
        // nil is kept as `""` (Ruby's nil.to_s.dump).
        if v != Value::Bool(true) {
            out.push(escape_shell_value(&v));
        }
    }
    out
}

/// `optionize(args, with: "=")`: `--key=value` (`--key` alone for `true`).
pub fn optionize_with_eq(args: &Map) -> Vec<String> {
    flatten_args(args)
        .into_iter()
        .map(|(k, v)| if v == Value::Bool(true) { format!("--{}", k.to_rstring()) } else { format!("--{}={}", k.to_rstring(), escape_shell_value(&v)) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn escapes_like_kamal() {
        assert_eq!(escape_shell_value(&Value::str("10m")), "\"10m\"");
        assert_eq!(escape_shell_value(&Value::str("a$b")), "\"a\\$b\"");
        assert_eq!(escape_shell_value(&Value::str("${X}")), "\"${X}\"");
        assert_eq!(escape_shell_value(&Value::str("héllo")), "\"h\"é\"llo\"");
        let m = Map::str_map(vec![("max-size", Value::str("10m"))]);
        assert_eq!(argumentize("--log-opt", &Value::Map(m)), vec!["--log-opt", "max-size=\"10m\""]);
    }
}
