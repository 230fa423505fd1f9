//! Read-only headless commands, printed in Kamal's layout (`App Host: <host>` blocks) so
//! scripts that parse Kamal's output keep working. They never look at the lock.

use super::context::Ctx;
use crate::cli::LogsArgs;
use crate::deploy::remote::ExecOutput;
use crate::kamal::{cmd, lock};
use color_eyre::eyre::Result;
use futures::future::join_all;
use std::process::ExitCode;

/// Run one command per (host, key) in parallel; results in host order.
async fn per_host(ctx: &Ctx, jobs: Vec<(String, String)>) -> Vec<(String, Result<ExecOutput, String>)> {
    let futs = jobs.into_iter().map(|(h, c)| {
        let r = ctx.remotes.get(&h).cloned();
        async move {
            let res = match r {
                Some(r) => r.exec(&c).await.map_err(|e| e.to_string()),
                None => Err(format!("no connection to {h}")),
            };
            (h, res)
        }
    });
    join_all(futs).await
}

fn print_blocks(kind: &str, results: Vec<(String, Result<ExecOutput, String>)>, nothing: Option<&str>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for (h, r) in results {
        crate::outln!("{kind} Host: {h}");
        match r {
            Ok(o) if o.ok() => crate::outln!("{}", o.stdout.trim_end()),
            Ok(o) => match nothing {
                Some(n) => crate::outln!("{n}"),
                None => {
                    crate::outln!("{}", o.combined());
                    code = ExitCode::from(1);
                }
            },
            Err(e) => {
                crate::outln!("{e}");
                code = ExitCode::from(1);
            }
        }
        crate::outln!();
    }
    code
}

fn host_role_jobs(ctx: &Ctx, f: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut jobs = vec![];
    for h in ctx.hosts() {
        for role in ctx.app.roles_on(&h) {
            jobs.push((h.clone(), f(&role.name)));
        }
    }
    jobs
}

pub async fn app_version(ctx: &Ctx) -> Result<ExitCode> {
    // Kamal: the first role on the host.
    let jobs =
        ctx.hosts().into_iter().filter_map(|h| ctx.app.roles_on(&h).first().map(|r| cmd::current_running_version(&ctx.app, &r.name)).map(|c| (h, c))).collect();
    Ok(print_blocks("App", per_host(ctx, jobs).await, None))
}

pub async fn app_details(ctx: &Ctx) -> Result<ExitCode> {
    Ok(print_blocks("App", per_host(ctx, host_role_jobs(ctx, |r| cmd::app_details(&ctx.app, r))).await, None))
}

pub async fn app_containers(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.hosts().into_iter().map(|h| (h, cmd::app_containers(&ctx.app))).collect();
    Ok(print_blocks("App", per_host(ctx, jobs).await, None))
}

pub async fn app_images(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.hosts().into_iter().map(|h| (h, cmd::app_images(&ctx.app))).collect();
    Ok(print_blocks("App", per_host(ctx, jobs).await, None))
}

pub async fn stale_containers(ctx: &Ctx) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for h in ctx.hosts() {
        let Some(r) = ctx.remotes.get(&h) else { continue };
        for role in ctx.app.roles_on(&h) {
            let running = r.exec(&cmd::list_running_versions(&ctx.app, &role.name)).await;
            let current = r.exec(&cmd::current_running_version(&ctx.app, &role.name)).await;
            match (running, current) {
                (Ok(run), Ok(cur)) => {
                    let cur = cur.stdout.trim().to_string();
                    for v in run.stdout.lines().map(str::trim).filter(|v| !v.is_empty() && *v != cur) {
                        crate::outln!("Detected stale container for role {} with version {v} on {h}", role.name);
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    crate::errln!("{e}");
                    code = ExitCode::from(1);
                }
            }
        }
    }
    Ok(code)
}

pub async fn audit(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.hosts().into_iter().map(|h| (h, cmd::audit_tail(&ctx.app))).collect();
    Ok(print_blocks("App", per_host(ctx, jobs).await, None))
}

pub async fn lock_status(ctx: &Ctx) -> Result<ExitCode> {
    let Some(r) = ctx.remotes.get(&ctx.lock_host) else { return Ok(ExitCode::from(1)) };
    let out = r.exec(&cmd::lock_status(&ctx.full)).await?;
    if out.ok() {
        if ctx.global.json {
            crate::outln!("{}", serde_json::to_string(&lock::parse_details(&out.stdout))?);
        } else {
            crate::outln!("{}", out.stdout.trim_end());
        }
    } else if out.stderr.contains("No such file or directory") {
        crate::outln!("There is no deploy lock");
    } else {
        crate::errln!("{}", out.combined());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn proxy_details(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.app.proxy_hosts().into_iter().map(|h| (h, cmd::proxy_details())).collect();
    Ok(print_blocks("Proxy", per_host(ctx, jobs).await, None))
}

pub async fn proxy_logs(ctx: &Ctx, a: &LogsArgs) -> Result<ExitCode> {
    let c = cmd::proxy_logs(
        a.since.as_deref(),
        a.lines.or(if a.since.is_none() && a.grep.is_none() { Some(100) } else { None }),
        a.grep.as_deref(),
        !a.skip_timestamps,
    );
    if a.follow {
        let grep = a.grep.as_deref().map(|g| super::follow::Grep::new(g, a.grep_options.as_deref()));
        let tail = a.lines.map(u64::from).or(Some(100));
        return super::follow::run(ctx, super::follow::Follow::Proxy(ctx.app.proxy_hosts()), tail, !a.skip_timestamps, grep).await;
    }
    let jobs = ctx.app.proxy_hosts().into_iter().map(|h| (h, c.clone())).collect();
    Ok(print_blocks("Proxy", per_host(ctx, jobs).await, Some("Nothing found")))
}

pub async fn app_logs(ctx: &Ctx, a: &LogsArgs) -> Result<ExitCode> {
    if a.follow {
        // Kamal follows with `--tail 10` unless -n is given.
        let grep = a.grep.as_deref().map(|g| super::follow::Grep::new(g, a.grep_options.as_deref()));
        let tail = Some(u64::from(a.lines.unwrap_or(10)));
        return super::follow::run(ctx, super::follow::Follow::App, tail, !a.skip_timestamps, grep).await;
    }
    let jobs = host_role_jobs(ctx, |r| {
        cmd::app_logs(&ctx.app, r, a.since.as_deref(), a.lines, a.grep.as_deref(), a.grep_options.as_deref(), !a.skip_timestamps, a.container_id.as_deref())
    });
    Ok(print_blocks("App", per_host(ctx, jobs).await, Some("Nothing found")))
}

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
    .ok_or_else(|| color_eyre::eyre::eyre!("no host in scope"))?;
    let role = app.roles_on(&host).first().map(|r| (*r).clone()).ok_or_else(|| color_eyre::eyre::eyre!("no role on {host}"))?;
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
    let remote = ctx.remotes.get(&host).cloned().ok_or_else(|| color_eyre::eyre::eyre!("no connection to {host}"))?;
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
            return Err(color_eyre::eyre::eyre!("{e}"));
        }
        if ctx.global.version.is_none() {
            say("Get most recent version available as an image...");
        }
        let v = ctx.global.version.clone().unwrap_or_else(|| ctx.app.latest_tag());
        say(&format!("Launching interactive command with version {v} via SSH from new container on {host}..."));
        if let Some(login) = cmd::docker_login(&ctx.app) {
            let o = remote.exec(&login).await?;
            if !o.ok() {
                return Err(color_eyre::eyre::eyre!("docker login on {host} failed: {}", o.combined().trim()));
            }
        }
        cmd::app_exec_run(&ctx.app, &role, &host, &v, &random_hex(6), &env, mode, &command)
    };
    // The same connection the remotes use; only another transport (KDECK_TRANSPORT=openssh)
    // needs one of its own.
    let session = match remote.ssh_session() {
        Some(s) => s,
        None => super::context::pool(&ctx.full, &ctx.global)?.get(&host),
    };
    let status = crate::ssh::interactive::run_on_terminal(&session, &remote_cmd).await.map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    if tty {
        // What `ssh -t` prints when the session ends.
        crate::commands::out::err(&format!("Connection to {host} closed."));
    }
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}
