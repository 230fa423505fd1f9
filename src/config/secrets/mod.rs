//! `.kamal/secrets*` read as Kamal 2.11 reads them: `<path>-common` then `<path>` (no
//! destination) or `<path>.<dest>`, each file parsed on its own by dotenv 3.2 ([`dotenv`]) with
//! `overwrite: true`, later files win. Resolution is lazy and cached.
//!
//! `kamal secrets fetch` and its ten password-manager adapters ([`adapters`], run through the
//! vendors' CLIs by [`vendor`]) and `kamal secrets extract` ([`kamal_cli`]) serve both
//! `kdeck secrets …` and `$(kamal secrets …)` inside the files ([`inline`]).

mod adapters;
mod dotenv;
mod inline;
mod json;
mod kamal_cli;
mod ruby;
mod vendor;

pub use adapters::{Adapter, FetchRequest};
pub use dotenv::parse_dotenv;
pub use json::Json;
pub use kamal_cli::{extract, fetch_json, inline_json, ACCOUNT_REQUIRED};
pub use ruby::ruby_shellescape;
pub use vendor::{SecretsError, VendorEnv};

use super::error::{ConfigError, ErrorKind};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The app's secrets. Cheap to clone; values are read (and `$(…)` run) on first use.
#[derive(Clone)]
pub struct Secrets {
    inner: Arc<Inner>,
}

struct Inner {
    /// Candidate files in read order (`-common` first); only existing ones are read.
    candidates: Vec<PathBuf>,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    values: OnceLock<Result<IndexMap<String, String>, ConfigError>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values.
        f.debug_struct("Secrets").field("files", &self.inner.candidates).finish()
    }
}

impl Secrets {
    pub fn new(secrets_path: &str, destination: Option<&str>, cwd: &Path, env: BTreeMap<String, String>) -> Self {
        let base = secrets_path.to_string();
        let candidates = vec![
            PathBuf::from(format!("{base}-common")),
            PathBuf::from(match destination {
                Some(d) => format!("{base}.{d}"),
                None => base.clone(),
            }),
        ];
        Secrets { inner: Arc::new(Inner { candidates, cwd: cwd.to_path_buf(), env, values: OnceLock::new() }) }
    }

    fn abs(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.inner.cwd.join(p)
        }
    }

    /// The secrets files that exist, as Kamal names them (relative paths stay relative).
    pub fn files(&self) -> Vec<PathBuf> {
        self.inner.candidates.iter().filter(|p| self.abs(p).exists()).cloned().collect()
    }

    /// All candidate file names (for "no secret files (…) provided" messages).
    pub fn candidate_files(&self) -> &[PathBuf] {
        &self.inner.candidates
    }

    /// Every secret, resolved (runs `$(…)` commands once).
    pub fn values(&self) -> Result<&IndexMap<String, String>, ConfigError> {
        self.inner
            .values
            .get_or_init(|| {
                let mut all = IndexMap::new();
                for f in self.files() {
                    let path = self.abs(&f);
                    let raw =
                        std::fs::read(&path).map_err(|e| ConfigError::new(ErrorKind::Io, format!("cannot read secrets file: {e}")).with_file(f.clone()))?;
                    let text = String::from_utf8_lossy(&raw);
                    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                    let parsed = parse_dotenv(text, &self.inner.env, true, &self.inner.cwd).map_err(|m| {
                        let mut e = ConfigError::new(ErrorKind::Secret, m).with_file(f.clone());
                        e.key = None;
                        e
                    })?;
                    for (k, v) in parsed {
                        all.insert(k, v);
                    }
                }
                Ok(all)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Kamal's `secrets[key]`: a missing key is an error naming the files.
    pub fn get(&self, key: &str) -> Result<String, ConfigError> {
        let v = self.values()?;
        match v.get(key) {
            Some(s) => Ok(s.clone()),
            None => {
                let files = self.files();
                let msg = if files.is_empty() {
                    format!(
                        "Secret '{key}' not found, no secret files ({}) provided",
                        self.inner.candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("Secret '{key}' not found in {}", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
                };
                let mut e = ConfigError::new(ErrorKind::Secret, msg);
                e.key = None;
                if let Some(f) = files.last().or(self.inner.candidates.last()) {
                    e = e.with_file(f.clone());
                }
                Err(e)
            }
        }
    }

    /// Kamal's `secrets.key?(key)`: present and non-blank; errors count as absent.
    pub fn has(&self, key: &str) -> bool {
        self.values().ok().and_then(|v| v.get(key)).is_some_and(|s| !s.trim().is_empty())
    }
}
