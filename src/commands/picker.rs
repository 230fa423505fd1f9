//! A one-question list picker on the terminal (stderr): ↑/↓ or j/k move between the choices that
//! can be taken, Enter takes one, Esc/q/Ctrl-C cancel. Raw mode is always undone, panics too.

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use crossterm::{cursor, execute, terminal};
use std::io::Write;

struct Raw;

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

/// The index chosen among `rows` (only those with `ok[i]`), or `None` when cancelled or when
/// none can be chosen.
pub fn choose(title: &str, rows: &[String], ok: &[bool]) -> std::io::Result<Option<usize>> {
    let Some(mut at) = ok.iter().position(|o| *o) else { return Ok(None) };
    let mut err = std::io::stderr();
    writeln!(err, "{title}")?;
    let _raw = {
        terminal::enable_raw_mode()?;
        Raw
    };
    let draw = |err: &mut std::io::Stderr, at: usize| -> std::io::Result<()> {
        for (i, r) in rows.iter().enumerate() {
            let mark = if i == at { "▶" } else { " " };
            let dim = if ok[i] { "" } else { "\x1b[2m" };
            write!(err, "\r{mark} {dim}{r}\x1b[0m\x1b[K\r\n")?;
        }
        write!(err, "\r\x1b[2m↑/↓ move · Enter roll back · Esc cancel\x1b[0m\x1b[K")?;
        err.flush()
    };
    draw(&mut err, at)?;
    let step = |at: usize, down: bool| -> usize {
        let n = rows.len();
        let mut i = at;
        for _ in 0..n {
            i = if down { (i + 1) % n } else { (i + n - 1) % n };
            if ok[i] {
                return i;
            }
        }
        at
    };
    let picked = loop {
        let Event::Key(KeyEvent { code, modifiers, .. }) = event::read()? else { continue };
        match code {
            KeyCode::Down | KeyCode::Char('j') => at = step(at, true),
            KeyCode::Up | KeyCode::Char('k') => at = step(at, false),
            KeyCode::Enter => break Some(at),
            KeyCode::Esc | KeyCode::Char('q') => break None,
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => break None,
            _ => continue,
        }
        execute!(err, cursor::MoveToPreviousLine(rows.len() as u16))?;
        draw(&mut err, at)?;
    };
    write!(err, "\r\n")?;
    Ok(picked)
}
