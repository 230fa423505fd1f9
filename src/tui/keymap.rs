//! Keys rebound by the config file: on top of the tables in `action.rs`, an action (by its
//! palette name) gets other keys in every view or in one. A rebound action no longer answers
//! its old keys there; the status bar and `?` show the new ones.

use super::action::{bindings, Action, View};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key as the config writes it, and the events it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub label: String,
    pub events: Vec<(KeyCode, KeyModifiers)>,
}

/// `x`, `X`, `?`, `ctrl-d`, `alt-x`, `enter`, `esc`, `tab`, `shift-tab`, `space`, `backspace`,
/// `delete`, `up`, `down`, `left`, `right`, `home`, `end`, `pgup`, `pgdn`, `f1`…`f12`.
pub fn parse_key(spec: &str) -> Option<KeySpec> {
    let (mods, rest) = match spec.split_once('-') {
        Some((m, r)) if !r.is_empty() && ["ctrl", "alt"].contains(&m.to_ascii_lowercase().as_str()) => (Some(m.to_ascii_lowercase()), r),
        _ => (None, spec),
    };
    let named = |n: &str| -> Option<KeyCode> {
        Some(match n.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            f if f.len() >= 2 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok().filter(|n| (1..=12).contains(n))?),
            _ => return None,
        })
    };
    let mut chars = rest.chars();
    let one = match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => Some(c),
        _ => None,
    };
    let events = match (mods.as_deref(), one) {
        (Some("ctrl"), Some(c)) => vec![(KeyCode::Char(c.to_ascii_lowercase()), KeyModifiers::CONTROL)],
        (Some("alt"), Some(c)) => vec![(KeyCode::Char(c), KeyModifiers::ALT)],
        (Some(m), None) => {
            let code = named(rest)?;
            vec![(code, if m == "ctrl" { KeyModifiers::CONTROL } else { KeyModifiers::ALT })]
        }
        // Terminals send capitals and most punctuation with or without SHIFT.
        (None, Some(c)) if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' ' => vec![(KeyCode::Char(c), KeyModifiers::NONE)],
        (None, Some(c)) => vec![(KeyCode::Char(c), KeyModifiers::SHIFT), (KeyCode::Char(c), KeyModifiers::NONE)],
        (None, None) if rest.eq_ignore_ascii_case("shift-tab") || rest.eq_ignore_ascii_case("backtab") => {
            vec![(KeyCode::BackTab, KeyModifiers::SHIFT), (KeyCode::BackTab, KeyModifiers::NONE)]
        }
        (None, None) => vec![(named(rest)?, KeyModifiers::NONE)],
        _ => return None,
    };
    let label = match (mods, one) {
        (Some(m), _) => format!("{m}-{rest}"),
        (None, Some(' ')) => "space".into(),
        (None, Some(c)) => c.to_string(),
        (None, None) => rest.to_ascii_lowercase(),
    };
    Some(KeySpec { label, events })
}

/// One rebinding: `action` answers `keys` in `view` (None: in every view).
#[derive(Debug, Clone, PartialEq)]
pub struct Rebind {
    pub view: Option<View>,
    pub action: Action,
    pub keys: Vec<KeySpec>,
}

impl Rebind {
    fn label(&self) -> String {
        self.keys.iter().map(|k| k.label.as_str()).collect::<Vec<_>>().join("/")
    }

    fn matches(&self, key: &KeyEvent) -> bool {
        self.keys.iter().flat_map(|k| &k.events).any(|(c, m)| *c == key.code && *m == key.modifiers)
    }
}

/// A key as the status bar and `?` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub label: String,
    pub desc: String,
    pub bar: bool,
    pub help: bool,
}

/// The config file's rebindings (empty: the tables as they are).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keymap {
    pub rebinds: Vec<Rebind>,
}

impl Keymap {
    /// The rebinding of `action` in `view`: the view's own, else the one for every view.
    fn rebind(&self, view: View, action: Action) -> Option<&Rebind> {
        let of = |scope: Option<View>| self.rebinds.iter().find(|r| r.view == scope && r.action == action);
        of(Some(view)).or_else(|| of(None))
    }

    /// What `key` does in `view`: a rebinding first (the view's, then every view's), else the
    /// table's binding unless its action was rebound away.
    pub fn action_for(&self, view: View, read_only: bool, key: &KeyEvent) -> Option<Action> {
        let hidden = |a: Action| read_only && a.is_mutating();
        for scope in [Some(view), None] {
            if let Some(r) = self.rebinds.iter().find(|r| r.view == scope && r.matches(key) && self.rebind(view, r.action) == Some(r)) {
                return (!hidden(r.action)).then_some(r.action);
            }
        }
        bindings(view, read_only)
            .into_iter()
            .filter(|b| self.rebind(view, b.action).is_none())
            .find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == key.modifiers))
            .map(|b| b.action)
    }

    /// The keys of `view` as the status bar and `?` show them: the rebound ones with their
    /// new keys, then rebound actions the view's table does not have.
    pub fn shown(&self, view: View, read_only: bool) -> Vec<Shown> {
        let table = bindings(view, read_only);
        let mut out: Vec<Shown> = Vec::new();
        let mut done: Vec<Action> = Vec::new();
        // Keys a rebinding takes here: a table entry left without any is not listed.
        let taken = |c: &KeyCode, m: &KeyModifiers| {
            self.rebinds
                .iter()
                .filter(|r| r.view.is_none_or(|v| v == view) && self.rebind(view, r.action) == Some(*r))
                .any(|r| r.matches(&KeyEvent::new(*c, *m)))
        };
        for (i, b) in table.iter().enumerate() {
            if self.rebind(view, b.action).is_none() && b.keys.iter().all(|(c, m)| taken(c, m)) {
                continue;
            }
            // A pair's label (`j/k`) names its partner (the next, unlisted entry) too.
            let pair = b.label.contains('/') && table.get(i + 1).is_some_and(|n| !n.help);
            let partner_moved = pair && table.get(i + 1).is_some_and(|n| self.rebind(view, n.action).is_some());
            match self.rebind(view, b.action) {
                Some(_) if done.contains(&b.action) => {}
                Some(r) => {
                    let desc = if pair || !b.help { b.action.name().to_string() } else { b.desc.to_string() };
                    out.push(Shown { label: r.label(), desc, bar: b.bar, help: true });
                    done.push(b.action);
                }
                // The unlisted half of a pair whose listed half moved: listed on its own.
                None if !b.help && i > 0 && table[i - 1].label.contains('/') && self.rebind(view, table[i - 1].action).is_some() => {
                    out.push(Shown { label: b.label.to_string(), desc: b.action.name().to_string(), bar: false, help: true })
                }
                None if partner_moved => {
                    let first = b.label.split('/').next().unwrap_or(b.label);
                    out.push(Shown { label: first.to_string(), desc: b.action.name().to_string(), bar: b.bar, help: true })
                }
                None => out.push(Shown { label: b.label.to_string(), desc: b.desc.to_string(), bar: b.bar, help: b.help }),
            }
        }
        for r in &self.rebinds {
            let here = r.view.is_none_or(|v| v == view);
            let mine = self.rebind(view, r.action) == Some(r);
            if here && mine && !done.contains(&r.action) && !table.iter().any(|b| b.action == r.action) && !(read_only && r.action.is_mutating()) {
                out.push(Shown { label: r.label(), desc: r.action.name().to_string(), bar: false, help: true });
                done.push(r.action);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_specs_as_the_config_writes_them() {
        let ev = |s: &str| parse_key(s).map(|k| k.events);
        assert_eq!(ev("x"), Some(vec![(KeyCode::Char('x'), KeyModifiers::NONE)]));
        assert_eq!(ev("X"), Some(vec![(KeyCode::Char('X'), KeyModifiers::SHIFT), (KeyCode::Char('X'), KeyModifiers::NONE)]));
        assert_eq!(ev("ctrl-D"), Some(vec![(KeyCode::Char('d'), KeyModifiers::CONTROL)]));
        assert_eq!(ev("alt-enter"), Some(vec![(KeyCode::Enter, KeyModifiers::ALT)]));
        assert_eq!(ev("F5"), Some(vec![(KeyCode::F(5), KeyModifiers::NONE)]));
        assert_eq!(ev("-"), Some(vec![(KeyCode::Char('-'), KeyModifiers::SHIFT), (KeyCode::Char('-'), KeyModifiers::NONE)]));
        assert_eq!(parse_key("ctrl-d").unwrap().label, "ctrl-d");
        for bad in ["", "ctrl-", "hyper-x", "xy", "f13", "\u{7}"] {
            assert_eq!(parse_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_rebound_action_answers_its_new_key_only_and_is_shown_with_it() {
        let k = |s: &str| parse_key(s).unwrap();
        let map = Keymap {
            rebinds: vec![
                Rebind { view: None, action: Action::Deploy, keys: vec![k("ctrl-d")] },
                Rebind { view: Some(View::Fleet), action: Action::Down, keys: vec![k("n")] },
            ],
        };
        let key = |c: KeyCode, m: KeyModifiers| KeyEvent::new(c, m);
        assert_eq!(map.action_for(View::Logs, false, &key(KeyCode::Char('d'), KeyModifiers::CONTROL)), Some(Action::Deploy));
        assert_eq!(map.action_for(View::Logs, false, &key(KeyCode::Char('D'), KeyModifiers::SHIFT)), None, "D no longer deploys");
        assert_eq!(map.action_for(View::Logs, true, &key(KeyCode::Char('d'), KeyModifiers::CONTROL)), None, "read-only");
        assert_eq!(map.action_for(View::Fleet, false, &key(KeyCode::Char('n'), KeyModifiers::NONE)), Some(Action::Down));
        assert_eq!(map.action_for(View::Fleet, false, &key(KeyCode::Char('j'), KeyModifiers::NONE)), None);
        assert_eq!(map.action_for(View::Logs, false, &key(KeyCode::Char('j'), KeyModifiers::NONE)), Some(Action::Down), "only the fleet's");
        let shown = map.shown(View::Fleet, false);
        assert!(shown.iter().any(|s| s.label == "ctrl-d" && s.desc == "deploy" && s.bar));
        assert!(shown.iter().any(|s| s.label == "n" && s.desc == "down"));
        assert!(shown.iter().all(|s| s.label != "j/k"));
        let taken = Keymap { rebinds: vec![Rebind { view: Some(View::Fleet), action: Action::RowActions, keys: vec![k("a")] }] };
        assert!(!taken.shown(View::Fleet, false).iter().any(|s| s.help && s.desc == "audit log"), "a no longer opens the audit log there");
        assert!(taken.shown(View::Logs, false).iter().any(|s| s.help && s.desc == "audit log"));
        assert!(shown.iter().any(|s| s.label == "k" && s.desc == "up" && s.help), "the other half of the pair is listed");
    }
}
