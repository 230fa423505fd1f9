//! The expression parser: tokens of one statement into an [`Expr`] tree (precedence climbing,
//! nesting bounded).

use super::lexer::{StrPart, Tok};
use crate::config::value::Value;

#[derive(Debug, Clone)]
pub(super) enum Expr {
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

pub(super) struct P<'t> {
    pub(super) t: &'t [Tok],
    pub(super) i: usize,
    pub(super) depth: usize,
}

type PResult<T> = Result<T, String>;

/// Receiver-less methods that real configs call without parentheses (`raise "…" unless …`).
const COMMANDS: &[&str] = &["require", "puts", "raise", "fail", "format", "sprintf"];

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
    /// A whole statement: an expression with Ruby's trailing `if COND` / `unless COND`.
    pub(super) fn statement(&mut self) -> PResult<Expr> {
        let e = self.expr()?;
        let negate = if self.eat_kw("if") {
            false
        } else if self.eat_kw("unless") {
            true
        } else {
            return Ok(e);
        };
        let cond = self.expr()?;
        let nil = Expr::Lit(Value::Nil);
        let (then, else_) = if negate { (nil, e) } else { (e, nil) };
        Ok(Expr::Ternary(Box::new(cond), Box::new(then), Box::new(else_)))
    }

    /// Whether the next token can begin an argument of a parenthesis-less call (`raise "x"`).
    fn starts_argument(&self) -> bool {
        match self.peek() {
            Some(Tok::Str(_) | Tok::Cmd(_) | Tok::Int(_) | Tok::Float(_) | Tok::Const(_)) => true,
            Some(Tok::Ident(k)) => !matches!(k.as_str(), "if" | "unless" | "and" | "or" | "do" | "then"),
            _ => false,
        }
    }

    pub(super) fn expr(&mut self) -> PResult<Expr> {
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
            Tok::Float(f) => Expr::Lit(Value::Float(f)),
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
                    } else if COMMANDS.contains(&n.as_str()) && self.starts_argument() {
                        let mut args = vec![self.expr()?];
                        while self.eat_op(",") {
                            args.push(self.expr()?);
                        }
                        Expr::Call { recv: None, name: n, args, block: None }
                    } else if matches!(n.as_str(), "raise" | "fail") {
                        Expr::Call { recv: None, name: n, args: vec![], block: None }
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
