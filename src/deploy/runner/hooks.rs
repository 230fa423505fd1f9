//! Kamal's hooks (`.kamal/hooks/NAME`), run locally as a visible step.

use super::{Engine, EngineError, R};
use crate::deploy::event::StepKind;
use crate::kamal::hooks;
use chrono::Utc;

impl Engine {
    /// The pre-connect hook, once per run, before the first command on a host (as Kamal).
    pub(super) async fn pre_connect(&self) -> R<()> {
        if self.connected.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        self.hook("pre-connect", &self.app.all_hosts(), false, None).await
    }

    pub async fn hook(&self, name: &str, hosts: &[String], lock: bool, runtime: Option<u64>) -> R<()> {
        if self.opts.skip_hooks || !hooks::exists(&self.app, name) {
            return Ok(());
        }
        let ctx = hooks::HookContext {
            performer: self.opts.performer.clone(),
            version: self.opts.version.clone(),
            hosts: hosts.to_vec(),
            roles: self.opts.roles_filter.clone(),
            lock,
            command: self.current_command.lock().map(|c| c.clone()).unwrap_or_default(),
            runtime,
        };
        let env = hooks::env(&self.app, name, &ctx, Utc::now());
        let path = hooks::path(&self.app, name);
        let root = self.app.root.clone();
        self.step(None, None, StepKind::Hook, &format!("hook {name}"), async move {
            let out = tokio::process::Command::new(&path)
                .envs(env)
                .current_dir(&root)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| EngineError::Failed { host: None, message: format!("Hook `{name}` failed:\ncannot run {}: {e}", path.display()) })?;
            if !out.status.success() {
                let mut msg = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
                let err = String::from_utf8_lossy(&out.stderr);
                if !err.trim().is_empty() {
                    msg.push('\n');
                    msg.push_str(err.trim_end());
                }
                return Err(EngineError::Failed { host: None, message: format!("Hook `{name}` failed:\n{msg}") }.into());
            }
            Ok(())
        })
        .await
    }
}
