//! The exec commands: `app exec`, `server exec` and `accessory exec`, captured on every host
//! (output in Kamal's `… Host:` blocks) or interactive on one host over kdeck's own connection
//! (a pty channel when stdin is a terminal, as `ssh -t`; no OpenSSH client).

use super::context::Ctx;
use super::views::{per_host, print_blocks, stream_blocks};
use crate::kamal::accessory::{self as acc, AccessorySpec};
use crate::kamal::{audit, cmd};
use color_eyre::eyre::{eyre, Result};
use std::process::ExitCode;

/// Kamal refuses `--detach` with `-i` and/or `--reuse` (same words) before doing anything.
pub fn exec_detach_conflict(a: &crate::cli::ExecArgs) -> Option<String> {
    let clash: Vec<&str> = [("interactive", a.interactive), ("reuse", a.reuse)].into_iter().filter(|(_, on)| a.detach && *on).map(|(k, _)| k).collect();
    (!clash.is_empty()).then(|| format!("Detach is not compatible with {}", clash.join(" or ")))
}

/// `app exec`: in parallel on every selected host × role (the engine's exec), output per host.
pub async fn app_exec(ctx: &Ctx, a: &crate::cli::ExecArgs) -> Result<ExitCode> {
    let req = crate::deploy::ExecRequest {
        command: a.cmd.join(" "),
        env: exec_env(a),
        reuse: a.reuse,
        detach: a.detach,
        version: ctx.global.version.clone(),
        targets: ctx.app.host_roles(),
        stream: false,
    };
    // The events are the dashboard's; here the results are printed in Kamal's layout.
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let results = ctx.engine(ctx.version.clone(), tx, crate::deploy::AbortHandle::new()).exec(req).await?;
    Ok(print_blocks("App", results.into_iter().map(|r| (r.host, r.output.map_err(|e| e.to_string()))).collect(), None))
}

/// `-e K=V` pairs (anything without `=` is left out, as before).
fn exec_env(a: &crate::cli::ExecArgs) -> Vec<(String, String)> {
    a.env.iter().filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// Kamal's target for `app exec -i`: its primary host (the first `-h` host in config order,
/// else the first host of the primary role — or of the first `-r` role when the primary role is
/// not selected) and the primary (else first) role on that host.
fn interactive_target(full: &crate::kamal::AppSpec, app: &crate::kamal::AppSpec, g: &crate::cli::Global) -> Result<(String, crate::kamal::RoleSpec)> {
    let scoped = app.all_hosts();
    let host = if g.hosts.is_some() || g.primary {
        full.all_hosts().into_iter().find(|h| scoped.contains(h))
    } else {
        app.role(&app.primary_role).or(app.roles.first()).and_then(|r| r.hosts.first().cloned())
    }
    .ok_or_else(|| eyre!("no host in scope"))?;
    let role = app.roles_on(&host).first().map(|r| (*r).clone()).ok_or_else(|| eyre!("no role on {host}"))?;
    Ok((host, role))
}

#[cfg(test)]
#[test]
fn interactive_target_is_kamals_primary_host_and_role() {
    use crate::kamal::{AppSpec, RoleSpec};
    let role = |n: &str, hosts: &[&str]| RoleSpec { name: n.into(), hosts: hosts.iter().map(|h| h.to_string()).collect(), ..Default::default() };
    // deploy.yml lists the worker first; web is the primary role.
    let full = AppSpec { primary_role: "web".into(), roles: vec![role("worker", &["w1"]), role("web", &["a", "b"])], ..Default::default() };
    let pick = |hosts: Option<&str>, roles: Option<&str>, primary: bool| {
        let g = crate::cli::Global { hosts: hosts.map(Into::into), roles: roles.map(Into::into), primary, ..Default::default() };
        let app = super::context::scope(&full, &g).unwrap();
        let (h, r) = interactive_target(&full, &app, &g).unwrap();
        format!("{h}/{}", r.name)
    };
    assert_eq!(pick(None, None, false), "a/web");
    assert_eq!(pick(None, Some("worker"), false), "w1/worker");
    assert_eq!(pick(None, Some("worker,web"), false), "a/web");
    assert_eq!(pick(Some("b"), None, false), "b/web");
    // The first -h host in config order, as Kamal's specific_hosts.
    assert_eq!(pick(Some("b,w1"), None, false), "w1/worker");
    assert_eq!(pick(None, None, true), "a/web");
}

/// Kamal's progress lines (`say …, :magenta`): coloured only on a terminal.
fn say(text: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        crate::outln!("\x1b[35m{text}\x1b[0m");
    } else {
        crate::outln!("{text}");
    }
}

/// `app exec -i`: one interactive session on Kamal's primary host, on kdeck's own connection to
/// it (a pty channel when stdin is a terminal, as `ssh -t` does; no OpenSSH client). Runs the
/// same docker command as Kamal: `docker run -it|-i --rm …` in a new container, or
/// `docker exec -it|-i …` in the running one with `--reuse` (`-it` when stdin is a terminal).
/// The exit status is the remote command's.
pub async fn app_exec_interactive(ctx: &Ctx, a: &crate::cli::ExecArgs) -> Result<ExitCode> {
    use crate::kamal::random_hex;
    use std::io::IsTerminal;
    let command = a.cmd.join(" ");
    let env = exec_env(a);
    let (host, role) = interactive_target(&ctx.full, &ctx.app, &ctx.global)?;
    let remote = ctx.remotes.get(&host).cloned().ok_or_else(|| eyre!("no connection to {host}"))?;
    let tty = std::io::stdin().is_terminal();
    let mode = cmd::ExecMode::Interactive { tty };
    let remote_cmd = if a.reuse {
        let v = match &ctx.global.version {
            Some(v) => v.clone(),
            None => {
                say("Get current version of running container...");
                let v = remote.exec(&cmd::current_running_version(&ctx.app, &role.name)).await?.stdout.trim().to_string();
                // Kamal falls back to the configured version when nothing runs.
                if v.is_empty() {
                    ctx.version.clone()
                } else {
                    v
                }
            }
        };
        say(&format!("Launching interactive command with version {v} via SSH from existing container on {host}..."));
        cmd::app_exec_reuse(&ctx.app, &role.name, &v, &env, mode, &command)
    } else {
        if let Some(e) = ctx.app.secret_error(false, true) {
            return Err(eyre!("{e}"));
        }
        if ctx.global.version.is_none() {
            say("Get most recent version available as an image...");
        }
        let v = ctx.global.version.clone().unwrap_or_else(|| ctx.app.latest_tag());
        say(&format!("Launching interactive command with version {v} via SSH from new container on {host}..."));
        if let Some(login) = cmd::docker_login(&ctx.app) {
            let o = remote.exec(&login).await?;
            if !o.ok() {
                return Err(eyre!("docker login on {host} failed: {}", o.combined().trim()));
            }
        }
        cmd::app_exec_run(&ctx.app, &role, &host, &v, &random_hex(6), &env, mode, &command)
    };
    on_terminal(ctx, &host, &remote_cmd, tty).await
}

/// One interactive command on `host`, on the remotes' connection (only another transport,
/// `KDECK_TRANSPORT=openssh`, needs one of its own). The exit status is the remote command's.
async fn on_terminal(ctx: &Ctx, host: &str, remote_cmd: &str, tty: bool) -> Result<ExitCode> {
    let remote = ctx.remotes.get(host).cloned().ok_or_else(|| eyre!("no connection to {host}"))?;
    let session = match remote.ssh_session() {
        Some(s) => s,
        None => super::context::pool(&ctx.full, &ctx.global)?.get(host),
    };
    let status = crate::ssh::interactive::run_on_terminal(&session, remote_cmd).await.map_err(|e| eyre!("{e}"))?;
    if tty {
        // What `ssh -t` prints when the session ends.
        super::out::err(&format!("Connection to {host} closed."));
    }
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}

/// Kamal's primary host among the hosts in scope (`-h` order follows the config).
fn primary_in_scope(ctx: &Ctx) -> Result<String> {
    let scoped = ctx.app.all_hosts();
    ctx.full.all_hosts().into_iter().find(|h| scoped.contains(h)).ok_or_else(|| eyre!("no host in scope"))
}

/// `server exec CMD`: on every host in scope, each audited, output per host; `-i` on the
/// primary host on a terminal.
pub async fn server_exec(ctx: &Ctx, interactive: bool, words: &[String]) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let command = words.join(" ");
    if interactive {
        let host = primary_in_scope(ctx)?;
        say(&format!("Running '{command}' on {host} interactively..."));
        return on_terminal(ctx, &host, &command, std::io::stdin().is_terminal()).await;
    }
    let hosts = ctx.hosts();
    say(&format!("Running '{command}' on {}...", hosts.join(", ")));
    let audit_jobs = hosts.iter().map(|h| (h.clone(), audit_record(ctx, &audit::executed_on_host(&command, h)))).collect();
    per_host(ctx, audit_jobs).await;
    let jobs = hosts.iter().map(|h| (h.clone(), cmd::server_command(&command))).collect();
    Ok(stream_blocks(ctx, "App", jobs, None).await)
}

fn audit_record(ctx: &Ctx, message: &str) -> String {
    let line = audit::line(chrono::Utc::now(), &ctx.performer, ctx.app.destination.as_deref(), None, message);
    cmd::audit_record(&ctx.app, &line)
}

/// `accessory exec NAME CMD`: in a new container of the accessory (after the registry login),
/// or with `--reuse` in the running one, on each of its hosts; `-i` on its first host.
pub async fn accessory_exec(ctx: &Ctx, name: &str, interactive: bool, reuse: bool, words: &[String]) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let command = words.join(" ");
    let list = ctx.app.select_accessories(name).map_err(|m| eyre!("{m}"))?;
    let a: AccessorySpec = match list.as_slice() {
        [one] => (*one).clone(),
        _ => return Err(eyre!("accessory exec takes one accessory name, not {name}")),
    };
    if !reuse {
        if let Some(e) = ctx.app.secret_error(false, true) {
            return Err(eyre!("{e}"));
        }
    }
    let tty = std::io::stdin().is_terminal();
    let mode = if interactive { cmd::ExecMode::Interactive { tty } } else { cmd::ExecMode::Captured };
    let remote_cmd = if reuse { acc::exec_existing(&a, mode, &command) } else { acc::exec_new(&ctx.app, &a, mode, &command) };
    let login = cmd::docker_login(&ctx.app).filter(|_| !reuse);
    if interactive {
        let host = a.hosts.first().cloned().ok_or_else(|| eyre!("accessory {name} has no host in scope"))?;
        say(&format!("Launching interactive command via SSH from {} container...", if reuse { "existing" } else { "new" }));
        if let Some(l) = login {
            per_host(ctx, vec![(host.clone(), l)]).await;
        }
        return on_terminal(ctx, &host, &remote_cmd, tty).await;
    }
    say(&format!("Launching command from {} container...", if reuse { "existing" } else { "new" }));
    if let Some(l) = login {
        per_host(ctx, a.hosts.iter().map(|h| (h.clone(), l.clone())).collect()).await;
    }
    let audit = audit_record(ctx, &audit::executed_on_accessory(&command, name));
    per_host(ctx, a.hosts.iter().map(|h| (h.clone(), audit.clone())).collect()).await;
    let jobs = a.hosts.iter().map(|h| (h.clone(), remote_cmd.clone())).collect();
    Ok(stream_blocks(ctx, "App", jobs, None).await)
}
