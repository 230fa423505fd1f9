//! Styles readable on dark and light terminals: only the 16 ANSI colours the terminal's own
//! palette defines (never a fixed white or black foreground), and with `NO_COLOR` modifiers
//! alone (bold, reversed, underline) carry the meaning. Symbols always repeat what colour says.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    pub palette: Palette,
}

/// The colours the styles use (the config file's `[theme]` changes them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    pub key: Color,
    pub ok: Color,
    pub warn: Color,
    pub err: Color,
    pub running: Color,
    pub matched: Color,
    /// Host colours (the first `hosts_n`): distinguishable on dark and light backgrounds; red
    /// is kept for errors.
    pub hosts: [Color; 6],
    pub hosts_n: usize,
}

impl Default for Palette {
    fn default() -> Self {
        Palette {
            key: Color::Cyan,
            ok: Color::Green,
            warn: Color::Yellow,
            err: Color::Red,
            running: Color::Blue,
            matched: Color::Yellow,
            hosts: [Color::Cyan, Color::Magenta, Color::Blue, Color::Green, Color::Yellow, Color::LightMagenta],
            hosts_n: 6,
        }
    }
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Theme { color, palette: Palette::default() }
    }

    pub fn with(color: bool, palette: Palette) -> Self {
        Theme { color, palette }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }
    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }
    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn key(&self) -> Style {
        self.fg(self.palette.key).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(self.palette.ok)
    }
    pub fn warn(&self) -> Style {
        self.fg(self.palette.warn).add_modifier(Modifier::BOLD)
    }
    pub fn err(&self) -> Style {
        let s = self.fg(self.palette.err).add_modifier(Modifier::BOLD);
        if self.color {
            s
        } else {
            s.add_modifier(Modifier::UNDERLINED)
        }
    }
    pub fn running(&self) -> Style {
        self.fg(self.palette.running).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn matched(&self) -> Style {
        if self.color {
            Style::default().fg(self.palette.matched).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    pub fn tab_active(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// A stable colour per host name (FNV-1a of the name).
    pub fn host(&self, name: &str) -> Style {
        let mut h: u32 = 0x811c9dc5;
        for b in name.bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x01000193);
        }
        let n = self.palette.hosts_n.clamp(1, self.palette.hosts.len());
        self.fg(self.palette.hosts[(h as usize) % n])
    }
}
