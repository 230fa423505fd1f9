//! Statements: the template's items (text, `<%= %>` output, `<% %>` statements) into a tree of
//! [`Node`]s — `if/elsif/else/unless`, `each do |x|`, `begin/rescue` blocks closed by `end`.

use super::lexer::{render_toks, Tok};
use super::parser::{Expr, P};
use super::unsupported_in;
use crate::config::error::ConfigError;
use std::path::PathBuf;

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Out(Expr, usize),
    Stmt(Expr, usize),
    If { branches: Vec<(Expr, bool, Vec<Node>)>, else_: Vec<Node> },
    Each { list: Expr, var: String, body: Vec<Node>, line: usize },
    Begin { body: Vec<Node>, rescue: Vec<Node> },
}

#[derive(Debug)]
pub(super) enum Item {
    Text(String),
    Out(Vec<Tok>, usize),
    Stmt(Vec<Tok>, usize),
}

/// One `<% %>` tag's tokens split into statements at newlines and `;` outside brackets.
pub(super) fn split_statements(toks: Vec<Tok>) -> Vec<Vec<Tok>> {
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

pub(super) struct TreeBuilder {
    pub(super) items: Vec<Item>,
    pub(super) i: usize,
    pub(super) file: PathBuf,
    pub(super) depth: usize,
}

impl TreeBuilder {
    fn parse_expr(&self, toks: &[Tok], line: usize) -> Result<Expr, ConfigError> {
        let mut p = P { t: toks, i: 0, depth: 0 };
        let e = p.statement().map_err(|m| unsupported_in(&self.file, line, &m))?;
        if p.i != toks.len() {
            return Err(unsupported_in(&self.file, line, &format!("could not read `{}`", render_toks(toks))));
        }
        Ok(e)
    }

    /// Parse nodes until one of `stops` (a keyword statement) is found; returns it.
    pub(super) fn nodes(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Stop), ConfigError> {
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
                    out.push(match kw.as_str() {
                        "if" | "unless" => self.if_node(&kw, &t, line)?,
                        "begin" => self.begin_node(line)?,
                        _ => self.statement(&kw, &t, line)?,
                    });
                }
            }
        }
        Ok((out, None))
    }

    /// `if`/`unless` … `elsif` … `else` … `end`, the `if` statement's tokens being `t`.
    fn if_node(&mut self, kw: &str, t: &[Tok], line: usize) -> Result<Node, ConfigError> {
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
        Ok(Node::If { branches, else_ })
    }

    /// `begin` … `rescue` … `end`.
    fn begin_node(&mut self, line: usize) -> Result<Node, ConfigError> {
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
        Ok(Node::Begin { body, rescue })
    }

    /// Any other statement: `expr.each do |v|` opens a block; stray or unsupported keywords fail;
    /// the rest is an expression evaluated for its effect.
    fn statement(&mut self, kw: &str, t: &[Tok], line: usize) -> Result<Node, ConfigError> {
        let n = t.len();
        if n >= 5 && matches!(&t[n - 4], Tok::Ident(d) if d == "do") && t[n - 3] == Tok::Op("|".into()) && t[n - 1] == Tok::Op("|".into()) {
            self.each_node(t, line)
        } else if matches!(kw, "end" | "else" | "elsif" | "rescue") {
            Err(unsupported_in(&self.file, line, &format!("unexpected `{kw}`")))
        } else if matches!(kw, "def" | "class" | "module" | "while" | "until" | "for" | "case") {
            Err(unsupported_in(&self.file, line, &format!("`{kw}`")))
        } else {
            let e = self.parse_expr(t, line)?;
            Ok(Node::Stmt(e, line))
        }
    }

    /// `list.each do |var|` … `end` (`t` ends in `do | var |`).
    fn each_node(&mut self, t: &[Tok], line: usize) -> Result<Node, ConfigError> {
        let n = t.len();
        let var = match &t[n - 2] {
            Tok::Ident(v) => v.clone(),
            _ => return Err(unsupported_in(&self.file, line, "block parameter")),
        };
        let head = &t[..n - 4];
        let (list, method) = match head {
            [rest @ .., Tok::Op(dot), Tok::Ident(m)] if dot == "." => (rest, m.as_str()),
            _ => return Err(unsupported_in(&self.file, line, &render_toks(t))),
        };
        if method != "each" {
            return Err(unsupported_in(&self.file, line, &format!("`.{method} do` blocks")));
        }
        let list = self.parse_expr(list, line)?;
        let (body, stop) = self.nodes(&["end"])?;
        if stop.is_none() {
            return Err(unsupported_in(&self.file, line, "`do` without `end`"));
        }
        Ok(Node::Each { list, var, body, line })
    }
}
