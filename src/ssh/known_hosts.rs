//! known_hosts: OpenSSH's file format, read ourselves because russh's helper ignores markers,
//! wildcards and negation, and we need to tell "unknown" from "changed" with the line number.

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::PublicKey;
use sha1::Sha1;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// What a known_hosts file says about a host's presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A recorded key for this host equals the presented key.
    Known,
    /// No entry names this host.
    Unknown,
    /// The host is recorded with other key(s). `same_type` is true when one of them has the
    /// presented key's algorithm (a real change, or an attack).
    Changed { line: usize, same_type: bool },
    /// The key is listed under `@revoked`.
    Revoked { line: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Marker {
    None,
    CertAuthority,
    Revoked,
}

#[derive(Debug, Clone)]
enum Pattern {
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    Plain { pattern: String, negated: bool },
}

#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    marker: Marker,
    patterns: Vec<Pattern>,
    key: PublicKey,
}

/// A parsed known_hosts file. Lines that do not parse are skipped, like OpenSSH does.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

/// The name OpenSSH records: `host` on port 22, `[host]:port` otherwise.
pub fn host_token(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

impl KnownHosts {
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let marker = match first {
                "@cert-authority" => Marker::CertAuthority,
                "@revoked" => Marker::Revoked,
                m if m.starts_with('@') => continue,
                _ => Marker::None,
            };
            if marker != Marker::None {
                first = match fields.next() {
                    Some(f) => f,
                    None => continue,
                };
            }
            let (Some(_alg), Some(blob)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(key) = russh::keys::parse_public_key_base64(blob) else {
                continue;
            };
            let patterns = first.split(',').filter_map(parse_pattern).collect();
            entries.push(Entry { line: i + 1, marker, patterns, key });
        }
        KnownHosts { entries }
    }

    /// Reads the file; a missing file is an empty list (every host unknown).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Self::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let token = host_token(host, port);
        let matching: Vec<&Entry> = self.entries.iter().filter(|e| e.marker != Marker::CertAuthority && entry_matches(e, &token)).collect();
        if let Some(r) = matching.iter().find(|e| e.marker == Marker::Revoked && e.key.key_data() == key.key_data()) {
            return HostKeyStatus::Revoked { line: r.line };
        }
        let plain: Vec<&&Entry> = matching.iter().filter(|e| e.marker == Marker::None).collect();
        if plain.iter().any(|e| e.key.key_data() == key.key_data()) {
            return HostKeyStatus::Known;
        }
        if let Some(same) = plain.iter().find(|e| e.key.algorithm() == key.algorithm()) {
            return HostKeyStatus::Changed { line: same.line, same_type: true };
        }
        if let Some(other) = plain.first() {
            return HostKeyStatus::Changed { line: other.line, same_type: false };
        }
        HostKeyStatus::Unknown
    }
}

/// The line to append for `host` (plain, not hashed, so a human can read what was added).
pub fn entry_line(host: &str, port: u16, key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    let openssh = k.to_openssh().unwrap_or_default();
    format!("{} {}", host_token(host, port), openssh.trim())
}

/// Appends `host`'s key (accept-new policy), creating the file and its directory if needed.
pub fn learn(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let needs_newline = std::fs::read(path).map(|b| !b.is_empty() && !b.ends_with(b"\n")).unwrap_or(false);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if needs_newline {
        writeln!(f)?;
    }
    writeln!(f, "{}", entry_line(host, port, key))
}

/// The shell command that records a host's key, shown when a host is refused as unknown.
pub fn keyscan_hint(host: &str, port: u16, path: &Path) -> String {
    let port_arg = if port == 22 { String::new() } else { format!("-p {port} ") };
    format!("ssh-keyscan -H {port_arg}{host} >> {}", display_path(path))
}

fn display_path(path: &Path) -> String {
    if let Some(home) = dirs::home_dir() {
        if let Ok(rest) = path.strip_prefix(&home) {
            return format!("~/{}", rest.display());
        }
    }
    path.display().to_string()
}

pub fn default_path() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("/root")).join(".ssh/known_hosts")
}

fn parse_pattern(p: &str) -> Option<Pattern> {
    if let Some(rest) = p.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|')?;
        let b64 = base64::engine::general_purpose::STANDARD;
        return Some(Pattern::Hashed { salt: b64.decode(salt).ok()?, hash: b64.decode(hash).ok()? });
    }
    if p.is_empty() {
        return None;
    }
    match p.strip_prefix('!') {
        Some(n) => Some(Pattern::Plain { pattern: n.to_ascii_lowercase(), negated: true }),
        None => Some(Pattern::Plain { pattern: p.to_ascii_lowercase(), negated: false }),
    }
}

fn entry_matches(e: &Entry, token: &str) -> bool {
    let token_lc = token.to_ascii_lowercase();
    let mut positive = false;
    for p in &e.patterns {
        match p {
            Pattern::Hashed { salt, hash } => {
                if let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) {
                    if mac.chain_update(token.as_bytes()).verify_slice(hash).is_ok() {
                        positive = true;
                    }
                }
            }
            Pattern::Plain { pattern, negated } => {
                if wildcard_match(pattern, &token_lc) {
                    if *negated {
                        return false;
                    }
                    positive = true;
                }
            }
        }
    }
    positive
}

/// OpenSSH pattern: `*` any run, `?` one character.
pub fn wildcard_match(pattern: &str, s: &str) -> bool {
    crate::pattern::wildcard(pattern, s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED1: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G1sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn key(b: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b).unwrap()
    }

    fn hashed(token: &str, salt: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).unwrap().chain_update(token.as_bytes());
        format!("|1|{}|{}", b64.encode(salt), b64.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn plain_entry_known_unknown_changed() {
        let kh = KnownHosts::parse(&format!("# comment\n\nweb1,10.0.0.1 ssh-ed25519 {ED1}\n"));
        assert_eq!(kh.check("web1", 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check("10.0.0.1", 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check("web2", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(kh.check("web1", 22, &key(ED2)), HostKeyStatus::Changed { line: 3, same_type: true });
        // Another port is another host for OpenSSH.
        assert_eq!(kh.check("web1", 2222, &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn port_brackets_and_wildcards_and_negation() {
        let kh = KnownHosts::parse(&format!("[web1]:2222 ssh-ed25519 {ED1}\n*.example.com,!bad.example.com ssh-ed25519 {ED2}\n"));
        assert_eq!(kh.check("web1", 2222, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check("a.example.com", 22, &key(ED2)), HostKeyStatus::Known);
        assert_eq!(kh.check("bad.example.com", 22, &key(ED2)), HostKeyStatus::Unknown);
        assert_eq!(kh.check("A.EXAMPLE.COM", 22, &key(ED2)), HostKeyStatus::Known);
    }

    #[test]
    fn hashed_entries() {
        let text = format!(
            "{} ssh-ed25519 {ED1}\n{} ssh-ed25519 {ED2}\n",
            hashed("10.77.2.11", b"0123456789abcdefghij"),
            hashed("[10.77.2.12]:2222", b"jihgfedcba9876543210")
        );
        let kh = KnownHosts::parse(&text);
        assert_eq!(kh.check("10.77.2.11", 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check("10.77.2.12", 2222, &key(ED2)), HostKeyStatus::Known);
        assert_eq!(kh.check("10.77.2.12", 22, &key(ED2)), HostKeyStatus::Unknown);
        assert_eq!(kh.check("10.77.2.11", 22, &key(ED2)), HostKeyStatus::Changed { line: 1, same_type: true });
    }

    #[test]
    fn markers_and_garbage() {
        let text = format!(
            "@cert-authority *.corp ssh-ed25519 {ED1}\n@revoked web9 ssh-ed25519 {ED2}\nweb9 ssh-ed25519 {ED2}\nnot a key line\nweb8 ssh-ed25519 !!notbase64\n"
        );
        let kh = KnownHosts::parse(&text);
        // A CA line does not make a host's own key known.
        assert_eq!(kh.check("x.corp", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(kh.check("web9", 22, &key(ED2)), HostKeyStatus::Revoked { line: 2 });
        assert_eq!(kh.check("web8", 22, &key(ED2)), HostKeyStatus::Unknown);
    }

    #[test]
    fn learn_appends_a_line_that_checks_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        learn(&path, "10.77.2.11", 22, &key(ED1)).unwrap();
        learn(&path, "10.77.2.12", 2222, &key(ED2)).unwrap();
        let kh = KnownHosts::load(&path).unwrap();
        assert_eq!(kh.check("10.77.2.11", 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check("10.77.2.12", 2222, &key(ED2)), HostKeyStatus::Known);
        assert!(std::fs::read_to_string(&path).unwrap().contains("[10.77.2.12]:2222 ssh-ed25519 "));
    }

    #[test]
    fn hint_names_the_command() {
        assert_eq!(keyscan_hint("10.0.0.5", 2222, Path::new("/tmp/kh")), "ssh-keyscan -H -p 2222 10.0.0.5 >> /tmp/kh");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("web?", "web1"));
        assert!(!wildcard_match("web?", "web12"));
        assert!(wildcard_match("10.77.*.11", "10.77.2.11"));
        assert!(!wildcard_match("a*b", "acbd"));
    }
}
