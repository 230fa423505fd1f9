//! The few Ruby behaviours Kamal's on-host strings depend on, reproduced byte for byte:
//! `String#dump`, Kamal's `escape_shell_value`, the env-file escaping and `Base64.encode64`.

use base64::Engine;

/// Ruby `String#dump` of an ASCII string (with the outer double quotes).
pub fn dump(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0c => out.push_str("\\f"),
            0x0b => out.push_str("\\v"),
            0x08 => out.push_str("\\b"),
            0x07 => out.push_str("\\a"),
            0x1b => out.push_str("\\e"),
            // `#{`, `#$`, `#@` would interpolate in Ruby, so dump escapes the `#`.
            b'#' if matches!(b.get(i + 1), Some(b'{' | b'$' | b'@')) => out.push_str("\\#"),
            0x20..=0x7e => out.push(c as char),
            _ if c < 0x80 => out.push_str(&format!("\\x{:02X}", c)),
            // Non-ASCII never reaches here (callers split it off), keep it verbatim anyway.
            _ => out.push(c as char),
        }
    }
    out.push('"');
    out
}

/// Split into maximal runs of ASCII and non-ASCII characters (Ruby's
/// `scan(/[\x00-\x7F]+|[^\x00-\x7F]+/)`).
fn ascii_runs(s: &str) -> Vec<(bool, &str)> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut cur: Option<bool> = None;
    for (i, ch) in s.char_indices() {
        let a = ch.is_ascii();
        match cur {
            Some(c) if c == a => {}
            Some(c) => {
                runs.push((c, &s[start..i]));
                start = i;
                cur = Some(a);
            }
            None => cur = Some(a),
        }
    }
    if let Some(c) = cur {
        runs.push((c, &s[start..]));
    }
    runs
}

/// Kamal's `escape_shell_value`: dump each ASCII run, escape backticks and `$` that is not
/// part of `${...}`, keep non-ASCII verbatim.
pub fn escape_shell_value(s: &str) -> String {
    if s.is_empty() {
        return "\"\"".into();
    }
    let mut out = String::new();
    for (ascii, part) in ascii_runs(s) {
        if !ascii {
            out.push_str(part);
            continue;
        }
        let d = dump(part).replace('`', "\\`");
        out.push_str(&escape_dollars(&d));
    }
    out
}

/// `gsub(/\$(?!{[^\}]*\})/, '\$')`
fn escape_dollars(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, ch) in s.char_indices() {
        if ch == '$' {
            let rest = &b[i + 1..];
            let keeps = rest.first() == Some(&b'{') && rest[1..].iter().position(|&c| c == b'}').is_some_and(|p| !rest[1..1 + p].contains(&b'}'));
            if !keeps {
                out.push_str("\\$");
                continue;
            }
        }
        out.push(ch);
    }
    out
}

/// Value escaping for Docker env files (Kamal::EnvFile): dump without the outer quotes,
/// `\"` → `"` (double quotes are literal in env files), `\#` → `#`, non-ASCII verbatim.
pub fn escape_env_file_value(s: &str) -> String {
    let mut out = String::new();
    for (ascii, part) in ascii_runs(s) {
        if !ascii {
            out.push_str(part);
            continue;
        }
        let d = dump(part);
        out.push_str(&d[1..d.len() - 1].replace("\\\"", "\"").replace("\\#", "#"));
    }
    out
}

/// Ruby `Base64.encode64`: standard alphabet, a newline after every 60 characters and at the end.
pub fn encode64(data: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b.len() + b.len() / 60 + 1);
    for chunk in b.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Decode base64 as `base64 -d` would, ignoring whitespace.
pub fn decode64(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_matches_ruby() {
        assert_eq!(dump("production"), "\"production\"");
        assert_eq!(dump("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(dump("#{x} #$y #@z #a"), r#""\#{x} \#$y \#@z #a""#);
        assert_eq!(dump("\x01\x7f"), r#""\x01\x7F""#);
    }

    #[test]
    fn shell_value_escapes_dollar_and_backtick() {
        assert_eq!(escape_shell_value("a$b ${HOME} `x`"), r#""a\$b ${HOME} \`x\`""#);
        assert_eq!(escape_shell_value("café"), "\"caf\"é");
        assert_eq!(escape_shell_value(""), "\"\"");
    }

    #[test]
    fn env_file_value() {
        assert_eq!(escape_env_file_value("s3cr3t \"q\" #{x}\nz"), "s3cr3t \"q\" #{x}\\nz");
        assert_eq!(escape_env_file_value("ünï"), "ünï");
    }

    #[test]
    fn encode64_wraps_at_60() {
        // From trace 03-deploy-v2: the lock details Kamal wrote.
        let text = "Locked by: Klab Tester at 2026-11-22T14:09:13Z\nVersion: 900ee7979f10680541cad0fcc045fc29641cd653\nMessage: Automatic deploy lock";
        assert_eq!(
            encode64(text.as_bytes()),
            "TG9ja2VkIGJ5OiBLbGFiIFRlc3RlciBhdCAyMDI2LTExLTIyVDE0OjA5OjEz\nWgpWZXJzaW9uOiA5MDBlZTc5NzlmMTA2ODA1NDFjYWQwZmNjMDQ1ZmMyOTY0\nMWNkNjUzCk1lc3NhZ2U6IEF1dG9tYXRpYyBkZXBsb3kgbG9jaw==\n"
        );
        assert_eq!(decode64(&encode64(text.as_bytes())).unwrap(), text.as_bytes());
    }
}
