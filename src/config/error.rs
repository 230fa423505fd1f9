//! Configuration errors: one paragraph naming the file and the key path, like Kamal's
//! `servers/web/1: multiple hosts found`.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A configuration file (base or destination overlay) does not exist.
    MissingFile,
    /// Could not read a file (permissions, not UTF-8, ...).
    Io,
    /// YAML syntax error (Psych::SyntaxError) or unknown anchor.
    Yaml,
    /// ERB evaluation failed (missing ENV.fetch key, missing command, ...).
    Erb,
    /// ERB that kdeck does not evaluate (arbitrary Ruby).
    UnsupportedErb,
    /// A key failed validation (Kamal::ConfigurationError with a key path).
    Invalid,
    /// `require_destination: true` and no destination given.
    DestinationRequired,
    /// A secret is missing or its `$(...)` failed.
    Secret,
    /// The version could not be determined (no --version, $VERSION or git).
    Version,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    pub kind: ErrorKind,
    /// The file the problem is in (relative to the app dir when possible).
    pub file: Option<PathBuf>,
    /// Kamal's key path (`servers/web/1`, `proxy`, `accessories/db`), when there is one.
    pub key: Option<String>,
    /// 1-based line for YAML/ERB errors.
    pub line: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConfigError { kind, file: None, key: None, line: None, message: message.into() }
    }
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        let key = key.into();
        ConfigError { kind: ErrorKind::Invalid, file: None, key: if key.is_empty() { None } else { Some(key) }, line: None, message: message.into() }
    }
    pub fn with_file(mut self, f: impl Into<PathBuf>) -> Self {
        if self.file.is_none() {
            self.file = Some(f.into());
        }
        self
    }
    pub fn with_line(mut self, l: usize) -> Self {
        self.line = Some(l);
        self
    }
    /// Kamal-style message: `key: message` (what Kamal prints after `ERROR (...)`).
    pub fn kamal_message(&self) -> String {
        match &self.key {
            Some(k) => format!("{k}: {}", self.message),
            None => self.message.clone(),
        }
    }
    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.file {
            s.push_str(&f.display().to_string());
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
            }
            s.push_str(": ");
        }
        s.push_str(&self.kamal_message());
        if self.message.contains("traefik") || self.message.contains("healthcheck") && self.kind == ErrorKind::Invalid && self.key.is_none() {
            s.push_str(" (this looks like a Kamal 1 configuration: Kamal 2 replaced `traefik` and the top-level `healthcheck` with `proxy`; see https://kamal-deploy.org/docs/upgrading/overview/)");
        }
        s
    }
}

pub type Result<T> = std::result::Result<T, ConfigError>;
