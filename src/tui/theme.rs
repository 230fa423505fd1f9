//! Styles readable on dark and light terminals: only the 16 ANSI colours the terminal's own
//! palette defines (never a fixed white or black foreground), and with `NO_COLOR` modifiers
//! alone (bold, reversed, underline) carry the meaning. Symbols always repeat what colour says.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

/// Host colours: distinguishable on dark and light backgrounds; red is kept for errors.
const HOST_COLORS: [Color; 6] = [Color::Cyan, Color::Magenta, Color::Blue, Color::Green, Color::Yellow, Color::LightMagenta];

impl Theme {
    pub fn new(color: bool) -> Self {
        Theme { color }
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
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn err(&self) -> Style {
        let s = self.fg(Color::Red).add_modifier(Modifier::BOLD);
        if self.color {
            s
        } else {
            s.add_modifier(Modifier::UNDERLINED)
        }
    }
    pub fn running(&self) -> Style {
        self.fg(Color::Blue).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn matched(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD)
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
        self.fg(HOST_COLORS[(h as usize) % HOST_COLORS.len()])
    }
}
