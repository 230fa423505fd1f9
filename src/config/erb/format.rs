//! Ruby's `String#%` / `format` / `sprintf`: `%s %p %d %i %u %f %x %X %o %b %e %c %%` with the
//! `- 0 + space #` flags, width and precision, and `%<name>s` / `%{name}` with a hash. Errors
//! come back as Ruby's (class, message); a directive outside the subset as `Unsupported`.

use crate::config::value::Value;

pub(super) enum FormatError {
    Ruby(&'static str, String),
    Unsupported(String),
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt % args` where `args` is the right-hand side (an array spreads into the arguments).
pub(super) fn percent(fmt: &str, rhs: Value) -> Result<String, FormatError> {
    let args = match rhs {
        Value::Seq(s) => s,
        other => vec![other],
    };
    format(fmt, &args)
}

/// `format(fmt, *args)`.
pub(super) fn format(fmt: &str, args: &[Value]) -> Result<String, FormatError> {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        let mut named: Option<Value> = None;
        flags(&mut chars, &mut spec);
        if let Some(&open @ ('<' | '{')) = chars.peek() {
            chars.next();
            let close = if open == '<' { '>' } else { '}' };
            let name: String = chars.by_ref().take_while(|&c| c != close).collect();
            let v = hash_arg(args, &name)?;
            if open == '{' {
                out.push_str(&v.to_rstring());
                continue;
            }
            named = Some(v);
            flags(&mut chars, &mut spec);
        }
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(kind) = chars.next() else { return Err(FormatError::Ruby("ArgumentError", "incomplete format specifier; use %% (double %) instead".into())) };
        if kind == '%' {
            out.push('%');
            continue;
        }
        let arg = match named.take() {
            Some(v) => v,
            None => {
                let v = args.get(next).cloned().ok_or_else(|| FormatError::Ruby("ArgumentError", "too few arguments".into()))?;
                next += 1;
                v
            }
        };
        out.push_str(&directive(kind, &spec, &arg)?);
    }
    Ok(out)
}

fn flags(chars: &mut std::iter::Peekable<std::str::Chars>, spec: &mut Spec) {
    loop {
        match chars.peek() {
            Some('-') => spec.left = true,
            Some('0') => spec.zero = true,
            Some('+') => spec.plus = true,
            Some(' ') => spec.space = true,
            Some('#') => spec.alt = true,
            _ => return,
        }
        chars.next();
    }
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize).min(4096));
        chars.next();
    }
    n
}

fn hash_arg(args: &[Value], name: &str) -> Result<Value, FormatError> {
    match args {
        [Value::Map(m)] => m.get_key(&Value::Sym(name.to_string())).cloned().ok_or_else(|| FormatError::Ruby("KeyError", format!("key<{name}> not found"))),
        _ => Err(FormatError::Ruby("ArgumentError", "one hash required".into())),
    }
}

/// One conversion, padded to the spec's width.
fn directive(kind: char, spec: &Spec, arg: &Value) -> Result<String, FormatError> {
    let based = matches!(kind, 'x' | 'X' | 'o' | 'b');
    if based && !spec.plus && !spec.space && integer(arg)? < 0 {
        // Ruby writes these as two's complement (`..f01`): not in the subset.
        return Err(FormatError::Unsupported(format!("`%{kind}` of a negative number")));
    }
    let (sign, body) = match kind {
        's' => ("", truncate(arg.to_rstring(), spec.prec)),
        'p' => ("", truncate(arg.inspect(), spec.prec)),
        'c' => ("", char_of(arg)?),
        'd' | 'i' | 'u' => signed(integer(arg)?, spec, |n| n.to_string()),
        'x' => signed(integer(arg)?, spec, |n| alt(spec, "0x", format!("{n:x}"))),
        'X' => signed(integer(arg)?, spec, |n| alt(spec, "0X", format!("{n:X}"))),
        'o' => signed(integer(arg)?, spec, |n| alt(spec, "0", format!("{n:o}"))),
        'b' => signed(integer(arg)?, spec, |n| alt(spec, "0b", format!("{n:b}"))),
        'f' => float_signed(float(arg)?, spec, |f| format!("{f:.*}", spec.prec.unwrap_or(6))),
        'e' => float_signed(float(arg)?, spec, |f| ruby_exp(f, spec.prec.unwrap_or(6))),
        other => return Err(FormatError::Unsupported(format!("the `%{other}` format directive"))),
    };
    let zero_ok = matches!(kind, 'f' | 'e') || (spec.prec.is_none() && (based || matches!(kind, 'd' | 'i' | 'u')));
    Ok(pad(sign, body, spec, zero_ok))
}

fn truncate(s: String, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

fn alt(spec: &Spec, prefix: &str, digits: String) -> String {
    if spec.alt {
        format!("{prefix}{digits}")
    } else {
        digits
    }
}

fn sign_of(negative: bool, spec: &Spec) -> &'static str {
    match (negative, spec.plus, spec.space) {
        (true, _, _) => "-",
        (false, true, _) => "+",
        (false, false, true) => " ",
        _ => "",
    }
}

/// Ruby prints negative numbers in these bases with a sign (when a flag asks for one, as here).
fn signed(n: i128, spec: &Spec, digits: impl Fn(u128) -> String) -> (&'static str, String) {
    let mut body = digits(n.unsigned_abs());
    if let Some(p) = spec.prec {
        while body.len() < p {
            body.insert(0, '0');
        }
    }
    (sign_of(n < 0, spec), body)
}

fn float_signed(f: f64, spec: &Spec, digits: impl Fn(f64) -> String) -> (&'static str, String) {
    if f.is_nan() {
        return ("", "NaN".into());
    }
    if f.is_infinite() {
        return (sign_of(f < 0.0, spec), "Inf".into());
    }
    (sign_of(f.is_sign_negative() && f != 0.0, spec), digits(f.abs()))
}

/// `%e`: C's exponent form (two exponent digits at least).
fn ruby_exp(f: f64, prec: usize) -> String {
    let s = format!("{f:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (esign, edigits) = exp.strip_prefix('-').map(|d| ('-', d)).unwrap_or(('+', exp));
    format!("{mant}e{esign}{edigits:0>2}")
}

fn pad(sign: &str, body: String, spec: &Spec, zero_ok: bool) -> String {
    let len = sign.chars().count() + body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        return format!("{sign}{body}");
    }
    let fill = width - len;
    if spec.left {
        format!("{sign}{body}{}", " ".repeat(fill))
    } else if spec.zero && zero_ok {
        format!("{sign}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{body}", " ".repeat(fill))
    }
}

/// Ruby's `Integer(arg)` as `%d` applies it.
fn integer(arg: &Value) -> Result<i128, FormatError> {
    match arg {
        Value::Int(i) => Ok(*i as i128),
        Value::Float(f) if f.is_finite() => Ok(f.floor() as i128),
        Value::Str(s) => parse_int(s).ok_or_else(|| FormatError::Ruby("ArgumentError", format!("invalid value for Integer(): {}", arg.inspect()))),
        Value::Nil => Err(FormatError::Ruby("TypeError", "can't convert nil into Integer".into())),
        other => Err(FormatError::Ruby("TypeError", format!("can't convert {} into Integer", other.class_name()))),
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim().replace('_', "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = [("0x", 16), ("0b", 2), ("0o", 8)]
        .iter()
        .find_map(|(p, r)| lower.strip_prefix(p).map(|d| (*r, d.to_string())))
        .unwrap_or_else(|| if lower.len() > 1 && lower.starts_with('0') { (8, lower[1..].to_string()) } else { (10, lower.clone()) });
    if digits.is_empty() {
        return None;
    }
    let n = i128::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -n } else { n })
}

fn float(arg: &Value) -> Result<f64, FormatError> {
    match arg {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => s.trim().parse::<f64>().map_err(|_| FormatError::Ruby("ArgumentError", format!("invalid value for Float(): {}", arg.inspect()))),
        Value::Nil => Err(FormatError::Ruby("TypeError", "can't convert nil into Float".into())),
        other => Err(FormatError::Ruby("TypeError", format!("can't convert {} into Float", other.class_name()))),
    }
}

fn char_of(arg: &Value) -> Result<String, FormatError> {
    match arg {
        Value::Str(s) => Ok(s.chars().next().map(String::from).unwrap_or_default()),
        Value::Int(i) => {
            u32::try_from(*i).ok().and_then(char::from_u32).map(String::from).ok_or_else(|| FormatError::Ruby("RangeError", format!("{i} out of char range")))
        }
        other => Err(FormatError::Ruby("TypeError", format!("no implicit conversion of {} into Integer", other.class_name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        match format(fmt, args) {
            Ok(s) => s,
            Err(FormatError::Ruby(c, m)) => format!("{c}: {m}"),
            Err(FormatError::Unsupported(m)) => format!("unsupported: {m}"),
        }
    }

    #[test]
    fn percent_formats_like_ruby() {
        let s = Value::str;
        assert_eq!(f("%s.example.com", &[s("web1")]), "web1.example.com");
        assert_eq!(f("%s-%d", &[s("h"), Value::Int(7)]), "h-7");
        assert_eq!(f("%05d|%-4s|%4s|%+d|% d", &[Value::Int(42), s("ab"), s("ab"), Value::Int(3), Value::Int(3)]), "00042|ab  |  ab|+3| 3");
        assert_eq!(f("%x %X %o %b %#x", &[Value::Int(255), Value::Int(255), Value::Int(8), Value::Int(5), Value::Int(255)]), "ff FF 10 101 0xff");
        assert_eq!(f("%.2f %08.3f %e", &[Value::Float(1.005), Value::Float(-4.56789), Value::Int(12345)]), "1.00 -004.568 1.234500e+04");
        assert_eq!(f("%d%%", &[s("0x1A")]), "26%");
        assert_eq!(f("%.3s|%p|%s", &[s("abcdef"), s("q"), Value::Nil]), "abc|\"q\"|");
        assert_eq!(f("%.3d", &[Value::Int(-7)]), "-007");
    }

    #[test]
    fn percent_errors_are_rubys() {
        assert_eq!(f("%s %s", &[Value::str("a")]), "ArgumentError: too few arguments");
        assert_eq!(f("%d", &[Value::str("abc")]), "ArgumentError: invalid value for Integer(): \"abc\"");
        assert_eq!(f("%d", &[Value::Nil]), "TypeError: can't convert nil into Integer");
        assert_eq!(f("%a", &[Value::Int(1)]), "unsupported: the `%a` format directive");
    }

    #[test]
    fn named_references_read_a_hash_of_symbols() {
        let mut m = crate::config::value::Map::new();
        m.insert(Value::Sym("host".into()), Value::str("h1"));
        m.insert(Value::Sym("n".into()), Value::Int(3));
        assert_eq!(f("%{host}:%<n>03d", &[Value::Map(m)]), "h1:003");
        assert_eq!(f("%{x}", &[Value::Int(1)]), "ArgumentError: one hash required");
    }
}
