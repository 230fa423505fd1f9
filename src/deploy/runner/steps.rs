//! The engine's primitives: commands on a host, uploads, the registry login and audit lines,
//! visible steps (started → finished/failed) and running on every host at once.

use super::{exec_failure, failed, redact, Engine, EngineError, R};
use crate::deploy::event::{Event, HealthReport, StepKind};
use crate::deploy::remote::{upload, ExecOutput, RemoteError};
use crate::kamal::{audit, cmd};
use chrono::Utc;
use futures::future::join_all;
use std::future::Future;
use std::time::Instant;

/// Per-step failure detail carried until the StepFailed event is emitted.
pub(super) struct StepFail {
    pub(super) err: EngineError,
    pub(super) last_logs: Vec<String>,
    pub(super) health: Option<HealthReport>,
}

impl From<EngineError> for StepFail {
    fn from(err: EngineError) -> Self {
        StepFail { err, last_logs: vec![], health: None }
    }
}

impl Engine {
    /// Run a command; a transport failure is an error, a non-zero status is not.
    pub async fn sh(&self, host: &str, command: &str) -> R<ExecOutput> {
        let r = self.remote(host)?;
        tracing::debug!(host, cmd = %redact(command), "exec");
        let fut = r.exec(command);
        let out = tokio::select! {
            o = fut => o,
            _ = self.abort.forced() => return Err(EngineError::Aborted),
        };
        let out = out.map_err(|e: RemoteError| failed(host, e.to_string()))?;
        tracing::debug!(host, status = out.status, "exec done");
        Ok(out)
    }

    /// Run a command even after a forced abort (clean-up that keeps hosts consistent).
    pub(super) async fn sh_always(&self, host: &str, command: &str) -> R<ExecOutput> {
        let r = self.remote(host)?;
        r.exec(command).await.map_err(|e| failed(host, e.to_string()))
    }

    /// Run a command that must succeed (Kamal's SSHKit::Command::Failed otherwise).
    pub async fn sh_ok(&self, host: &str, command: &str) -> R<ExecOutput> {
        let out = self.sh(host, command).await?;
        if out.ok() {
            Ok(out)
        } else {
            Err(failed(host, exec_failure(host, &out)))
        }
    }

    pub(super) async fn upload(&self, host: &str, path: &str, data: &[u8], mode: u32) -> R<()> {
        let r = self.remote(host)?;
        let out = upload(r.as_ref(), path, data, mode).await.map_err(|e| failed(host, e.to_string()))?;
        if !out.ok() {
            return Err(failed(host, format!("upload of {path} failed: {}", out.combined())));
        }
        Ok(())
    }

    /// `docker login` on `host` (Kamal's command), at most once per run.
    pub(super) async fn login_once(&self, host: &str) -> R<()> {
        let Some(login) = cmd::docker_login(&self.app) else { return Ok(()) };
        let cell = self.logins.lock().unwrap().entry(host.to_string()).or_default().clone();
        cell.get_or_init(|| async { self.sh_ok(host, &login).await.map(|_| ()) }).await.clone()
    }

    pub(super) async fn audit(&self, host: &str, role: Option<&str>, message: &str) -> R<()> {
        let line = audit::line(Utc::now(), &self.opts.performer, self.app.destination.as_deref(), role, message);
        self.sh_ok(host, &cmd::audit_record(&self.app, &line)).await.map(|_| ())
    }

    /// Run `f` as one visible step: started → finished/failed with elapsed time. A step does not
    /// start once a stop was requested.
    pub(super) async fn step<T, F>(&self, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        self.step_opt(true, host, role, kind, label, f).await
    }

    /// [`Engine::step`] of a plain engine result (no container logs or health to attach).
    pub(super) async fn task<T, F>(&self, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = R<T>>,
    {
        self.step(host, role, kind, label, async { f.await.map_err(StepFail::from) }).await
    }

    /// A step that runs even after a stop request: the rest of a host×role boot once its new
    /// container started (health, then stop old or stop new), so no host is left with two.
    pub(super) async fn step_finish<T, F>(&self, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        self.step_opt(false, host, role, kind, label, f).await
    }

    pub(super) async fn step_opt<T, F>(&self, check_stop: bool, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        if check_stop && self.abort.is_stopping() {
            return Err(EngineError::Aborted);
        }
        let t0 = Instant::now();
        self.emit(Event::StepStarted { host: host.map(Into::into), role: role.map(Into::into), kind, label: label.into(), at: Utc::now() });
        match f.await {
            Ok(v) => {
                self.emit(Event::StepFinished { host: host.map(Into::into), role: role.map(Into::into), kind, elapsed: t0.elapsed() });
                Ok(v)
            }
            Err(sf) => {
                self.emit(Event::StepFailed {
                    host: host.map(Into::into),
                    role: role.map(Into::into),
                    kind,
                    elapsed: t0.elapsed(),
                    error: sf.err.to_string(),
                    last_logs: sf.last_logs,
                    health: sf.health,
                });
                Err(sf.err)
            }
        }
    }

    /// Progress of a step that runs locally (no host).
    pub(super) fn progress_global(&self, kind: StepKind, t0: Instant, message: String) {
        self.emit(Event::StepProgress { host: None, role: None, kind, message, elapsed: t0.elapsed() });
    }

    pub(super) fn progress(&self, host: &str, role: Option<&str>, kind: StepKind, t0: Instant, message: String) {
        self.emit(Event::StepProgress { host: Some(host.into()), role: role.map(Into::into), kind, message, elapsed: t0.elapsed() });
    }

    /// Run `f` on every host in parallel; first error (by host order) wins, all run to the end.
    pub(super) async fn on_hosts<'a, F, Fut>(&'a self, hosts: &'a [String], f: F) -> R<()>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = R<()>> + 'a,
    {
        let results = join_all(hosts.iter().map(|h| f(h.as_str()))).await;
        let errs: Vec<EngineError> = results.into_iter().filter_map(|r| r.err()).collect();
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.into_iter().next().unwrap_or(EngineError::Aborted)),
            n => {
                if errs.iter().all(|e| matches!(e, EngineError::Aborted)) {
                    return Err(EngineError::Aborted);
                }
                let lines: Vec<String> = errs.iter().filter(|e| !matches!(e, EngineError::Aborted)).map(|e| e.to_string()).collect();
                Err(EngineError::Failed { host: None, message: format!("Exceptions on {n} hosts:\n{}", lines.join("\n")) })
            }
        }
    }
}
