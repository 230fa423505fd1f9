//! The dashboard's own settings: `$XDG_CONFIG_HOME/kdeck/config.toml` (else
//! `~/.config/kdeck/config.toml`; `KDECK_CONFIG` names another file). Key bindings by the
//! actions' palette names, in every view (`[keys]`) or one (`[keys.fleet]`); theme colours;
//! when an ended action rings; the mouse. Read before the screen is taken over: a bad file is
//! an error naming the file and the key.
//!
//! ```toml
//! notify = "unfocused"          # unfocused | always | off
//! mouse = true
//!
//! [keys]                        # every view
//! deploy = "ctrl-d"
//!
//! [keys.fleet]                  # the fleet view only
//! row-actions = ["x", "enter"]
//! row-stop = "S"
//!
//! [theme]
//! key = "magenta"               # a colour name, "#rrggbb" or 0–255
//! hosts = ["cyan", "yellow"]
//! ```

use super::action::{Action, View};
use super::keymap::{parse_key, Keymap, Rebind};
use super::notify::Notify;
use super::theme::Palette;
use ratatui::style::Color;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::{Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{}: cannot read it: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{}: {msg}", file.display())]
    Syntax { file: PathBuf, msg: String },
    #[error("{}: {key}: {msg}", file.display())]
    Key { file: PathBuf, key: String, msg: String },
}

/// What the config file says (its defaults when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub notify: Notify,
    pub mouse: bool,
    pub palette: Palette,
    pub keymap: Keymap,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { notify: Notify::default(), mouse: true, palette: Palette::default(), keymap: Keymap::default() }
    }
}

impl Settings {
    /// Into a dashboard tab's state.
    pub fn apply(&self, app: &mut super::App) {
        app.notify = self.notify;
        app.mouse = self.mouse;
        app.palette = self.palette;
        app.keymap = self.keymap.clone();
    }
}

/// The config file's path: `KDECK_CONFIG`, else `$XDG_CONFIG_HOME/kdeck/config.toml` (an
/// absolute one), else `~/.config/kdeck/config.toml`.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KDECK_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| dirs::home_dir().map(|h| h.join(".config"))).map(|d| d.join("kdeck/config.toml"))
}

/// The settings from the config file; its defaults when there is none.
pub fn load() -> Result<Settings, SettingsError> {
    let Some(file) = path() else { return Ok(Settings::default()) };
    match std::fs::read_to_string(&file) {
        Ok(text) => parse(&file, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("KDECK_CONFIG").is_none() => Ok(Settings::default()),
        Err(source) => Err(SettingsError::Read { file, source }),
    }
}

/// The settings a config file's text says (`file` names it in errors).
pub fn parse(file: &Path, text: &str) -> Result<Settings, SettingsError> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| SettingsError::Syntax { file: file.into(), msg: e.to_string().trim().to_string() })?;
    let err = |key: &str, msg: String| SettingsError::Key { file: file.into(), key: key.into(), msg };
    let mut s = Settings::default();
    for (k, v) in &table {
        match (k.as_str(), v) {
            ("notify", Value::String(n)) => s.notify = Notify::parse(n).ok_or_else(|| err(k, format!("{n:?} is not one of {}", Notify::NAMES.join(", "))))?,
            ("mouse", Value::Boolean(b)) => s.mouse = *b,
            ("keys", Value::Table(t)) => s.keymap = keys(t, &err)?,
            ("theme", Value::Table(t)) => s.palette = theme(t, &err)?,
            ("notify", _) => return Err(err(k, format!("expected a string ({})", Notify::NAMES.join(", ")))),
            ("mouse", _) => return Err(err(k, "expected true or false".into())),
            ("keys" | "theme", _) => return Err(err(k, "expected a table".into())),
            _ => return Err(err(k, "unknown setting (notify, mouse, [keys], [theme])".into())),
        }
    }
    Ok(s)
}

type ErrFn<'a> = dyn Fn(&str, String) -> SettingsError + 'a;

/// `[keys]`: `action = "key"` or `["key", …]` for every view, `[keys.<view>]` for one.
fn keys(t: &Table, err: &ErrFn) -> Result<Keymap, SettingsError> {
    let mut map = Keymap::default();
    for (k, v) in t {
        match v {
            Value::Table(vt) => {
                let view = View::from_name(k).ok_or_else(|| err(&format!("keys.{k}"), "no such view (fleet, logs, deploy, audit, traffic)".into()))?;
                if view == View::Exec {
                    return Err(err(&format!("keys.{k}"), "the exec view's keys belong to its command editor and cannot be rebound".into()));
                }
                for (a, keys) in vt {
                    map.rebinds.push(rebind(Some(view), &format!("keys.{k}.{a}"), a, keys, err)?);
                }
            }
            other => map.rebinds.push(rebind(None, &format!("keys.{k}"), k, other, err)?),
        }
    }
    // One key, one action per scope.
    for (i, r) in map.rebinds.iter().enumerate() {
        for o in &map.rebinds[i + 1..] {
            let same = |a: &Rebind, b: &Rebind| a.keys.iter().flat_map(|k| &k.events).any(|e| b.keys.iter().flat_map(|k| &k.events).any(|f| e == f));
            if r.view == o.view && same(r, o) {
                let scope = r.view.map(|v| format!("keys.{}", v.title().to_lowercase())).unwrap_or_else(|| "keys".into());
                return Err(err(&scope, format!("one key for two actions: {} and {}", r.action.name(), o.action.name())));
            }
        }
    }
    Ok(map)
}

fn rebind(view: Option<View>, key: &str, name: &str, v: &Value, err: &ErrFn) -> Result<Rebind, SettingsError> {
    let action = Action::from_name(name).ok_or_else(|| err(key, format!("no action {name:?} (the names are the `:` palette's)")))?;
    let specs: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) if !a.is_empty() => {
            a.iter().map(|x| x.as_str().ok_or_else(|| err(key, "expected key names as strings".into()))).collect::<Result<_, _>>()?
        }
        _ => return Err(err(key, "expected a key (\"x\", \"ctrl-d\") or a list of keys".into())),
    };
    let keys = specs
        .into_iter()
        .map(|s| parse_key(s).ok_or_else(|| err(key, format!("{s:?} is not a key (a character, ctrl-x, alt-x, enter, esc, tab, space, up, pgdn, f1 …)"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rebind { view, action, keys })
}

fn color(key: &str, v: &Value, err: &ErrFn) -> Result<Color, SettingsError> {
    let bad = || err(key, format!("{v} is not a colour (a name such as cyan or light-red, \"#rrggbb\", or 0–255)"));
    match v {
        Value::String(s) => Color::from_str(s).map_err(|_| bad()),
        Value::Integer(n) => u8::try_from(*n).map(Color::Indexed).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `[theme]`: the colours of keys, ok, warnings, errors, running steps, matches, hosts.
fn theme(t: &Table, err: &ErrFn) -> Result<Palette, SettingsError> {
    let mut p = Palette::default();
    for (k, v) in t {
        let key = format!("theme.{k}");
        match k.as_str() {
            "key" => p.key = color(&key, v, err)?,
            "ok" => p.ok = color(&key, v, err)?,
            "warn" => p.warn = color(&key, v, err)?,
            "error" => p.err = color(&key, v, err)?,
            "running" => p.running = color(&key, v, err)?,
            "match" => p.matched = color(&key, v, err)?,
            "hosts" => {
                let list = v
                    .as_array()
                    .filter(|a| (1..=p.hosts.len()).contains(&a.len()))
                    .ok_or_else(|| err(&key, format!("expected a list of 1 to {} colours", p.hosts.len())))?;
                let colors = list.iter().map(|c| color(&key, c, err)).collect::<Result<Vec<_>, _>>()?;
                p.hosts_n = colors.len();
                p.hosts[..colors.len()].copy_from_slice(&colors);
            }
            _ => return Err(err(&key, "unknown colour (key, ok, warn, error, running, match, hosts)".into())),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(text: &str) -> String {
        parse(Path::new("/home/op/.config/kdeck/config.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_file_sets_keys_theme_notify_and_mouse() {
        let s = parse(
            Path::new("c.toml"),
            "notify = \"always\"\nmouse = false\n[keys]\ndeploy = \"ctrl-d\"\n[keys.fleet]\nrow-stop = [\"S\", \"F9\"]\n[theme]\nkey = \"magenta\"\nerror = \"#ff0000\"\nhosts = [\"cyan\", 208]\n",
        )
        .unwrap();
        assert_eq!((s.notify, s.mouse), (Notify::Always, false));
        assert_eq!(s.keymap.rebinds.len(), 2);
        assert_eq!(s.keymap.rebinds[1].view, Some(View::Fleet));
        assert_eq!((s.palette.key, s.palette.err, s.palette.hosts_n, s.palette.hosts[1]), (Color::Magenta, Color::Rgb(255, 0, 0), 2, Color::Indexed(208)));
        assert_eq!(parse(Path::new("c.toml"), "").unwrap(), Settings::default());
    }

    #[test]
    fn a_bad_file_names_the_file_and_the_key() {
        let f = "/home/op/.config/kdeck/config.toml";
        assert_eq!(bad("notify = \"sometimes\""), format!("{f}: notify: \"sometimes\" is not one of unfocused, always, off"));
        assert!(bad("[keys.fleet]\nrow-stopp = \"S\"").starts_with(&format!("{f}: keys.fleet.row-stopp: no action \"row-stopp\"")));
        assert!(bad("[keys]\ndeploy = \"ctrl-\"").starts_with(&format!("{f}: keys.deploy: \"ctrl-\" is not a key")));
        assert!(bad("[keys.flet]\ndeploy = \"x\"").starts_with(&format!("{f}: keys.flet: no such view")));
        assert!(bad("[keys.exec]\ndeploy = \"x\"").starts_with(&format!("{f}: keys.exec:")));
        assert_eq!(bad("[keys]\ndeploy = \"x\"\nrollback = \"x\""), format!("{f}: keys: one key for two actions: deploy and rollback"));
        assert!(bad("[theme]\nok = \"greenish\"").starts_with(&format!("{f}: theme.ok: \"greenish\" is not a colour")));
        assert!(bad("[theme]\nhosts = []").starts_with(&format!("{f}: theme.hosts: expected a list")));
        assert!(bad("colour = 1").starts_with(&format!("{f}: colour: unknown setting")));
        assert!(bad("notify = ").starts_with(&format!("{f}: TOML parse error")), "{}", bad("notify = "));
    }
}
