//! The deploy lock on the lock host (§4.1, §9).

use super::{exec_failure, failed, Engine, EngineError, R};
use crate::deploy::event::{Event, LockInfo, StepKind};
use crate::kamal::{cmd, lock};
use chrono::Utc;
use std::future::Future;
use std::time::Instant;

impl Engine {
    pub async fn mkdir_kamal(&self, hosts: &[String]) -> R<()> {
        self.pre_connect().await?;
        self.on_hosts(hosts, |h| async move {
            self.step(Some(h), None, StepKind::Other, "mkdir -p .kamal", async { self.sh_ok(h, &cmd::mkdir_kamal()).await.map(|_| ()).map_err(Into::into) })
                .await
        })
        .await
    }

    /// Read the lock on the lock host: `None` when free.
    pub async fn lock_status(&self) -> R<Option<LockInfo>> {
        let host = self.opts.lock_host.clone();
        let out = self.sh(&host, &cmd::lock_status(&self.app)).await?;
        if out.ok() {
            Ok(Some(lock::parse_details(&out.stdout)))
        } else if out.stderr.contains("No such file or directory") {
            Ok(None)
        } else {
            Err(failed(&host, exec_failure(&host, &out)))
        }
    }

    /// Take the deploy lock. With `--lock-wait` an automatic lock held by another deploy is
    /// polled until it is free or the wait times out (a lock taken by hand is not waited for),
    /// as Kamal 2.12's `acquire_lock_with_wait`.
    pub async fn acquire_lock(&self, message: &str) -> R<()> {
        let host = self.opts.lock_host.clone();
        let details = lock::encode_details(&self.opts.lock_user, Utc::now(), &self.opts.version, message);
        let c = cmd::lock_acquire(&self.app, &details);
        let h = host.as_str();
        let wait = self.opts.lock_wait.filter(|_| message == lock::DEFAULT_MESSAGE);
        let t0 = Instant::now();
        self.step(Some(h), None, StepKind::Lock, "acquire deploy lock", async {
            let mut announced = false;
            let mut vanished = 0;
            loop {
                let out = self.sh(h, &c).await?;
                if out.ok() {
                    return Ok(());
                }
                if !(out.stderr.contains("cannot create directory") || out.stderr.contains("File exists")) {
                    return Err(failed(h, exec_failure(h, &out)).into());
                }
                let info = match self.lock_status().await {
                    // Released between our mkdir and the read: try to take it again at once
                    // (a few times, so a lock directory without details cannot spin us).
                    Ok(None) if vanished < 3 => {
                        vanished += 1;
                        continue;
                    }
                    Ok(Some(info)) => info,
                    _ => LockInfo { holder: "unknown".into(), at: None, version: None, message: String::new() },
                };
                if !announced {
                    self.emit(Event::Lock { host: h.to_string(), held: Some(info.clone()) });
                    announced = true;
                }
                let Some(w) = wait else { return Err(EngineError::Locked(info).into()) };
                if info.message != lock::DEFAULT_MESSAGE {
                    return Err(failed(h, "Deploy lock held manually, not waiting. Run 'kdeck lock help' for more information").into());
                }
                let remaining = w.timeout.saturating_sub(t0.elapsed());
                if remaining.is_zero() {
                    return Err(failed(h, format!("Timed out after {}s waiting for the deploy lock", w.timeout.as_secs())).into());
                }
                let pause = w.interval.min(remaining);
                self.progress(
                    h,
                    None,
                    StepKind::Lock,
                    t0,
                    format!("lock held by {}; retrying in {}s ({}s remaining)", info.holder, pause.as_secs(), remaining.as_secs()),
                );
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = self.abort.stopping() => return Err(EngineError::Aborted.into()),
                }
            }
        })
        .await?;
        self.lock_held.store(true, std::sync::atomic::Ordering::SeqCst);
        self.emit(Event::Lock {
            host: host.clone(),
            held: Some(LockInfo {
                holder: self.opts.lock_user.clone(),
                at: Some(Utc::now()),
                version: Some(self.opts.version.clone()),
                message: message.into(),
            }),
        });
        Ok(())
    }

    /// Release the lock. Runs even after an abort (a fresh exec, not raced against Ctrl-C).
    pub async fn release_lock(&self) -> R<()> {
        let host = self.opts.lock_host.clone();
        let t0 = Instant::now();
        self.emit(Event::StepStarted { host: Some(host.clone()), role: None, kind: StepKind::Unlock, label: "release deploy lock".into(), at: Utc::now() });
        let r = self.remote(&host)?;
        let out = r.exec(&cmd::lock_release(&self.app)).await.map_err(|e| failed(&host, e.to_string()))?;
        if out.ok() {
            self.lock_held.store(false, std::sync::atomic::Ordering::SeqCst);
            self.emit(Event::StepFinished { host: Some(host.clone()), role: None, kind: StepKind::Unlock, elapsed: t0.elapsed() });
            self.emit(Event::Lock { host, held: None });
            Ok(())
        } else {
            let e = if out.stderr.contains("No such file or directory") { "There is no deploy lock".to_string() } else { exec_failure(&host, &out) };
            self.emit(Event::StepFailed {
                host: Some(host.clone()),
                role: None,
                kind: StepKind::Unlock,
                elapsed: t0.elapsed(),
                error: e.clone(),
                last_logs: vec![],
                health: None,
            });
            Err(failed(&host, e))
        }
    }

    pub fn lock_is_held(&self) -> bool {
        self.lock_held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Run `f` holding the lock; release in every exit path (errors, Ctrl-C).
    pub(super) async fn with_lock<F, Fut>(&self, hosts: &[String], f: F) -> R<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R<()>>,
    {
        self.mkdir_kamal(hosts).await?;
        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        let res = f().await;
        let rel = self.release_lock().await;
        res.and(rel)
    }
}
