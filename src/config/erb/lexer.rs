//! The Ruby lexer: one ERB tag's code as tokens (strings keep their `#{}` parts for later).

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Str(Vec<StrPart>),
    Cmd(Vec<StrPart>),
    Regex(String),
    Int(i64),
    Float(f64),
    Ident(String),
    Const(String),
    Op(String),
    Newline,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum StrPart {
    Lit(String),
    Interp(String),
}

pub(super) fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' || ch == ';' {
            out.push(Tok::Newline);
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else {
            let (tok, ni) = lex_token(&c, i, out.last())?;
            out.push(tok);
            i = ni;
        }
    }
    Ok(out)
}

/// The token starting at `c[i]` (not a newline, blank or comment) and the index after it.
fn lex_token(c: &[char], i: usize, prev: Option<&Tok>) -> Result<(Tok, usize), String> {
    let ch = c[i];
    if ch == '"' || ch == '`' {
        let (parts, ni) = lex_dq(c, i + 1, ch)?;
        Ok((if ch == '"' { Tok::Str(parts) } else { Tok::Cmd(parts) }, ni))
    } else if ch == '\'' {
        lex_sq(c, i + 1)
    } else if ch == '%' && i + 2 < c.len() && c[i + 1] == 'x' && "({[<|!".contains(c[i + 2]) {
        let close = match c[i + 2] {
            '(' => ')',
            '{' => '}',
            '[' => ']',
            '<' => '>',
            o => o,
        };
        let (parts, ni) = lex_dq(c, i + 3, close)?;
        Ok((Tok::Cmd(parts), ni))
    } else if ch == '/' && matches!(prev, Some(Tok::Op(o)) if o == "(" || o == ",") {
        Ok(lex_regex(c, i + 1))
    } else if ch.is_ascii_digit() {
        lex_int(c, i)
    } else if ch.is_alphabetic() || ch == '_' || ch == '@' || ch == '$' {
        Ok(lex_word(c, i))
    } else {
        lex_op(c, i)
    }
}

/// A single-quoted string body (only `\'` and `\\` are escapes).
fn lex_sq(c: &[char], mut i: usize) -> Result<(Tok, usize), String> {
    let mut s = String::new();
    loop {
        if i >= c.len() {
            return Err("unterminated string".into());
        }
        if c[i] == '\\' && i + 1 < c.len() && (c[i + 1] == '\'' || c[i + 1] == '\\') {
            s.push(c[i + 1]);
            i += 2;
        } else if c[i] == '\'' {
            i += 1;
            break;
        } else {
            s.push(c[i]);
            i += 1;
        }
    }
    Ok((Tok::Str(vec![StrPart::Lit(s)]), i))
}

/// A `/regexp/flags` literal body (flags are skipped).
fn lex_regex(c: &[char], mut i: usize) -> (Tok, usize) {
    let mut s = String::new();
    while i < c.len() && c[i] != '/' {
        if c[i] == '\\' && i + 1 < c.len() {
            s.push(c[i]);
            i += 1;
        }
        s.push(c[i]);
        i += 1;
    }
    i += 1;
    while i < c.len() && c[i].is_ascii_alphabetic() {
        i += 1;
    }
    (Tok::Regex(s), i)
}

/// An integer or float literal (`_` separators allowed).
fn lex_int(c: &[char], mut i: usize) -> Result<(Tok, usize), String> {
    let mut s = String::new();
    while i < c.len() && (c[i].is_ascii_digit() || c[i] == '_') {
        if c[i] != '_' {
            s.push(c[i]);
        }
        i += 1;
    }
    if c.get(i) == Some(&'.') && c.get(i + 1).is_some_and(char::is_ascii_digit) {
        s.push('.');
        i += 1;
        while i < c.len() && (c[i].is_ascii_digit() || c[i] == '_') {
            if c[i] != '_' {
                s.push(c[i]);
            }
            i += 1;
        }
        return Ok((Tok::Float(s.parse().map_err(|_| "bad float literal".to_string())?), i));
    }
    Ok((Tok::Int(s.parse().map_err(|_| "integer out of range".to_string())?), i))
}

/// An identifier (with a trailing `?`/`!`) or, when capitalised, a constant.
fn lex_word(c: &[char], mut i: usize) -> (Tok, usize) {
    let mut s = String::new();
    while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '@' || c[i] == '$') {
        s.push(c[i]);
        i += 1;
    }
    if i < c.len() && (c[i] == '?' || c[i] == '!') && !(i + 1 < c.len() && c[i + 1] == '=') {
        s.push(c[i]);
        i += 1;
    }
    if s.chars().next().is_some_and(|x| x.is_uppercase()) {
        (Tok::Const(s), i)
    } else {
        (Tok::Ident(s), i)
    }
}

/// An operator or punctuation, two characters before one.
fn lex_op(c: &[char], i: usize) -> Result<(Tok, usize), String> {
    let ch = c[i];
    let two: String = c[i..(i + 2).min(c.len())].iter().collect();
    if ["||", "&&", "==", "!=", "::", "=~", "<=", ">=", "**"].contains(&two.as_str()) {
        Ok((Tok::Op(two), i + 2))
    } else if "()[]{}.,=+-*/!<>|?:%".contains(ch) {
        Ok((Tok::Op(ch.to_string()), i + 1))
    } else {
        Err(format!("unexpected character {ch:?}"))
    }
}

/// A double-quoted string (or backtick command) body with `#{}` interpolation.
pub(super) fn lex_dq(c: &[char], mut i: usize, close: char) -> Result<(Vec<StrPart>, usize), String> {
    let mut parts = Vec::new();
    let mut s = String::new();
    let mut depth = 0;
    loop {
        if i >= c.len() {
            return Err("unterminated string".into());
        }
        let ch = c[i];
        if ch == '\\' && i + 1 < c.len() {
            let n = c[i + 1];
            s.push(match n {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'e' => '\x1b',
                '0' => '\0',
                's' => ' ',
                other => other,
            });
            i += 2;
        } else if ch == '#' && i + 1 < c.len() && c[i + 1] == '{' {
            if !s.is_empty() {
                parts.push(StrPart::Lit(std::mem::take(&mut s)));
            }
            let mut d = 1;
            let mut j = i + 2;
            let mut code = String::new();
            while j < c.len() {
                if c[j] == '{' {
                    d += 1;
                } else if c[j] == '}' {
                    d -= 1;
                    if d == 0 {
                        break;
                    }
                }
                code.push(c[j]);
                j += 1;
            }
            if j >= c.len() {
                return Err("unterminated interpolation".into());
            }
            parts.push(StrPart::Interp(code));
            i = j + 1;
        } else if ch == close && depth == 0 {
            i += 1;
            break;
        } else {
            if close == ')' && ch == '(' {
                depth += 1;
            } else if close == ')' && ch == ')' {
                depth -= 1;
            }
            s.push(ch);
            i += 1;
        }
    }
    if !s.is_empty() || parts.is_empty() {
        parts.push(StrPart::Lit(s));
    }
    Ok((parts, i))
}

/// Tokens back as (roughly) the source, for error messages.
pub(super) fn render_toks(t: &[Tok]) -> String {
    t.iter()
        .map(|t| match t {
            Tok::Ident(s) | Tok::Const(s) | Tok::Op(s) => s.clone(),
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str(_) => "\"…\"".into(),
            Tok::Cmd(_) => "`…`".into(),
            Tok::Regex(r) => format!("/{r}/"),
            Tok::Newline => ";".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
