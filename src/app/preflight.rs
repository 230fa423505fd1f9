//! What the dashboard's deploy dialog learns when it opens, off the screen's thread: the config
//! read again (so secrets fixed since kdeck started count, and the deploy uses them), the
//! registry asked whether it answers and takes the configured credentials, the image's tags
//! with their ages, and the app dir's recent git commits (Kamal's version is the commit sha).
//! Secret values never leave this module: problems name the key, never the value.

use super::context::Ctx;
use crate::cli::Global;
use crate::docker::registry::{Registry, RegistryAuth, Tag};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::Duration;

/// One commit of the app dir's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub sha: String,
    pub time: Option<DateTime<Utc>>,
    pub subject: String,
}

/// The registry as asked from here.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryCheck {
    /// It answered and took the credentials (or needs none).
    Ok,
    /// Why not (never a secret value).
    Failed(String),
}

/// What the dialog shows as pre-flight and as the picker's registry and git sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub at: DateTime<Utc>,
    /// The version a plain deploy builds now (`--version`, `$VERSION` or the git HEAD).
    pub version: Option<String>,
    /// The config could not be read again (the error names the file and key).
    pub load_error: Option<String>,
    /// Secrets the new containers need that cannot be read (the roles' env; the registry
    /// login's are in `registry_check`).
    pub secret_problems: Vec<String>,
    /// `registry.server` as written (Docker Hub when unset).
    pub registry: String,
    pub registry_check: RegistryCheck,
    /// The image's tags in the registry, newest first.
    pub tags: Vec<Tag>,
    /// The app dir's last commits, HEAD first (empty outside git).
    pub commits: Vec<Commit>,
}

/// Tags listed (and aged) at most.
const MAX_TAGS: usize = 200;
const AGED_TAGS: usize = 30;
const COMMITS: usize = 12;

/// Reads the config of the app in `dir` again on the dashboard's pool (a new [`Ctx`], `None`
/// when it fails) and
/// asks the registry and git. Blocking parts (the config's ERB and secrets commands) run on a
/// blocking thread; the registry gets `timeout` per request.
pub async fn gather(pool: &crate::ssh::Pool, g: &Global, dir: &Path, timeout: Duration) -> (Option<Ctx>, Report) {
    let (pool2, g2, dir2) = (pool.clone(), g.clone(), dir.to_path_buf());
    let loaded = tokio::task::spawn_blocking(move || Ctx::on_pool_in(&pool2, &g2, Some(&dir2))).await;
    let ctx = match loaded {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("{e}")),
        Err(e) => Err(format!("reading the config again failed: {e}")),
    };
    let mut report = Report {
        at: Utc::now(),
        version: None,
        load_error: None,
        secret_problems: vec![],
        registry: String::new(),
        registry_check: RegistryCheck::Failed("not asked".into()),
        tags: vec![],
        commits: vec![],
    };
    let ctx = match ctx {
        Ok(c) => c,
        Err(e) => {
            report.load_error = Some(e);
            return (None, report);
        }
    };
    let app = &ctx.full;
    report.version = Some(ctx.version.clone());
    report.commits = recent_commits(&app.root, COMMITS);
    report.secret_problems = app.roles.iter().filter_map(|r| r.env_secret_error.clone()).collect();
    report.secret_problems.dedup();
    report.registry = app.registry.server.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "docker.io".into());
    if let Some(e) = app.secret_error(false, true) {
        report.registry_check = RegistryCheck::Failed(e);
        return (Some(ctx), report);
    }
    let auth = RegistryAuth { server: app.registry.server.clone(), username: app.registry.username.clone(), password: app.registry.password.clone() };
    let registry = Registry::new(auth, timeout);
    let name = registry.repository_name(&app.image);
    match registry.check().await {
        Ok(()) => {
            report.registry_check = RegistryCheck::Ok;
            match registry.tags_with_age(&name, MAX_TAGS, AGED_TAGS).await {
                Ok(t) => report.tags = t,
                // A repository never pushed to has no tag list: the check still passed.
                Err(e) => tracing::info!(error = %e, "registry tags"),
            }
        }
        Err(e) => report.registry_check = RegistryCheck::Failed(e.to_string()),
    }
    (Some(ctx), report)
}

/// `git log` of the app dir: sha, commit time, subject; newest (HEAD) first.
pub fn recent_commits(root: &Path, n: usize) -> Vec<Commit> {
    let out = std::process::Command::new("git")
        .args(["log", &format!("-n{n}"), "--format=%H%x09%ct%x09%s"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out else { return vec![] };
    if !out.status.success() {
        return vec![];
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let sha = parts.next()?.to_string();
            let time = parts.next().and_then(|t| t.parse::<i64>().ok()).and_then(|t| DateTime::from_timestamp(t, 0));
            Some(Commit { sha, time, subject: parts.next().unwrap_or("").to_string() })
        })
        .collect()
}
