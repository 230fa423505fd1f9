//! A bell and a desktop notification when an action ends (a deploy, a rollback, a row action
//! …): BEL, then OSC 777 (`notify;title;body`: foot, Ghostty, rxvt, WezTerm) and OSC 9 (iTerm2,
//! WezTerm, Windows Terminal…); a terminal that knows neither ignores them. Inside tmux they are
//! wrapped for its passthrough (`set -g allow-passthrough on`).

/// When to ring (the config file's `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// Unless the terminal says it has the focus (terminals that do not report focus always
    /// ring).
    #[default]
    Unfocused,
    /// After every action.
    Always,
    Off,
}

impl Notify {
    pub const NAMES: [&'static str; 3] = ["unfocused", "always", "off"];

    pub fn parse(s: &str) -> Option<Notify> {
        match s {
            "unfocused" => Some(Notify::Unfocused),
            "always" => Some(Notify::Always),
            "off" => Some(Notify::Off),
            _ => None,
        }
    }

    /// Ring now? `focused`: what the terminal last reported (None: it never said).
    pub fn rings(self, focused: Option<bool>) -> bool {
        match self {
            Notify::Off => false,
            Notify::Always => true,
            Notify::Unfocused => focused != Some(true),
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub title: String,
    pub body: String,
}

/// Printable text only: no control characters (they would end the sequence) and, in a field
/// of OSC 777, no `;` (its separator).
fn clean(s: &str, field: bool) -> String {
    s.chars().filter(|c| !c.is_control()).map(|c| if field && c == ';' { ',' } else { c }).take(200).collect()
}

/// The bytes to write: BEL, OSC 777 and OSC 9, each wrapped for tmux when `tmux`.
pub fn bytes(a: &Alert, tmux: bool) -> Vec<u8> {
    let (title, body) = (clean(&a.title, true), clean(&a.body, true));
    let oscs = [format!("\x1b]777;notify;{title};{body}\x07"), format!("\x1b]9;{}: {}\x07", clean(&a.title, false), clean(&a.body, false))];
    let mut out = vec![0x07];
    for o in oscs {
        if tmux {
            // tmux passthrough: the sequence inside `ESC P tmux; … ESC \`, its ESCs doubled.
            out.extend_from_slice(format!("\x1bPtmux;{}\x1b\\", o.replace('\x1b', "\x1b\x1b")).as_bytes());
        } else {
            out.extend_from_slice(o.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bell_then_osc_777_and_9_with_fields_cleaned_and_tmux_wrapped() {
        let a = Alert { title: "kdeck: deploy done".into(), body: "Deployed v2; 3 hosts\x1b[31m".into() };
        let b = String::from_utf8(bytes(&a, false)).unwrap();
        assert_eq!(b, "\x07\x1b]777;notify;kdeck: deploy done;Deployed v2, 3 hosts[31m\x07\x1b]9;kdeck: deploy done: Deployed v2; 3 hosts[31m\x07");
        let t = String::from_utf8(bytes(&a, true)).unwrap();
        assert!(t.starts_with("\x07\x1bPtmux;\x1b\x1b]777;notify;") && t.ends_with("\x07\x1b\\"), "{t:?}");
        assert!(Notify::Unfocused.rings(None) && Notify::Unfocused.rings(Some(false)) && !Notify::Unfocused.rings(Some(true)));
        assert!(Notify::Always.rings(Some(true)) && !Notify::Off.rings(None));
    }
}
