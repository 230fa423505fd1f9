//! The subset of OpenSSH's `~/.ssh/config` that decides how to reach a host: HostName, User,
//! Port, IdentityFile, IdentitiesOnly, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking,
//! ConnectTimeout, ServerAliveInterval/CountMax, with `Host` patterns and `Include`.
//! First value wins (IdentityFile accumulates), as in ssh_config(5). `Match` blocks are
//! skipped (treated as not matching); that is a documented gap.

use super::known_hosts::wildcard_match;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
struct Block {
    /// None = before the first Host line (applies to all hosts); Some(patterns) otherwise.
    patterns: Option<Vec<String>>,
    /// `Match` block: never applied.
    skip: bool,
    options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

/// Settings for one host, after applying every matching block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedHost {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: Option<bool>,
    pub proxy_jump: Option<String>,
    /// `ProxyCommand` as written (`none` → not set).
    pub proxy_command: Option<String>,
    pub user_known_hosts_file: Option<PathBuf>,
    /// `accept-new` / `no` / `yes` / `ask` as written.
    pub strict_host_key_checking: Option<String>,
    pub connect_timeout: Option<u64>,
    pub server_alive_interval: Option<u64>,
    pub server_alive_count_max: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct SshConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

fn home() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("/root"))
}

pub fn default_path() -> PathBuf {
    home().join(".ssh/config")
}

fn expand_tilde(s: &str) -> PathBuf {
    if s == "~" {
        home()
    } else if let Some(rest) = s.strip_prefix("~/") {
        home().join(rest)
    } else {
        PathBuf::from(s)
    }
}

/// Splits `Key value`, `Key=value`, `Key = "quoted value"`.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let key_end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let key = line[..key_end].to_ascii_lowercase();
    let mut rest = line[key_end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut has = false;
    for c in rest.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                has = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if has {
                    args.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        args.push(cur);
    }
    Some((key, args))
}

impl SshConfig {
    /// Loads `path` (missing file = empty config) following `Include`.
    pub fn load(path: &Path) -> Result<Self, SshConfigError> {
        let mut cfg = SshConfig::default();
        cfg.blocks.push(Block::default());
        cfg.read_file(path, 0, true)?;
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Self, SshConfigError> {
        let mut cfg = SshConfig::default();
        cfg.blocks.push(Block::default());
        cfg.read_text(text, Path::new("<ssh config>"), 0)?;
        Ok(cfg)
    }

    fn read_file(&mut self, path: &Path, depth: usize, missing_ok: bool) -> Result<(), SshConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if missing_ok || e.kind() == std::io::ErrorKind::NotFound => {
                if e.kind() == std::io::ErrorKind::NotFound {
                    return Ok(());
                }
                return Err(SshConfigError { path: path.into(), line: 0, message: e.to_string() });
            }
            Err(e) => return Err(SshConfigError { path: path.into(), line: 0, message: e.to_string() }),
        };
        self.read_text(&text, path, depth)
    }

    fn read_text(&mut self, text: &str, path: &Path, depth: usize) -> Result<(), SshConfigError> {
        let err = |line: usize, message: String| SshConfigError { path: path.into(), line, message };
        for (i, raw) in text.lines().enumerate() {
            let Some((key, args)) = split_line(raw) else { continue };
            match key.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(err(i + 1, "Host needs at least one pattern".into()));
                    }
                    self.blocks.push(Block { patterns: Some(args), skip: false, options: vec![] });
                }
                "match" => {
                    self.blocks.push(Block { patterns: Some(vec![]), skip: true, options: vec![] });
                }
                "include" => {
                    if depth > 16 {
                        return Err(err(i + 1, "Include nested too deeply".into()));
                    }
                    // Includes are read in place; their Host blocks are theirs, and what follows
                    // continues in the current block (OpenSSH keeps the enclosing Host context).
                    let current = self.blocks.last().cloned().unwrap_or_default();
                    for pat in &args {
                        let p = expand_tilde(pat);
                        let p = if p.is_relative() { home().join(".ssh").join(p) } else { p };
                        for file in glob_files(&p) {
                            self.blocks.push(Block { options: vec![], ..current.clone() });
                            self.read_file(&file, depth + 1, false)?;
                        }
                    }
                    self.blocks.push(Block { options: vec![], ..current });
                }
                _ => {
                    let value = args.join(" ");
                    if let Some(b) = self.blocks.last_mut() {
                        b.options.push((key, value));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn resolve(&self, host: &str) -> ResolvedHost {
        let mut r = ResolvedHost::default();
        let host_lc = host.to_ascii_lowercase();
        for b in &self.blocks {
            if b.skip {
                continue;
            }
            if let Some(pats) = &b.patterns {
                if !host_matches(pats, &host_lc) {
                    continue;
                }
            }
            for (k, v) in &b.options {
                let v = v.as_str();
                match k.as_str() {
                    "hostname" if r.hostname.is_none() => r.hostname = Some(v.replace("%h", host)),
                    "user" if r.user.is_none() => r.user = Some(v.to_string()),
                    "port" if r.port.is_none() => r.port = v.parse().ok(),
                    "identityfile" => {
                        let p = expand_tilde(&v.replace("%h", host));
                        if !r.identity_files.contains(&p) {
                            r.identity_files.push(p)
                        }
                    }
                    "identitiesonly" if r.identities_only.is_none() => r.identities_only = Some(v.eq_ignore_ascii_case("yes")),
                    "proxyjump" if r.proxy_jump.is_none() => {
                        r.proxy_jump = if v.eq_ignore_ascii_case("none") { Some(String::new()) } else { Some(v.to_string()) }
                    }
                    "proxycommand" if r.proxy_command.is_none() => r.proxy_command = Some(v.to_string()),
                    "userknownhostsfile" if r.user_known_hosts_file.is_none() => r.user_known_hosts_file = v.split_whitespace().next().map(expand_tilde),
                    "stricthostkeychecking" if r.strict_host_key_checking.is_none() => r.strict_host_key_checking = Some(v.to_ascii_lowercase()),
                    "connecttimeout" if r.connect_timeout.is_none() => r.connect_timeout = v.parse().ok(),
                    "serveraliveinterval" if r.server_alive_interval.is_none() => r.server_alive_interval = v.parse().ok(),
                    "serveralivecountmax" if r.server_alive_count_max.is_none() => r.server_alive_count_max = v.parse().ok(),
                    _ => {}
                }
            }
        }
        if r.proxy_jump.as_deref() == Some("") {
            r.proxy_jump = None;
        }
        if r.proxy_command.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("none")) {
            r.proxy_command = None;
        }
        r
    }
}

fn host_matches(patterns: &[String], host_lc: &str) -> bool {
    let mut positive = false;
    for p in patterns {
        let p = p.to_ascii_lowercase();
        if let Some(n) = p.strip_prefix('!') {
            if wildcard_match(n, host_lc) {
                return false;
            }
        } else if wildcard_match(&p, host_lc) {
            positive = true;
        }
    }
    positive
}

/// `Include` accepts wildcards in the file name part (`config.d/*`).
fn glob_files(p: &Path) -> Vec<PathBuf> {
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if !name.contains('*') && !name.contains('?') {
        return vec![p.to_path_buf()];
    }
    let dir = p.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy())).map(|e| e.path()).filter(|p| p.is_file()).collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `[user@]host[:port]` as used by ProxyJump and Kamal's `ssh.proxy`.
pub fn parse_jump(s: &str) -> (Option<String>, String, Option<u16>) {
    let s = s.trim().trim_start_matches("ssh://");
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, s),
    };
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((h, tail)) = inner.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (user, h.to_string(), port);
        }
    }
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (user, h.to_string(), Some(port)),
            Err(_) => (user, rest.to_string(), None),
        },
        _ => (user, rest.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let cfg = SshConfig::parse(
            "User global\n\
             Host web*\n  HostName 10.0.0.%h\n  Port 2222\n  IdentityFile ~/.ssh/web\n  IdentitiesOnly yes\n\
             Host *\n  User fallback\n  Port 22\n  IdentityFile /k/all\n  ProxyJump bastion@jump:2200\n",
        )
        .unwrap();
        let r = cfg.resolve("web1");
        assert_eq!(r.user.as_deref(), Some("global"));
        assert_eq!(r.port, Some(2222));
        assert_eq!(r.hostname.as_deref(), Some("10.0.0.web1"));
        assert_eq!(r.identity_files, vec![home().join(".ssh/web"), PathBuf::from("/k/all")]);
        assert_eq!(r.identities_only, Some(true));
        assert_eq!(r.proxy_jump.as_deref(), Some("bastion@jump:2200"));
        let db = cfg.resolve("db");
        assert_eq!(db.port, Some(22));
        assert_eq!(db.hostname, None);
    }

    #[test]
    fn equals_quotes_negation_match_and_none() {
        let cfg =
            SshConfig::parse("Host=a !b* \"c d\"\n  User=alice\nMatch exec true\n  User matched\nHost b1\n  ProxyJump none\nHost *\n  ProxyJump j\n").unwrap();
        assert_eq!(cfg.resolve("a").user.as_deref(), Some("alice"));
        assert_eq!(cfg.resolve("c d").user.as_deref(), Some("alice"));
        assert_eq!(cfg.resolve("b1").user, None);
        assert_eq!(cfg.resolve("b1").proxy_jump, None);
        assert_eq!(cfg.resolve("zzz").proxy_jump.as_deref(), Some("j"));
    }

    #[test]
    fn include_with_glob_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(d.join("conf.d/10-web"), "Host web\n  User webuser\n").unwrap();
        std::fs::write(d.join("conf.d/20-db"), "Host db\n  Port 5522\n").unwrap();
        std::fs::write(d.join("config"), format!("Include {}/conf.d/*\nHost *\n  User dflt\n  StrictHostKeyChecking accept-new\n", d.display())).unwrap();
        let cfg = SshConfig::load(&d.join("config")).unwrap();
        assert_eq!(cfg.resolve("web").user.as_deref(), Some("webuser"));
        assert_eq!(cfg.resolve("db").user.as_deref(), Some("dflt"));
        assert_eq!(cfg.resolve("db").port, Some(5522));
        assert_eq!(cfg.resolve("x").strict_host_key_checking.as_deref(), Some("accept-new"));
        // A missing top-level file is an empty config.
        assert_eq!(SshConfig::load(&d.join("nope")).unwrap().resolve("web"), ResolvedHost::default());
    }

    #[test]
    fn jump_strings() {
        assert_eq!(parse_jump("root@10.0.0.1:2222"), (Some("root".into()), "10.0.0.1".into(), Some(2222)));
        assert_eq!(parse_jump("bastion"), (None, "bastion".into(), None));
        assert_eq!(parse_jump("u@[::1]:22"), (Some("u".into()), "::1".into(), Some(22)));
    }
}
