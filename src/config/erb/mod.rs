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

mod builtins;
mod eval;
mod format;
mod lexer;
mod parser;
mod segments;
#[cfg(test)]
mod tests;
mod tree;

use super::error::{ConfigError, ErrorKind};
use eval::Eval;
use lexer::{lex, Tok};
use segments::{segments, Seg};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tree::{split_statements, Item, TreeBuilder};

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
