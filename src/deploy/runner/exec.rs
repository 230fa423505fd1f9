//! `app exec` (not interactive) as Kamal 2.11 runs it (`lib/kamal/cli/app.rb`): one command per
//! (host, role) in parallel, audited, in a new container of `--version` or the latest tag
//! (`latest[-<destination>]`, after the registry login), or with `--reuse` (no login) in the
//! running container of the version the primary host runs. One implementation for the headless
//! command and the dashboard: the first reads the results, the second the `Output` events
//! (`stream`).

use super::{Engine, EngineError, R};
use crate::deploy::event::{ActionKind, Event, Stream};
use crate::deploy::remote::{ExecOutput, Remote, StreamLine};
use crate::kamal::cmd::{self, ExecMode};
use crate::kamal::{audit, random_hex, RoleSpec};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What to run where.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub command: String,
    /// `-e K=V` pairs.
    pub env: Vec<(String, String)>,
    /// In the running container instead of a new one.
    pub reuse: bool,
    /// A new container left running (`--detach`).
    pub detach: bool,
    /// `--version`; else the running version (`reuse`) or the latest tag.
    pub version: Option<String>,
    /// The (host, role) pairs, in the order results come back.
    pub targets: Vec<(String, RoleSpec)>,
    /// Stream each line as an `Output` event and end each host's pane with its exit status
    /// (the dashboard); otherwise output is only captured into the results.
    pub stream: bool,
}

/// One (host, role)'s outcome: its output, or why it could not run.
#[derive(Debug)]
pub struct ExecResult {
    pub host: String,
    pub role: String,
    pub output: Result<ExecOutput, EngineError>,
}

impl Engine {
    /// Run `app exec` on every target. Emits PlanReady first and Finished last; the results are
    /// in target order. Fails before touching a host when a new container needs a registry
    /// secret that is missing.
    pub async fn exec(&self, req: ExecRequest) -> R<Vec<ExecResult>> {
        if !req.reuse {
            if let Some(e) = self.app.secret_error(false, true) {
                return Err(EngineError::Failed { host: None, message: e });
            }
        }
        let version = self.exec_version(&req).await?;
        let hosts: Vec<String> = req.targets.iter().map(|(h, _)| h.clone()).collect();
        let action = ActionKind::Exec { cmd: req.command.clone() };
        self.emit(Event::PlanReady { action, version: Some(version.clone()), hosts: hosts.clone(), groups: vec![], steps: vec![] });
        let t0 = Instant::now();
        if let Some(login) = cmd::docker_login(&self.app).filter(|_| !req.reuse) {
            let mut seen = std::collections::BTreeSet::new();
            let logins = hosts.iter().filter(|h| seen.insert(h.as_str())).filter_map(|h| self.remotes.get(h).map(|r| (r.clone(), login.clone())));
            join_all(logins.map(|(r, c)| async move { r.exec(&c).await })).await;
        }
        let jobs = req.targets.iter().map(|(h, role)| self.exec_one(&req, &version, h, role));
        let results: Vec<ExecResult> = join_all(jobs).await;
        let ok = results.iter().all(|r| r.output.as_ref().is_ok_and(ExecOutput::ok));
        let summary = format!("exec on {} host(s): {}", hosts.len(), if ok { "ok" } else { "failed somewhere" });
        self.emit(Event::Finished { ok, elapsed: t0.elapsed(), summary });
        Ok(results)
    }

    /// `--version`, else with `--reuse` what the primary host's first role runs (Kamal asks the
    /// primary host once), else the latest tag.
    async fn exec_version(&self, req: &ExecRequest) -> R<String> {
        if let Some(v) = &req.version {
            return Ok(v.clone());
        }
        if !req.reuse {
            return Ok(self.app.latest_tag());
        }
        let primary = self.app.primary_host().unwrap_or_default();
        let role = self.app.roles_on(&primary).first().map(|r| r.name.clone()).unwrap_or_default();
        match self.remotes.get(&primary) {
            Some(r) => {
                let o = r.exec(&cmd::current_running_version(&self.app, &role)).await.map_err(|e| super::failed(&primary, e.to_string()))?;
                Ok(o.stdout.trim().to_string())
            }
            None => Ok(String::new()),
        }
    }

    /// One host × role: the audit line (with the role when reusing, as Kamal), then the command.
    async fn exec_one(&self, req: &ExecRequest, version: &str, host: &str, role: &RoleSpec) -> ExecResult {
        let result = |output| ExecResult { host: host.to_string(), role: role.name.clone(), output };
        let Some(r) = self.remotes.get(host).cloned() else { return result(Err(super::failed(host, format!("no connection to {host}")))) };
        let mode = if req.detach { ExecMode::Detached } else { ExecMode::Captured };
        let c = if req.reuse {
            cmd::app_exec_reuse(&self.app, &role.name, version, &req.env, mode, &req.command)
        } else {
            cmd::app_exec_run(&self.app, role, host, version, &random_hex(6), &req.env, mode, &req.command)
        };
        let audit_role = req.reuse.then_some(role.name.as_str());
        let line = audit::line(chrono::Utc::now(), &self.opts.performer, self.app.destination.as_deref(), audit_role, &audit::executed(&req.command, version));
        let _ = r.exec(&cmd::audit_record(&self.app, &line)).await;
        if req.stream {
            result(self.exec_streamed(r, host, &role.name, &c).await.map_err(|e| super::failed(host, e)))
        } else {
            result(r.exec(&c).await.map_err(|e| super::failed(host, e.to_string())))
        }
    }

    /// The command with its lines as `Output` events and `── exit N` (or why it stopped) last;
    /// stops when the run is aborted. The captured output keeps the lines too.
    async fn exec_streamed(&self, r: Arc<dyn Remote>, host: &str, role: &str, c: &str) -> Result<ExecOutput, String> {
        let (ltx, mut lrx) = mpsc::channel::<StreamLine>(256);
        let out = |stream, line: String| Event::Output { host: Some(host.to_string()), role: Some(role.to_string()), stream, line };
        let collect = async {
            let (mut stdout, mut stderr) = (String::new(), String::new());
            while let Some((is_err, l)) = lrx.recv().await {
                let buf = if is_err { &mut stderr } else { &mut stdout };
                buf.push_str(&l);
                buf.push('\n');
                self.emit(out(if is_err { Stream::Stderr } else { Stream::Stdout }, l));
            }
            (stdout, stderr)
        };
        let run = async {
            tokio::select! {
                s = r.exec_stream(c, ltx) => s.map_err(|e| e.to_string()),
                _ = self.abort.stopping() => Err("aborted".to_string()),
            }
        };
        let (status, (stdout, stderr)) = tokio::join!(run, collect);
        let tail = match &status {
            Ok(0) => "exit 0".to_string(),
            Ok(n) => format!("exit {n}"),
            Err(e) => e.clone(),
        };
        self.emit(out(Stream::Stderr, format!("── {tail}")));
        status.map(|status| ExecOutput { status, stdout, stderr })
    }
}
