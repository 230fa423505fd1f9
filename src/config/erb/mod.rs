//! The ERB subset real Kamal configs use, rendered (trim mode "-") before YAML parsing,
//! comments included, exactly where Kamal renders it. Supported Ruby: string/integer
//! literals with `#{}` interpolation, `ENV["X"]`, `ENV.fetch("X")`, `ENV.fetch("X", d)`,
//! `ENV.fetch("X") { d }`, `||`, `&&`, `!`, `==`, `!=`, `+ - * /`, local variables,
//! `if/elsif/else/unless/end`, `list.each do |x| … end`, backticks and `%x()` (run like Ruby
//! runs them: through `/bin/sh` when the command has shell metacharacters, directly otherwise),
//! `File.read`, `File.expand_path(p, __dir__)`, `File.join`, `File.exist?`,
//! `require "dotenv"` with `Dotenv.load(...)`, `begin … rescue … end`, and common
//! String/Array methods.
//! Anything else fails with "unsupported ERB at file:line", never renders silently.

use super::error::{ConfigError, ErrorKind};
use super::value::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What ERB may touch: the (explicit) environment, the working directory, the file's dir.
pub struct ErbContext<'a> {
    pub env: &'a mut BTreeMap<String, String>,
    pub cwd: &'a Path,
    /// Absolute directory of the template (Ruby's `__dir__` inside the ERB).
    pub dir: PathBuf,
    /// The file name used in error messages.
    pub file: PathBuf,
}

const MAX_OUTPUT: usize = 16 * 1024 * 1024;
const MAX_STEPS: usize = 1_000_000;

#[derive(Debug, Clone)]
enum Seg {
    Text(String),
    Out(String, usize),
    Code(String, usize),
}

fn unsupported(ctx: &ErbContext, line: usize, what: &str) -> ConfigError {
    unsupported_in(&ctx.file, line, what)
}

fn unsupported_in(file: &Path, line: usize, what: &str) -> ConfigError {
    let mut e = ConfigError::new(
        ErrorKind::UnsupportedErb,
        format!("unsupported ERB at {}:{line}: {what} (kdeck evaluates only the ERB subset listed in its README)", file.display()),
    );
    e.line = Some(line);
    e
}

fn erb_err(ctx: &ErbContext, line: usize, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Erb, format!("ERB failed: {}", msg.into())).with_file(ctx.file.clone()).with_line(line)
}

/// Split a template into text / output / code segments, applying trim mode "-".
fn segments(src: &str) -> Result<Vec<Seg>, (usize, String)> {
    let mut segs = Vec::new();
    let mut text = String::new();
    let mut line = 1usize;
    let mut rest = src;
    while let Some(pos) = rest.find("<%") {
        let before = &rest[..pos];
        text.push_str(before);
        line += before.matches('\n').count();
        let after = &rest[pos + 2..];
        if let Some(a) = after.strip_prefix('%') {
            text.push_str("<%");
            rest = a;
            continue;
        }
        let (kind, body_start) = match after.chars().next() {
            Some('=') => ('=', 1),
            Some('#') => ('#', 1),
            Some('-') => ('-', 1),
            _ => (' ', 0),
        };
        if kind == '-' {
            // `<%-`: drop the indentation before the tag when it starts the line.
            let tail_start = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            if text[tail_start..].chars().all(|c| c == ' ' || c == '\t') {
                text.truncate(tail_start);
            }
        }
        let body_all = &after[body_start..];
        let Some(end) = body_all.find("%>") else {
            return Err((line, "unterminated ERB tag".into()));
        };
        let mut body = &body_all[..end];
        let mut trim_nl = false;
        if let Some(b) = body.strip_suffix('-') {
            body = b;
            trim_nl = true;
        }
        let tag_line = line;
        line += body_all[..end].matches('\n').count();
        rest = &body_all[end + 2..];
        if trim_nl {
            if let Some(r) = rest.strip_prefix('\n') {
                rest = r;
                line += 1;
            } else if let Some(r) = rest.strip_prefix("\r\n") {
                rest = r;
                line += 1;
            }
        }
        if !text.is_empty() {
            segs.push(Seg::Text(std::mem::take(&mut text)));
        }
        match kind {
            '=' => segs.push(Seg::Out(body.to_string(), tag_line)),
            '#' => {}
            _ => segs.push(Seg::Code(body.to_string(), tag_line)),
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        segs.push(Seg::Text(text));
    }
    Ok(segs)
}

// ----------------------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(Vec<StrPart>),
    Cmd(Vec<StrPart>),
    Regex(String),
    Int(i64),
    Ident(String),
    Const(String),
    Op(String),
    Newline,
}

#[derive(Debug, Clone, PartialEq)]
enum StrPart {
    Lit(String),
    Interp(String),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
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
        } else if ch == '"' || ch == '`' {
            let (parts, ni) = lex_dq(&c, i + 1, ch)?;
            i = ni;
            out.push(if ch == '"' { Tok::Str(parts) } else { Tok::Cmd(parts) });
        } else if ch == '\'' {
            let mut s = String::new();
            i += 1;
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
            out.push(Tok::Str(vec![StrPart::Lit(s)]));
        } else if ch == '%' && i + 2 < c.len() && c[i + 1] == 'x' && "({[<|!".contains(c[i + 2]) {
            let close = match c[i + 2] {
                '(' => ')',
                '{' => '}',
                '[' => ']',
                '<' => '>',
                o => o,
            };
            let (parts, ni) = lex_dq(&c, i + 3, close)?;
            i = ni;
            out.push(Tok::Cmd(parts));
        } else if ch == '/' && matches!(out.last(), Some(Tok::Op(o)) if o == "(" || o == ",") {
            let mut s = String::new();
            i += 1;
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
            out.push(Tok::Regex(s));
        } else if ch.is_ascii_digit() {
            let mut s = String::new();
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '_') {
                if c[i] != '_' {
                    s.push(c[i]);
                }
                i += 1;
            }
            out.push(Tok::Int(s.parse().map_err(|_| "integer out of range".to_string())?));
        } else if ch.is_alphabetic() || ch == '_' || ch == '@' || ch == '$' {
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
                out.push(Tok::Const(s));
            } else {
                out.push(Tok::Ident(s));
            }
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if ["||", "&&", "==", "!=", "::", "=~", "<=", ">=", "**"].contains(&two.as_str()) {
                out.push(Tok::Op(two));
                i += 2;
            } else if "()[]{}.,=+-*/!<>|?:%".contains(ch) {
                out.push(Tok::Op(ch.to_string()));
                i += 1;
            } else {
                return Err(format!("unexpected character {ch:?}"));
            }
        }
    }
    Ok(out)
}

/// A double-quoted string (or backtick command) body with `#{}` interpolation.
fn lex_dq(c: &[char], mut i: usize, close: char) -> Result<(Vec<StrPart>, usize), String> {
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

// ----------------------------------------------------------------------------- parser

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    Str(Vec<StrPart>),
    Cmd(Vec<StrPart>),
    Regex(String),
    Var(String),
    Const(String),
    Array(Vec<Expr>),
    Not(Box<Expr>),
    Bin(String, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Call { recv: Option<Box<Expr>>, name: String, args: Vec<Expr>, block: Option<Box<Expr>> },
    Assign(String, Box<Expr>),
}

struct P<'t> {
    t: &'t [Tok],
    i: usize,
    depth: usize,
}

type PResult<T> = Result<T, String>;

impl<'t> P<'t> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(x)) if x == o)
    }
    fn eat_op(&mut self, o: &str) -> bool {
        if self.is_op(o) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, o: &str) -> PResult<()> {
        if self.eat_op(o) {
            Ok(())
        } else {
            Err(format!("expected `{o}`"))
        }
    }
    fn expr(&mut self) -> PResult<Expr> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("expression nested too deeply".into());
        }
        let r = self.expr_inner();
        self.depth -= 1;
        r
    }
    fn expr_inner(&mut self) -> PResult<Expr> {
        // assignment: ident = expr
        if let (Some(Tok::Ident(n)), Some(Tok::Op(o))) = (self.t.get(self.i), self.t.get(self.i + 1)) {
            if o == "=" {
                let n = n.clone();
                self.i += 2;
                let v = self.expr()?;
                return Ok(Expr::Assign(n, Box::new(v)));
            }
        }
        self.ternary()
    }
    fn ternary(&mut self) -> PResult<Expr> {
        let c = self.or()?;
        if self.eat_op("?") {
            let a = self.ternary()?;
            self.expect_op(":")?;
            let b = self.ternary()?;
            return Ok(Expr::Ternary(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn or(&mut self) -> PResult<Expr> {
        let mut l = self.and()?;
        while self.eat_op("||") || self.eat_kw("or") {
            let r = self.and()?;
            l = Expr::Bin("||".into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == k) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn and(&mut self) -> PResult<Expr> {
        let mut l = self.not()?;
        while self.eat_op("&&") || self.eat_kw("and") {
            let r = self.not()?;
            l = Expr::Bin("&&".into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn not(&mut self) -> PResult<Expr> {
        if self.eat_op("!") || self.eat_kw("not") {
            self.depth += 1;
            if self.depth > 64 {
                return Err("expression nested too deeply".into());
            }
            let r = self.not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(r?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> PResult<Expr> {
        let l = self.add()?;
        for o in ["==", "!=", "=~", "<", ">", "<=", ">="] {
            if self.eat_op(o) {
                let r = self.add()?;
                return Ok(Expr::Bin(o.into(), Box::new(l), Box::new(r)));
            }
        }
        Ok(l)
    }
    fn add(&mut self) -> PResult<Expr> {
        let mut l = self.mul()?;
        loop {
            let o = if self.eat_op("+") {
                "+"
            } else if self.eat_op("-") {
                "-"
            } else {
                break;
            };
            let r = self.mul()?;
            l = Expr::Bin(o.into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn mul(&mut self) -> PResult<Expr> {
        let mut l = self.postfix()?;
        loop {
            let o = if self.eat_op("*") {
                "*"
            } else if self.eat_op("/") {
                "/"
            } else if self.eat_op("%") {
                "%"
            } else {
                break;
            };
            let r = self.postfix()?;
            l = Expr::Bin(o.into(), Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn args(&mut self) -> PResult<Vec<Expr>> {
        let mut a = Vec::new();
        if self.eat_op("(") && !self.eat_op(")") {
            {
                loop {
                    a.push(self.expr()?);
                    if self.eat_op(")") {
                        break;
                    }
                    self.expect_op(",")?;
                }
            }
        }
        Ok(a)
    }
    fn block(&mut self) -> PResult<Option<Box<Expr>>> {
        if self.is_op("{") {
            self.i += 1;
            if self.eat_op("|") {
                return Err("block parameters in `{ }` blocks".into());
            }
            let e = self.expr()?;
            self.expect_op("}")?;
            return Ok(Some(Box::new(e)));
        }
        Ok(None)
    }
    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") || self.eat_op("&.") {
                let name = match self.peek() {
                    Some(Tok::Ident(n)) | Some(Tok::Const(n)) => n.clone(),
                    _ => return Err("expected a method name".into()),
                };
                self.i += 1;
                // `x.each do |v|` is a statement, handled by the caller.
                if matches!(self.peek(), Some(Tok::Ident(k)) if k == "do") {
                    return Ok(Expr::Call { recv: Some(Box::new(e)), name, args: vec![], block: None });
                }
                let args = self.args()?;
                let block = self.block()?;
                e = Expr::Call { recv: Some(Box::new(e)), name, args, block };
            } else if self.eat_op("::") {
                let name = match self.peek() {
                    Some(Tok::Const(n)) | Some(Tok::Ident(n)) => n.clone(),
                    _ => return Err("expected a constant".into()),
                };
                self.i += 1;
                e = match e {
                    Expr::Const(c) => Expr::Const(format!("{c}::{name}")),
                    _ => return Err("`::` on a value".into()),
                };
            } else if self.is_op("[") {
                self.i += 1;
                let idx = self.expr()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else {
                break;
            }
        }
        Ok(e)
    }
    fn primary(&mut self) -> PResult<Expr> {
        let Some(t) = self.peek().cloned() else { return Err("unexpected end of expression".into()) };
        self.i += 1;
        Ok(match t {
            Tok::Str(p) => Expr::Str(p),
            Tok::Cmd(p) => Expr::Cmd(p),
            Tok::Regex(r) => Expr::Regex(r),
            Tok::Int(i) => Expr::Lit(Value::Int(i)),
            Tok::Op(o) if o == "(" => {
                let e = self.expr()?;
                self.expect_op(")")?;
                e
            }
            Tok::Op(o) if o == "-" => {
                let e = self.postfix()?;
                Expr::Bin("-".into(), Box::new(Expr::Lit(Value::Int(0))), Box::new(e))
            }
            Tok::Op(o) if o == "[" => {
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                Expr::Array(items)
            }
            Tok::Ident(n) => match n.as_str() {
                "nil" => Expr::Lit(Value::Nil),
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "__dir__" => Expr::Call { recv: None, name: "__dir__".into(), args: vec![], block: None },
                _ => {
                    if self.is_op("(") {
                        let args = self.args()?;
                        Expr::Call { recv: None, name: n, args, block: None }
                    } else if matches!(self.peek(), Some(Tok::Str(_))) && (n == "require" || n == "puts") {
                        let a = self.expr()?;
                        Expr::Call { recv: None, name: n, args: vec![a], block: None }
                    } else {
                        Expr::Var(n)
                    }
                }
            },
            Tok::Const(c) => Expr::Const(c),
            other => return Err(format!("unexpected {other:?}")),
        })
    }
}

// ----------------------------------------------------------------------------- statements

#[derive(Debug)]
enum Node {
    Text(String),
    Out(Expr, usize),
    Stmt(Expr, usize),
    If { branches: Vec<(Expr, bool, Vec<Node>)>, else_: Vec<Node> },
    Each { list: Expr, var: String, body: Vec<Node>, line: usize },
    Begin { body: Vec<Node>, rescue: Vec<Node> },
}

#[derive(Debug)]
enum Item {
    Text(String),
    Out(Vec<Tok>, usize),
    Stmt(Vec<Tok>, usize),
}

fn split_statements(toks: Vec<Tok>) -> Vec<Vec<Tok>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0i32;
    for t in toks {
        match &t {
            Tok::Op(o) if o == "(" || o == "[" || o == "{" => depth += 1,
            Tok::Op(o) if o == ")" || o == "]" || o == "}" => depth -= 1,
            _ => {}
        }
        if t == Tok::Newline && depth <= 0 {
            out.push(Vec::new());
        } else if t != Tok::Newline {
            out.last_mut().expect("non-empty").push(t);
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

fn first_ident(t: &[Tok]) -> Option<&str> {
    match t.first() {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A block-ending keyword statement (`end`, `else`, …) with its tokens and line.
type Stop = Option<(String, Vec<Tok>, usize)>;

struct TreeBuilder {
    items: Vec<Item>,
    i: usize,
    file: PathBuf,
    depth: usize,
}

impl TreeBuilder {
    fn parse_expr(&self, toks: &[Tok], line: usize) -> Result<Expr, ConfigError> {
        let mut p = P { t: toks, i: 0, depth: 0 };
        let e = p.expr().map_err(|m| unsupported_in(&self.file, line, &m))?;
        if p.i != toks.len() {
            return Err(unsupported_in(&self.file, line, &format!("could not read `{}`", render_toks(toks))));
        }
        Ok(e)
    }

    /// Parse nodes until one of `stops` (a keyword statement) is found; returns it.
    fn nodes(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Stop), ConfigError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(unsupported_in(&self.file, 1, "blocks nested too deeply"));
        }
        let r = self.nodes_inner(stops);
        self.depth -= 1;
        r
    }

    fn nodes_inner(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Stop), ConfigError> {
        let mut out = Vec::new();
        while self.i < self.items.len() {
            let idx = self.i;
            self.i += 1;
            match &self.items[idx] {
                Item::Text(s) => out.push(Node::Text(s.clone())),
                Item::Out(t, line) => {
                    let e = self.parse_expr(t, *line)?;
                    out.push(Node::Out(e, *line));
                }
                Item::Stmt(t, line) => {
                    let (t, line) = (t.clone(), *line);
                    let kw = first_ident(&t).unwrap_or("").to_string();
                    if stops.contains(&kw.as_str()) {
                        return Ok((out, Some((kw, t, line))));
                    }
                    match kw.as_str() {
                        "if" | "unless" => {
                            let mut branches = Vec::new();
                            let mut cond = self.parse_expr(&t[1..], line)?;
                            let mut negate = kw == "unless";
                            let mut else_ = Vec::new();
                            loop {
                                let (body, stop) = self.nodes(&["elsif", "else", "end"])?;
                                branches.push((cond, negate, body));
                                match stop {
                                    Some((k, t2, l2)) if k == "elsif" => {
                                        cond = self.parse_expr(&t2[1..], l2)?;
                                        negate = false;
                                    }
                                    Some((k, _, _)) if k == "else" => {
                                        let (body, stop) = self.nodes(&["end"])?;
                                        if stop.is_none() {
                                            return Err(unsupported_in(&self.file, line, "`if` without `end`"));
                                        }
                                        else_ = body;
                                        break;
                                    }
                                    Some(_) => break,
                                    None => return Err(unsupported_in(&self.file, line, "`if` without `end`")),
                                }
                            }
                            out.push(Node::If { branches, else_ });
                        }
                        "begin" => {
                            let (body, stop) = self.nodes(&["rescue", "end"])?;
                            let rescue = match stop {
                                Some((k, _, _)) if k == "rescue" => {
                                    let (r, stop) = self.nodes(&["end"])?;
                                    if stop.is_none() {
                                        return Err(unsupported_in(&self.file, line, "`begin` without `end`"));
                                    }
                                    r
                                }
                                Some(_) => Vec::new(),
                                None => return Err(unsupported_in(&self.file, line, "`begin` without `end`")),
                            };
                            out.push(Node::Begin { body, rescue });
                        }
                        _ => {
                            // `expr.each do |v|`
                            let n = t.len();
                            if n >= 5 && matches!(&t[n - 4], Tok::Ident(d) if d == "do") && t[n - 3] == Tok::Op("|".into()) && t[n - 1] == Tok::Op("|".into()) {
                                let var = match &t[n - 2] {
                                    Tok::Ident(v) => v.clone(),
                                    _ => return Err(unsupported_in(&self.file, line, "block parameter")),
                                };
                                let head = &t[..n - 4];
                                let (list, method) = match head {
                                    [rest @ .., Tok::Op(dot), Tok::Ident(m)] if dot == "." => (rest, m.as_str()),
                                    _ => return Err(unsupported_in(&self.file, line, &render_toks(&t))),
                                };
                                if method != "each" {
                                    return Err(unsupported_in(&self.file, line, &format!("`.{method} do` blocks")));
                                }
                                let list = self.parse_expr(list, line)?;
                                let (body, stop) = self.nodes(&["end"])?;
                                if stop.is_none() {
                                    return Err(unsupported_in(&self.file, line, "`do` without `end`"));
                                }
                                out.push(Node::Each { list, var, body, line });
                            } else if matches!(kw.as_str(), "end" | "else" | "elsif" | "rescue") {
                                return Err(unsupported_in(&self.file, line, &format!("unexpected `{kw}`")));
                            } else if matches!(kw.as_str(), "def" | "class" | "module" | "while" | "until" | "for" | "case") {
                                return Err(unsupported_in(&self.file, line, &format!("`{kw}`")));
                            } else {
                                let e = self.parse_expr(&t, line)?;
                                out.push(Node::Stmt(e, line));
                            }
                        }
                    }
                }
            }
        }
        Ok((out, None))
    }
}

fn render_toks(t: &[Tok]) -> String {
    t.iter()
        .map(|t| match t {
            Tok::Ident(s) | Tok::Const(s) | Tok::Op(s) => s.clone(),
            Tok::Int(i) => i.to_string(),
            Tok::Str(_) => "\"…\"".into(),
            Tok::Cmd(_) => "`…`".into(),
            Tok::Regex(r) => format!("/{r}/"),
            Tok::Newline => ";".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Render an ERB template. `ctx.env` is Ruby's ENV (Dotenv.load may add to it).
pub fn render(src: &str, ctx: &mut ErbContext) -> Result<String, ConfigError> {
    if !src.contains("<%") {
        return Ok(src.to_string());
    }
    let segs = segments(src).map_err(|(l, m)| unsupported(ctx, l, &m))?;
    let mut items = Vec::new();
    for s in segs {
        match s {
            Seg::Text(t) => items.push(Item::Text(t)),
            Seg::Out(code, line) => {
                let toks = lex(&code).map_err(|m| unsupported(ctx, line, &m))?;
                let toks: Vec<Tok> = toks.into_iter().filter(|t| *t != Tok::Newline).collect();
                if toks.is_empty() {
                    continue;
                }
                items.push(Item::Out(toks, line));
            }
            Seg::Code(code, line) => {
                let toks = lex(&code).map_err(|m| unsupported(ctx, line, &m))?;
                for st in split_statements(toks) {
                    items.push(Item::Stmt(st, line));
                }
            }
        }
    }
    let nodes = {
        let mut tb = TreeBuilder { items, i: 0, file: ctx.file.clone(), depth: 0 };
        let (nodes, stop) = tb.nodes(&[])?;
        if let Some((kw, _, line)) = stop {
            return Err(unsupported(ctx, line, &format!("unexpected `{kw}`")));
        }
        nodes
    };
    let mut ev = Eval { ctx, vars: BTreeMap::new(), out: String::new(), steps: 0, depth: 0 };
    ev.run(&nodes)?;
    Ok(ev.out)
}

// ----------------------------------------------------------------------------- evaluation

struct Eval<'a, 'b> {
    ctx: &'a mut ErbContext<'b>,
    vars: BTreeMap<String, Value>,
    out: String,
    steps: usize,
    depth: usize,
}

/// A Ruby exception raised while evaluating (class + message), or an unsupported construct.
enum Raise {
    Ruby(String, String, usize),
    Config(ConfigError),
}

impl From<ConfigError> for Raise {
    fn from(e: ConfigError) -> Self {
        Raise::Config(e)
    }
}

impl Eval<'_, '_> {
    fn run(&mut self, nodes: &[Node]) -> Result<(), ConfigError> {
        match self.exec(nodes) {
            Ok(()) => Ok(()),
            Err(Raise::Config(e)) => Err(e),
            Err(Raise::Ruby(class, msg, line)) => Err(erb_err(self.ctx, line, format!("{class}: {msg}"))),
        }
    }

    fn exec(&mut self, nodes: &[Node]) -> Result<(), Raise> {
        for n in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS || self.out.len() > MAX_OUTPUT {
                return Err(Raise::Config(erb_err(self.ctx, 1, "template output too large")));
            }
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Out(e, line) => {
                    let v = self.eval(e, *line)?;
                    self.out.push_str(&v.to_rstring());
                }
                Node::Stmt(e, line) => {
                    self.eval(e, *line)?;
                }
                Node::If { branches, else_ } => {
                    let mut done = false;
                    for (c, neg, body) in branches {
                        let v = self.eval(c, 0)?.truthy();
                        if v != *neg {
                            self.exec(body)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.exec(else_)?;
                    }
                }
                Node::Each { list, var, body, line } => {
                    let l = self.eval(list, *line)?;
                    let items = match l {
                        Value::Seq(s) => s,
                        Value::Map(m) => m.iter().map(|(k, v)| Value::Seq(vec![k.clone(), v.clone()])).collect(),
                        other => return Err(Raise::Ruby("NoMethodError".into(), format!("undefined method `each' for {}", other.class_name()), *line)),
                    };
                    for it in items {
                        self.vars.insert(var.clone(), it);
                        self.exec(body)?;
                    }
                }
                Node::Begin { body, rescue } => {
                    let saved = self.out.len();
                    match self.exec(body) {
                        Ok(()) => {}
                        Err(Raise::Ruby(..)) => {
                            self.out.truncate(saved);
                            self.exec(rescue)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    fn unsup(&self, line: usize, what: &str) -> Raise {
        Raise::Config(unsupported_in(&self.ctx.file, line, what))
    }

    fn interp(&mut self, parts: &[StrPart], line: usize) -> Result<String, Raise> {
        self.depth += 1;
        let r = if self.depth > 16 { Err(self.unsup(line, "string interpolation nested too deeply")) } else { self.interp_inner(parts, line) };
        self.depth -= 1;
        r
    }

    fn interp_inner(&mut self, parts: &[StrPart], line: usize) -> Result<String, Raise> {
        let mut s = String::new();
        for p in parts {
            match p {
                StrPart::Lit(l) => s.push_str(l),
                StrPart::Interp(code) => {
                    let toks = lex(code).map_err(|m| self.unsup(line, &m))?;
                    let mut p = P { t: &toks, i: 0, depth: 0 };
                    let e = p.expr().map_err(|m| self.unsup(line, &m))?;
                    if p.i != toks.len() {
                        return Err(self.unsup(line, code));
                    }
                    s.push_str(&self.eval(&e, line)?.to_rstring());
                }
            }
        }
        Ok(s)
    }

    fn eval(&mut self, e: &Expr, line: usize) -> Result<Value, Raise> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Raise::Config(erb_err(self.ctx, line, "template evaluation too long")));
        }
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::Str(p) => Value::Str(self.interp(p, line)?),
            Expr::Cmd(p) => {
                let cmd = self.interp(p, line)?;
                Value::Str(self.backtick(&cmd, line)?)
            }
            Expr::Regex(_) => return Err(self.unsup(line, "a regular expression outside `scan`/`match`")),
            Expr::Var(n) => match self.vars.get(n) {
                Some(v) => v.clone(),
                None => return Err(self.unsup(line, &format!("`{n}` (unknown local variable or method)"))),
            },
            Expr::Const(c) => match c.as_str() {
                // The Ruby that Kamal 2.11's standalone build runs on.
                "RUBY_ENGINE" => Value::str("ruby"),
                "RUBY_ENGINE_VERSION" | "RUBY_VERSION" => Value::str("3.3.7"),
                _ => return Err(self.unsup(line, &format!("`{c}`"))),
            },
            Expr::Array(items) => {
                let mut v = Vec::new();
                for i in items {
                    v.push(self.eval(i, line)?);
                }
                Value::Seq(v)
            }
            Expr::Not(x) => Value::Bool(!self.eval(x, line)?.truthy()),
            Expr::Ternary(c, a, b) => {
                if self.eval(c, line)?.truthy() {
                    self.eval(a, line)?
                } else {
                    self.eval(b, line)?
                }
            }
            Expr::Assign(n, x) => {
                let v = self.eval(x, line)?;
                self.vars.insert(n.clone(), v.clone());
                v
            }
            Expr::Bin(op, l, r) => {
                let lv = self.eval(l, line)?;
                match op.as_str() {
                    "||" => {
                        if lv.truthy() {
                            return Ok(lv);
                        }
                        return self.eval(r, line);
                    }
                    "&&" => {
                        if !lv.truthy() {
                            return Ok(lv);
                        }
                        return self.eval(r, line);
                    }
                    _ => {}
                }
                let rv = self.eval(r, line)?;
                self.binop(op, lv, rv, line)?
            }
            Expr::Index(recv, idx) => {
                if matches!(&**recv, Expr::Const(c) if c == "ENV") {
                    let k = self.eval(idx, line)?;
                    let k = self.env_key(&k, line)?;
                    return Ok(self.ctx.env.get(&k).cloned().map(Value::Str).unwrap_or(Value::Nil));
                }
                let r = self.eval(recv, line)?;
                let i = self.eval(idx, line)?;
                match (r, i) {
                    (Value::Seq(s), Value::Int(i)) => {
                        let i = if i < 0 { s.len() as i64 + i } else { i };
                        s.get(i as usize).cloned().unwrap_or(Value::Nil)
                    }
                    (Value::Map(m), k) => m.get_key(&k).cloned().unwrap_or(Value::Nil),
                    (Value::Str(s), Value::Int(i)) => {
                        let c: Vec<char> = s.chars().collect();
                        let i = if i < 0 { c.len() as i64 + i } else { i };
                        c.get(i as usize).map(|c| Value::Str(c.to_string())).unwrap_or(Value::Nil)
                    }
                    _ => return Err(self.unsup(line, "indexing this value")),
                }
            }
            Expr::Call { recv, name, args, block } => self.call(recv.as_deref(), name, args, block.as_deref(), line)?,
        })
    }

    fn env_key(&self, k: &Value, line: usize) -> Result<String, Raise> {
        match k {
            Value::Str(s) => Ok(s.clone()),
            other => Err(Raise::Ruby("TypeError".into(), format!("no implicit conversion of {} into String", other.class_name()), line)),
        }
    }

    fn binop(&self, op: &str, l: Value, r: Value, line: usize) -> Result<Value, Raise> {
        use Value::*;
        Ok(match (op, l, r) {
            ("==", a, b) => Bool(a == b),
            ("!=", a, b) => Bool(a != b),
            ("+", Str(a), Str(b)) => Str(a + &b),
            ("+", Int(a), Int(b)) => Int(a.wrapping_add(b)),
            ("-", Int(a), Int(b)) => Int(a.wrapping_sub(b)),
            ("*", Int(a), Int(b)) => Int(a.wrapping_mul(b)),
            ("*", Str(a), Int(b)) if b >= 0 && (a.len() as u128) * (b as u128) <= MAX_OUTPUT as u128 => Str(a.repeat(b as usize)),
            ("/", Int(_), Int(0)) | ("%", Int(_), Int(0)) => return Err(Raise::Ruby("ZeroDivisionError".into(), "divided by 0".into(), line)),
            ("/", Int(a), Int(b)) => Int(a.wrapping_div_euclid(b)),
            ("%", Int(a), Int(b)) => Int(a.wrapping_rem_euclid(b)),
            ("+", Seq(mut a), Seq(b)) => {
                a.extend(b);
                Seq(a)
            }
            ("<", Int(a), Int(b)) => Bool(a < b),
            (">", Int(a), Int(b)) => Bool(a > b),
            ("<=", Int(a), Int(b)) => Bool(a <= b),
            (">=", Int(a), Int(b)) => Bool(a >= b),
            (op, a, b) => return Err(self.unsup(line, &format!("`{} {op} {}`", a.class_name(), b.class_name()))),
        })
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.ctx.cwd.join(p)
        }
    }

    fn call(&mut self, recv: Option<&Expr>, name: &str, args: &[Expr], block: Option<&Expr>, line: usize) -> Result<Value, Raise> {
        // Receivers that are constants: ENV, File, Dotenv.
        if let Some(Expr::Const(c)) = recv {
            let c = c.clone();
            let mut av = Vec::new();
            for a in args {
                av.push(self.eval(a, line)?);
            }
            return match (c.as_str(), name) {
                ("ENV", "fetch") => {
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
                ("ENV", "key?") | ("ENV", "has_key?") | ("ENV", "include?") => {
                    let k = self.env_key(av.first().unwrap_or(&Value::Nil), line)?;
                    Ok(Value::Bool(self.ctx.env.contains_key(&k)))
                }
                ("ENV", "[]") => {
                    let k = self.env_key(av.first().unwrap_or(&Value::Nil), line)?;
                    Ok(self.ctx.env.get(&k).cloned().map(Value::Str).unwrap_or(Value::Nil))
                }
                ("File", "read") => {
                    let p = av.first().map(Value::to_rstring).unwrap_or_default();
                    match std::fs::read_to_string(self.path(&p)) {
                        Ok(s) => Ok(Value::Str(s)),
                        Err(_) => Err(Raise::Ruby("Errno::ENOENT".into(), format!("No such file or directory @ rb_sysopen - {p}"), line)),
                    }
                }
                ("File", "exist?") | ("File", "exists?") | ("File", "file?") => {
                    let p = av.first().map(Value::to_rstring).unwrap_or_default();
                    Ok(Value::Bool(self.path(&p).exists()))
                }
                ("File", "join") => Ok(Value::Str(av.iter().map(Value::to_rstring).collect::<Vec<_>>().join("/"))),
                ("File", "expand_path") => {
                    let p = av.first().map(Value::to_rstring).unwrap_or_default();
                    let base = av.get(1).filter(|b| !b.is_nil()).map(|b| self.path(&b.to_rstring())).unwrap_or_else(|| self.ctx.cwd.to_path_buf());
                    Ok(Value::Str(normalize(&base.join(p)).display().to_string()))
                }
                ("Dotenv", "load") | ("Dotenv", "load!") | ("Dotenv", "overload") | ("Dotenv", "overwrite") => {
                    let overwrite = name == "overload" || name == "overwrite";
                    let files: Vec<String> = if av.is_empty() { vec![".env".into()] } else { av.iter().map(Value::to_rstring).collect() };
                    let mut loaded = crate::config::value::Map::new();
                    for f in files {
                        let path = self.path(&f);
                        let Ok(text) = std::fs::read_to_string(&path) else {
                            if name == "load!" {
                                return Err(Raise::Ruby("Errno::ENOENT".into(), format!("No such file or directory @ rb_sysopen - {f}"), line));
                            }
                            continue;
                        };
                        let parsed = super::secrets::parse_dotenv(&text, self.ctx.env, overwrite, self.ctx.cwd)
                            .map_err(|m| Raise::Ruby("Dotenv::FormatError".into(), m, line))?;
                        for (k, v) in parsed {
                            if overwrite || !self.ctx.env.contains_key(&k) {
                                self.ctx.env.insert(k.clone(), v.clone());
                            }
                            loaded.insert(Value::Str(k), Value::Str(v));
                        }
                    }
                    Ok(Value::Map(loaded))
                }
                _ => Err(self.unsup(line, &format!("`{c}.{name}`"))),
            };
        }
        let Some(recv) = recv else {
            return match name {
                // ERB#result evals without a file name, so `__dir__` is nil in Kamal.
                "__dir__" => Ok(Value::Nil),
                "require" => {
                    let a = args.first().map(|a| self.eval(a, line)).transpose()?.unwrap_or(Value::Nil);
                    match a.to_rstring().as_str() {
                        "dotenv" | "dotenv/load" | "yaml" | "json" | "erb" => Ok(Value::Bool(true)),
                        other => Err(self.unsup(line, &format!("require {other:?}"))),
                    }
                }
                "raise" => {
                    let a = args.first().map(|a| self.eval(a, line)).transpose()?.unwrap_or(Value::Nil);
                    Err(Raise::Ruby("RuntimeError".into(), a.to_rstring(), line))
                }
                _ => Err(self.unsup(line, &format!("`{name}(…)`"))),
            };
        };
        let r = self.eval(recv, line)?;
        // `scan`/`match` take a regexp literal.
        if name == "scan" || name == "match" || name == "match?" {
            let re = match args.first() {
                Some(Expr::Regex(r)) => r.clone(),
                Some(other) => self.eval(other, line)?.to_rstring(),
                None => return Err(self.unsup(line, "scan without a pattern")),
            };
            let re = regex::Regex::new(&re).map_err(|_| self.unsup(line, &format!("regular expression /{re}/")))?;
            let s = r.to_rstring();
            return Ok(match name {
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
            });
        }
        let mut av = Vec::new();
        for a in args {
            av.push(self.eval(a, line)?);
        }
        let arg_s = |i: usize| av.get(i).map(Value::to_rstring);
        use Value::*;
        Ok(match (name, &r) {
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
            ("strip", Str(s)) => Str(s.trim_matches(|c: char| c.is_whitespace() || c == '\0').to_string()),
            ("lstrip", Str(s)) => Str(s.trim_start().to_string()),
            ("rstrip", Str(s)) => Str(s.trim_end().to_string()),
            ("chomp", Str(s)) => Str(s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n')).or_else(|| s.strip_suffix('\r')).unwrap_or(s).to_string()),
            ("upcase", Str(s)) => Str(s.to_uppercase()),
            ("downcase", Str(s)) => Str(s.to_lowercase()),
            ("empty?", Str(s)) => Bool(s.is_empty()),
            ("empty?", Seq(s)) => Bool(s.is_empty()),
            ("length" | "size", Str(s)) => Int(s.chars().count() as i64),
            ("length" | "size", Seq(s)) => Int(s.len() as i64),
            ("include?", Str(s)) => Bool(s.contains(&arg_s(0).unwrap_or_default())),
            ("include?", Seq(s)) => Bool(av.first().is_some_and(|a| s.contains(a))),
            ("start_with?", Str(s)) => Bool(av.iter().any(|a| s.starts_with(&a.to_rstring()))),
            ("end_with?", Str(s)) => Bool(av.iter().any(|a| s.ends_with(&a.to_rstring()))),
            ("split", Str(s)) => {
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
            ("first", Seq(s)) => s.first().cloned().unwrap_or(Nil),
            ("last", Seq(s)) => s.last().cloned().unwrap_or(Nil),
            ("flatten", Seq(s)) => {
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
            ("compact", Seq(s)) => Seq(s.iter().filter(|v| !v.is_nil()).cloned().collect()),
            ("uniq", Seq(s)) => {
                let mut out: Vec<Value> = Vec::new();
                for x in s {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
                Seq(out)
            }
            ("join", Seq(s)) => Str(s.iter().map(Value::to_rstring).collect::<Vec<_>>().join(&arg_s(0).unwrap_or_default())),
            ("gsub" | "sub" | "tr", _) => return Err(self.unsup(line, &format!("`.{name}`"))),
            ("to_sym", Str(s)) => Sym(s.clone()),
            (m, v) => return Err(self.unsup(line, &format!("`.{m}` on {}", v.class_name()))),
        })
    }

    /// Ruby backticks: `/bin/sh -c` when the command has shell metacharacters, a direct
    /// exec otherwise (so a missing command raises Errno::ENOENT, as in Kamal).
    fn backtick(&mut self, cmd: &str, line: usize) -> Result<String, Raise> {
        run_backtick(cmd, self.ctx.env, self.ctx.cwd).map_err(|m| Raise::Ruby("Errno::ENOENT".into(), m, line))
    }
}

/// Run a command the way Ruby's backticks do; returns stdout. Err(message) only when the
/// program cannot be started (Ruby's Errno::ENOENT); a failing command just gives its output.
pub fn run_backtick(cmd: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Result<String, String> {
    const META: &str = "*?{}[]<>()~&|\\$;'`\"\n#=%";
    // Fuzzing and untrusted-input tests switch command execution off through the explicit env.
    if env.get("KDECK_DISABLE_COMMANDS").is_some_and(|v| v == "1") {
        return Err(format!("commands are disabled - {}", cmd.split_whitespace().next().unwrap_or(cmd)));
    }
    let mut c = if cmd.chars().any(|c| META.contains(c)) {
        let mut c = std::process::Command::new("/bin/sh");
        c.arg("-c").arg(cmd);
        c
    } else {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(prog) = words.first() else { return Err(format!("No such file or directory - {cmd}")) };
        let mut c = std::process::Command::new(resolve_prog(prog, env, cwd).unwrap_or_else(|| PathBuf::from(prog)));
        c.args(&words[1..]);
        c
    };
    c.env_clear().envs(env).current_dir(cwd).stdin(std::process::Stdio::null());
    match c.output() {
        Ok(o) => {
            if !o.stderr.is_empty() {
                tracing::debug!(command = cmd, stderr = %String::from_utf8_lossy(&o.stderr), "ERB/secrets command stderr");
            }
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        Err(_) => Err(format!("No such file or directory - {}", cmd.split_whitespace().next().unwrap_or(cmd))),
    }
}

/// Find a program on the explicit env's PATH (not the process's).
fn resolve_prog(prog: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = Path::new(prog);
        return Some(if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) });
    }
    let path = env.get("PATH")?;
    for dir in path.split(':') {
        let d = Path::new(dir);
        let d = if d.is_absolute() { d.to_path_buf() } else { cwd.join(d) };
        let cand = d.join(prog);
        if is_executable(&cand) {
            return Some(cand);
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn r(src: &str, env: &[(&str, &str)]) -> Result<String, ConfigError> {
        let mut e: BTreeMap<String, String> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        e.insert("PATH".into(), "/usr/bin:/bin".into());
        let cwd = std::env::temp_dir();
        let mut ctx = ErbContext { env: &mut e, cwd: &cwd, dir: cwd.clone(), file: "deploy.yml".into() };
        render(src, &mut ctx)
    }

    #[test]
    fn basics() {
        assert_eq!(r("a: <%= ENV[\"X\"] %>\n", &[("X", "1")]).unwrap(), "a: 1\n");
        assert_eq!(r("a: <%= ENV.fetch('Y', 'd') %>", &[]).unwrap(), "a: d");
        assert!(r("<%= ENV.fetch('Y') %>", &[]).unwrap_err().message.contains("key not found"));
        assert_eq!(r("<% if ENV['X'] == '1' -%>\nyes\n<% else -%>\nno\n<% end -%>\n", &[("X", "1")]).unwrap(), "yes\n");
        assert_eq!(r("<% h = 'a,b'.split(',') -%>\n<% h.each do |x| -%>\n- <%= x %>\n<% end -%>\n", &[]).unwrap(), "- a\n- b\n");
        assert_eq!(r("<%= 6 * 7 %>", &[]).unwrap(), "42");
        assert_eq!(r("<%= `echo hi`.strip %>", &[]).unwrap(), "hi");
        assert!(r("<%= %x(kdeck-no-such-command) %>", &[]).unwrap_err().message.contains("No such file"));
        assert_eq!(r("<%= `kdeck-no-such-command 2>/dev/null`.strip %>", &[]).unwrap(), "");
        let e = r("a\n<%= Gem::Specification.find_by_name('x') %>", &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedErb);
        assert_eq!(e.line, Some(2));
        assert_eq!(r("<%# c %>x <%% y", &[]).unwrap(), "x <% y");
        assert!(r(&format!("<%= {}1{} %>", "(".repeat(5000), ")".repeat(5000)), &[]).is_err());
        assert!(r(&"<% if true %>".repeat(5000), &[]).is_err());
        assert!(r("<%= 'a' * 100000000000 %>", &[]).is_err());
        assert_eq!(r("  <%- if true -%>\nz\n<%- end -%>\n", &[]).unwrap(), "z\n");
    }
}
