//! The evaluator: runs the node tree, evaluates expressions, writes the output. Method calls
//! are in [`super::builtins`].

use super::lexer::{lex, StrPart};
use super::parser::{Expr, P};
use super::tree::Node;
use super::{erb_err, unsupported_in, ErbContext, MAX_OUTPUT, MAX_STEPS};
use crate::config::backtick::run_backtick;
use crate::config::error::ConfigError;
use crate::config::value::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(super) struct Eval<'a, 'b> {
    pub(super) ctx: &'a mut ErbContext<'b>,
    pub(super) vars: BTreeMap<String, Value>,
    pub(super) out: String,
    pub(super) steps: usize,
    pub(super) depth: usize,
}

/// A Ruby exception raised while evaluating (class + message), or an unsupported construct.
pub(super) enum Raise {
    Ruby(String, String, usize),
    Config(ConfigError),
}

impl From<ConfigError> for Raise {
    fn from(e: ConfigError) -> Self {
        Raise::Config(e)
    }
}

impl Eval<'_, '_> {
    pub(super) fn run(&mut self, nodes: &[Node]) -> Result<(), ConfigError> {
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

    pub(super) fn unsup(&self, line: usize, what: &str) -> Raise {
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

    pub(super) fn eval(&mut self, e: &Expr, line: usize) -> Result<Value, Raise> {
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

    pub(super) fn env_key(&self, k: &Value, line: usize) -> Result<String, Raise> {
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
            ("%", Str(fmt), args) => Str(super::format::percent(&fmt, args).map_err(|e| self.format_err(e, line))?),
            ("+", Seq(mut a), Seq(b)) => {
                a.extend(b);
                Seq(a)
            }
            ("<", Int(a), Int(b)) => Bool(a < b),
            (">", Int(a), Int(b)) => Bool(a > b),
            ("<=", Int(a), Int(b)) => Bool(a <= b),
            (">=", Int(a), Int(b)) => Bool(a >= b),
            (op @ ("+" | "-" | "*" | "/" | "<" | ">" | "<=" | ">="), a @ (Int(_) | Float(_)), b @ (Int(_) | Float(_))) => float_op(op, num(&a), num(&b)),
            (op, a, b) => return Err(self.unsup(line, &format!("`{} {op} {}`", a.class_name(), b.class_name()))),
        })
    }

    pub(super) fn format_err(&self, e: super::format::FormatError, line: usize) -> Raise {
        match e {
            super::format::FormatError::Ruby(class, msg) => Raise::Ruby(class.into(), msg, line),
            super::format::FormatError::Unsupported(what) => self.unsup(line, &what),
        }
    }

    pub(super) fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.ctx.cwd.join(p)
        }
    }

    /// Ruby backticks: `/bin/sh -c` when the command has shell metacharacters, a direct
    /// exec otherwise (so a missing command raises Errno::ENOENT, as in Kamal).
    fn backtick(&mut self, cmd: &str, line: usize) -> Result<String, Raise> {
        run_backtick(cmd, self.ctx.env, self.ctx.cwd).map_err(|m| Raise::Ruby("Errno::ENOENT".into(), m, line))
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// Arithmetic and comparison where one side is a Float (Ruby promotes the Integer).
fn float_op(op: &str, a: f64, b: f64) -> Value {
    match op {
        "+" => Value::Float(a + b),
        "-" => Value::Float(a - b),
        "*" => Value::Float(a * b),
        "/" => Value::Float(a / b),
        "<" => Value::Bool(a < b),
        ">" => Value::Bool(a > b),
        "<=" => Value::Bool(a <= b),
        _ => Value::Bool(a >= b),
    }
}
