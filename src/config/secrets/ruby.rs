//! The Ruby string behaviours the secrets adapters' output and vendor command lines depend on:
//! `JSON.dump` strings, `Shellwords.escape`, `String#inspect`, `Float#to_s`, `String#split`,
//! ActiveSupport's `camelize` and `blank?`, `Base64.decode64`.

use crate::config::shell::ruby_named_escape;

/// A JSON string as Ruby's `JSON.dump` writes it (UTF-8 kept, `/` not escaped).
pub fn json_str(s: &str) -> String {
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

/// Ruby's `Shellwords.escape`: every byte outside `A-Za-z0-9_-.,:+/@` gets a backslash
/// (non-ASCII characters too), a newline becomes `'\n'`.
pub fn ruby_shellescape(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let mut o = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || "_-.,:+/@".contains(ch) {
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

/// Ruby's `String#inspect` of a UTF-8 string.
pub fn inspect_str(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut o = String::from("\"");
    for (i, ch) in c.iter().enumerate() {
        match ruby_named_escape(*ch, c.get(i + 1).copied()) {
            Some(e) => o.push_str(e),
            None if (*ch as u32) < 0x20 || *ch as u32 == 0x7f => o.push_str(&format!("\\u{:04X}", *ch as u32)),
            None => o.push(*ch),
        }
    }
    o.push('"');
    o
}

/// Ruby's `Float#to_s`: shortest digits; fixed notation for 1e-4 <= |f| < 1e16, else `1.5e+20`.
pub fn float_to_s(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if f < 0.0 { "-" } else { "" };
    // Ruby's decpt: the value is 0.DIGITS × 10^decpt.
    let decpt = exp + 1;
    let n = digits.len() as i32;
    let body = if !(-3..=16).contains(&decpt) {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{}.{rest}e{}{:02}", &digits[..1], if exp < 0 { '-' } else { '+' }, exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= n {
        format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
    };
    format!("{sign}{body}")
}

/// Ruby's `String#split(sep)`: trailing empty fields dropped (so `"".split` is empty).
pub fn ruby_split<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> = s.split(sep).collect();
    while v.last() == Some(&"") {
        v.pop();
    }
    v
}

/// ActiveSupport's `String#camelize` (no acronyms, `/` left alone).
pub fn camelize(s: &str) -> String {
    fn cap(w: &str) -> String {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect()).unwrap_or_default()
    }
    // The leading run of lowercase letters and digits is capitalized; then every `_word`.
    let lead = s.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())).unwrap_or(s.len());
    let mut out = cap(&s[..lead]);
    let rest = &s[lead..];
    let mut i = 0;
    let b = rest.as_bytes();
    while i < b.len() {
        if b[i] == b'_' {
            let end = rest[i + 1..].find(|c: char| !c.is_ascii_alphanumeric()).map_or(rest.len(), |e| i + 1 + e);
            out.push_str(&cap(&rest[i + 1..end]));
            i = end;
        } else {
            let ch = rest[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// ActiveSupport's `blank?` for a string: empty or whitespace only.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Ruby's `Base64.decode64`: characters outside the alphabet are skipped, decoding stops at
/// padding, a trailing partial group is dropped.
pub fn decode64(s: &str) -> Vec<u8> {
    use base64::Engine;
    let mut clean: String = s.chars().take_while(|c| *c != '=').filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/').collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(clean).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shellescape_backslashes_non_ascii_and_quotes_newlines() {
        assert_eq!(ruby_shellescape("é a\"b"), "\\é\\ a\\\"b");
        assert_eq!(ruby_shellescape("a\nb"), "a'\n'b");
        assert_eq!(ruby_shellescape(""), "''");
        assert_eq!(ruby_shellescape("op://v/i/f,x:y@z+1"), "op://v/i/f,x:y@z+1");
    }

    #[test]
    fn float_to_s_switches_to_exponent_where_ruby_does() {
        for (f, s) in [
            (1e15, "1000000000000000.0"),
            (1e16, "1.0e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-05"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (1.5e20, "1.5e+20"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(float_to_s(f), s, "{f}");
        }
    }

    #[test]
    fn split_drops_trailing_empty_fields_only() {
        assert_eq!(ruby_split("a/b/", "/"), vec!["a", "b"]);
        assert_eq!(ruby_split("/a//b", "/"), vec!["", "a", "", "b"]);
        assert!(ruby_split("", "/").is_empty());
        assert_eq!(ruby_split("p/allx/all", "/all"), vec!["p", "x"]);
    }

    #[test]
    fn camelize_as_active_support() {
        assert_eq!(camelize("one_password"), "OnePassword");
        assert_eq!(camelize("aws_SECRETS_manager"), "AwsSecretsManager");
        assert_eq!(camelize("Test"), "Test");
        assert_eq!(camelize("TEST"), "TEST");
        assert_eq!(camelize("onePassword"), "OnePassword");
        assert_eq!(camelize("1password"), "1password");
    }

    #[test]
    fn decode64_is_lenient() {
        assert_eq!(decode64("aGVsbG8="), b"hello");
        assert_eq!(decode64("aGVs\nbG8"), b"hello");
        assert_eq!(decode64("aGVsbG8=junk"), b"hello");
        assert!(decode64("").is_empty());
    }

    #[test]
    fn inspect_escapes_like_ruby() {
        assert_eq!(inspect_str("a\"\\#{x}\u{1}é"), "\"a\\\"\\\\\\#{x}\\u0001é\"");
    }
}
