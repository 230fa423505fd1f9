//! The workspace file: several apps (and which of their destinations) opened in one dashboard
//! by `kdeck workspace`. It lives in `$XDG_CONFIG_HOME/kdeck/workspace.toml` (else
//! `~/.config/kdeck/workspace.toml`), or where `--file` says:
//!
//! ```toml
//! [[app]]
//! dir = "~/src/blog"                  # the app's directory (where config/deploy.yml is)
//!
//! [[app]]
//! dir = "/srv/shop"
//! name = "shop"                       # the tabs' prefix (default: the directory's name)
//! destinations = ["production"]       # default: every destination, as `kdeck` there
//! config_file = "config/deploy.yml"   # default
//! ```
//!
//! A relative `dir` is relative to the workspace file. Every app is loaded before the screen
//! opens: a bad file or app is an error naming the file and the key.

use super::context;
use super::targets::{of_app, Target};
use crate::cli::Global;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{file}: cannot read the workspace file: {source} (write one, or pass --file PATH; see README \"Workspace\")")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: app[{index}].{key}: {message}")]
    App { file: String, index: usize, key: &'static str, message: String },
    #[error("kdeck workspace takes each app's destinations from the workspace file (`destinations = [...]`); -d does not apply")]
    Destination,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceFile {
    #[serde(default)]
    app: Vec<AppEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    dir: String,
    name: Option<String>,
    destinations: Option<Vec<String>>,
    config_file: Option<PathBuf>,
}

/// `$XDG_CONFIG_HOME/kdeck/workspace.toml`, else `~/.config/kdeck/workspace.toml`.
pub fn default_path() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    config.join("kdeck/workspace.toml")
}

/// The tabs of every app in the workspace file (`file`, else [`default_path`]), in the file's
/// order, each app's destinations as `kdeck` in its directory would open them (or those the
/// entry names).
pub fn targets(g: &Global, file: Option<&Path>) -> Result<Vec<Target>, WorkspaceError> {
    if g.destination.is_some() {
        return Err(WorkspaceError::Destination);
    }
    let path = file.map(Path::to_path_buf).unwrap_or_else(default_path);
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| WorkspaceError::Read { file: shown.clone(), source })?;
    let parsed: WorkspaceFile = toml::from_str(&text).map_err(|e| WorkspaceError::Parse { file: shown.clone(), message: toml_message(&text, &e) })?;
    if parsed.app.is_empty() {
        return Err(WorkspaceError::Parse { file: shown, message: "no app: add an [[app]] table with its dir".into() });
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = Vec::new();
    for (index, entry) in parsed.app.iter().enumerate() {
        let err = |key: &'static str, message: String| WorkspaceError::App { file: shown.clone(), index, key, message };
        let dir = expand(&entry.dir, &base);
        if !dir.is_dir() {
            return Err(err("dir", format!("{} is not a directory", dir.display())));
        }
        let config_file = entry.config_file.clone().unwrap_or_else(|| PathBuf::from("config/deploy.yml"));
        if !dir.join(&config_file).is_file() {
            return Err(err(if entry.config_file.is_some() { "config_file" } else { "dir" }, format!("no {} in {}", config_file.display(), dir.display())));
        }
        let name = entry.name.clone().unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| entry.dir.clone()));
        let g = Global { config_file, ..g.clone() };
        match &entry.destinations {
            None => out.extend(of_app(&g, Some(&dir), Some(&name)).map_err(|e| err("dir", format!("{e:#}")))?),
            Some(list) if list.is_empty() => return Err(err("destinations", "empty: leave it out to open every destination".into())),
            Some(list) => {
                for d in list {
                    let g = Global { destination: Some(d.clone()), ..g.clone() };
                    context::load_app_in(&g, Some(&dir)).map_err(|e| err("destinations", format!("{d}: {e:#}")))?;
                    out.push(Target { dir: dir.clone(), global: g, label: format!("{name}/{d}") });
                }
            }
        }
    }
    Ok(out)
}

/// `~/…` and paths relative to the workspace file's directory.
fn expand(dir: &str, base: &Path) -> PathBuf {
    let p = match dir.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(dir),
    };
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// A TOML error as one line: `line N: what` (the key is in what).
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().trim().to_string();
    match e.span() {
        Some(span) => format!("line {}: {what}", text[..span.start.min(text.len())].matches('\n').count() + 1),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> Global {
        Global { config_file: "config/deploy.yml".into(), ..Default::default() }
    }

    fn app_dir(root: &Path, name: &str, dests: &[&str]) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::write(
            dir.join("config/deploy.yml"),
            format!("service: {name}\nimage: {name}\nservers:\n  - 10.0.0.1\nregistry:\n  server: localhost:5000\nbuilder:\n  arch: amd64\n"),
        )
        .unwrap();
        for d in dests {
            std::fs::write(dir.join(format!("config/deploy.{d}.yml")), "servers:\n  - 10.0.0.2\n").unwrap();
        }
        dir
    }

    fn ws(root: &Path, text: &str) -> PathBuf {
        let f = root.join("workspace.toml");
        std::fs::write(&f, text).unwrap();
        f
    }

    #[test]
    fn apps_and_destinations_of_the_workspace_file() {
        let tmp = tempfile::tempdir().unwrap();
        app_dir(tmp.path(), "blog", &[]);
        app_dir(tmp.path(), "shop", &["staging", "production"]);
        let f = ws(tmp.path(), "[[app]]\ndir = \"blog\"\n\n[[app]]\ndir = \"shop\"\nname = \"s\"\n\n[[app]]\ndir = \"shop\"\ndestinations = [\"staging\"]\n");
        let t = targets(&global(), Some(&f)).unwrap();
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, vec!["blog", "s", "s/production", "s/staging", "shop/staging"]);
        assert_eq!(t[3].global.destination.as_deref(), Some("staging"));
        assert_eq!(t[0].dir, tmp.path().join("blog"));
    }

    #[test]
    fn bad_workspace_files_name_the_file_and_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        app_dir(tmp.path(), "shop", &["staging"]);
        let err = |text: &str| targets(&global(), Some(&ws(tmp.path(), text))).unwrap_err().to_string();
        let f = tmp.path().join("workspace.toml").display().to_string();
        let e = err("[[app]]\ndirs = \"shop\"\n");
        assert!(e.starts_with(&f) && e.contains("line 2") && e.contains("unknown field `dirs`"), "{e}");
        let e = err("[[app]]\nname = \"x\"\n");
        assert!(e.contains("missing field `dir`"), "{e}");
        assert!(err("[[app]\n").contains("line 1"), "syntax");
        assert_eq!(err("# nothing\n"), format!("{f}: no app: add an [[app]] table with its dir"));
        assert_eq!(err("[[app]]\ndir = \"nowhere\"\n"), format!("{f}: app[0].dir: {} is not a directory", tmp.path().join("nowhere").display()));
        let e = err("[[app]]\ndir = \"shop\"\ndestinations = [\"prod\"]\n");
        assert!(e.starts_with(&format!("{f}: app[0].destinations: prod: ")) && e.contains("deploy.prod.yml"), "{e}");
        assert!(err("[[app]]\ndir = \"shop\"\ndestinations = []\n").contains("app[0].destinations: empty"));
        assert!(err("[[app]]\ndir = \"shop\"\nconfig_file = \"x.yml\"\n").contains("app[0].config_file: no x.yml"));
        let missing = targets(&global(), Some(&tmp.path().join("none.toml"))).unwrap_err().to_string();
        assert!(missing.contains("none.toml: cannot read the workspace file"), "{missing}");
        let with_d = Global { destination: Some("staging".into()), ..global() };
        assert!(matches!(targets(&with_d, Some(&tmp.path().join("none.toml"))), Err(WorkspaceError::Destination)));
    }

    #[test]
    fn default_path_follows_xdg_config_home() {
        // Read-only check of the rule (the variable is not changed: tests run in parallel).
        let p = default_path();
        match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
            Some(x) => assert_eq!(p, x.join("kdeck/workspace.toml")),
            None => assert!(p.ends_with(".config/kdeck/workspace.toml")),
        }
    }
}
