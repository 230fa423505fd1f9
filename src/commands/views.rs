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
    let jobs = ctx
        .hosts()
        .into_iter()
        .filter_map(|h| ctx.app.roles_on(&h).first().map(|r| cmd::current_running_version(&ctx.app, &r.name)).map(|c| (h, c)))
        .collect();
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
    let c = cmd::proxy_logs(a.since.as_deref(), a.lines.or(if a.since.is_none() && a.grep.is_none() { Some(100) } else { None }), a.grep.as_deref(), !a.skip_timestamps);
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

/// `app exec`: in parallel on every selected host × role, output per host.
pub async fn app_exec(ctx: &Ctx, a: &crate::cli::ExecArgs) -> Result<ExitCode> {
    use crate::kamal::{audit, random_hex};
    let command = a.cmd.join(" ");
    let env: Vec<(String, String)> = a.env.iter().filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let mut jobs = vec![];
    let mut audits = vec![];
    if a.reuse {
        // Version from the primary host, as Kamal.
        let primary = ctx.app.primary_host().unwrap_or_default();
        let role0 = ctx.app.roles_on(&primary).first().map(|r| r.name.clone()).unwrap_or_default();
        let v = match ctx.remotes.get(&primary) {
            Some(r) => r.exec(&cmd::current_running_version(&ctx.app, &role0)).await?.stdout.trim().to_string(),
            None => String::new(),
        };
        for h in ctx.hosts() {
            for role in ctx.app.roles_on(&h) {
                let line = audit::line(chrono::Utc::now(), &ctx.performer, ctx.app.destination.as_deref(), Some(&role.name), &audit::executed(&command, &v));
                audits.push((h.clone(), cmd::audit_record(&ctx.app, &line)));
                jobs.push((h.clone(), cmd::app_exec_reuse(&ctx.app, &role.name, &v, &env, &command)));
            }
        }
    } else {
        // A new container needs the registry login (secrets are resolved lazily, as in Kamal).
        if let Some(e) = ctx.app.secret_error(false, true) {
            return Err(color_eyre::eyre::eyre!("{e}"));
        }
        let v = ctx.global.version.clone().unwrap_or_else(|| "latest".into());
        for h in ctx.hosts() {
            for role in ctx.app.roles_on(&h) {
                let line = audit::line(chrono::Utc::now(), &ctx.performer, ctx.app.destination.as_deref(), None, &audit::executed(&command, &v));
                audits.push((h.clone(), cmd::audit_record(&ctx.app, &line)));
                jobs.push((h.clone(), cmd::app_exec_run(&ctx.app, role, &h, &v, &random_hex(6), &env, a.detach, &command)));
            }
        }
    }
    if let Some(login) = cmd::docker_login(&ctx.app) {
        let logins = ctx.hosts().into_iter().map(|h| (h, login.clone())).collect();
        let _ = per_host(ctx, logins).await;
    }
    let _ = per_host(ctx, audits).await;
    Ok(print_blocks("App", per_host(ctx, jobs).await, None))
}

/// OpenSSH arguments for `app exec -i` that make the same trust decision as kdeck's own
/// connections: the known_hosts file kdeck reads (not the passwd home's), its host-key policy,
/// the configured keys, and Kamal's `ssh.proxy`/`ssh.proxy_command`.
pub fn ssh_args(app: &crate::kamal::AppSpec, host: &str, accept_new: bool) -> Vec<String> {
    let mut a: Vec<String> = vec![];
    for k in &app.ssh_keys {
        a.push("-i".into());
        a.push((if k.is_relative() { app.root.join(k) } else { k.clone() }).display().to_string());
    }
    if !app.ssh_keys.is_empty() {
        a.extend(["-o".into(), "IdentitiesOnly=yes".into()]);
    }
    let known_hosts = std::env::var_os("KDECK_KNOWN_HOSTS").map(std::path::PathBuf::from).unwrap_or_else(crate::ssh::known_hosts::default_path);
    a.extend(["-o".into(), format!("UserKnownHostsFile={}", known_hosts.display())]);
    a.extend(["-o".into(), format!("StrictHostKeyChecking={}", if accept_new { "accept-new" } else { "yes" })]);
    a.extend(app.ssh_proxy_args.iter().cloned());
    a.extend(["-t".into(), format!("{}@{host}", app.ssh_user), "-p".into(), app.ssh_port.to_string()]);
    a
}

#[cfg(test)]
#[test]
fn exec_interactive_ssh_uses_kdecks_trust_and_proxy() {
    let app = crate::kamal::AppSpec {
        ssh_user: "deploy".into(),
        ssh_port: 2222,
        ssh_keys: vec!["k/id".into()],
        root: "/app".into(),
        ssh_proxy_args: vec!["-J".into(), "root@bastion".into()],
        ..Default::default()
    };
    let a = ssh_args(&app, "10.0.0.1", false).join(" ");
    assert!(a.contains("-i /app/k/id -o IdentitiesOnly=yes"), "{a}");
    assert!(a.contains("-o UserKnownHostsFile=") && a.contains("StrictHostKeyChecking=yes"), "{a}");
    assert!(a.contains("-J root@bastion"), "{a}");
    assert!(a.ends_with("-t deploy@10.0.0.1 -p 2222"), "{a}");
    assert!(ssh_args(&app, "h", true).join(" ").contains("StrictHostKeyChecking=accept-new"));
}

/// `app exec -i`: an interactive session on the primary host of the scope, through the local
/// OpenSSH client with a pty (as Kamal does).
pub async fn app_exec_interactive(ctx: &Ctx, a: &crate::cli::ExecArgs) -> Result<ExitCode> {
    use crate::kamal::random_hex;
    use std::io::IsTerminal;
    let command = a.cmd.join(" ");
    let env: Vec<(String, String)> = a.env.iter().filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let host = ctx.app.primary_host().ok_or_else(|| color_eyre::eyre::eyre!("no host in scope"))?;
    let role = ctx.app.roles_on(&host).first().cloned().cloned().ok_or_else(|| color_eyre::eyre::eyre!("no role on {host}"))?;
    let it = if std::io::stdin().is_terminal() { "-it" } else { "-i" };
    let remote_cmd = if a.reuse {
        let r = ctx.remotes.get(&host).ok_or_else(|| color_eyre::eyre::eyre!("no connection to {host}"))?;
        let v = r.exec(&cmd::current_running_version(&ctx.app, &role.name)).await?.stdout.trim().to_string();
        cmd::app_exec_reuse(&ctx.app, &role.name, &v, &env, &command).replacen("docker exec", &format!("docker exec {it}"), 1)
    } else {
        if let Some(e) = ctx.app.secret_error(false, true) {
            return Err(color_eyre::eyre::eyre!("{e}"));
        }
        let v = ctx.global.version.clone().unwrap_or_else(|| "latest".into());
        if let (Some(login), Some(r)) = (cmd::docker_login(&ctx.app), ctx.remotes.get(&host)) {
            let _ = r.exec(&login).await;
        }
        cmd::app_exec_run(&ctx.app, &role, &host, &v, &random_hex(6), &env, false, &command).replacen("docker run --rm", &format!("docker run {it} --rm"), 1)
    };
    let mut c = std::process::Command::new("ssh");
    c.args(ssh_args(&ctx.full, &host, ctx.global.accept_new_host_keys)).arg(remote_cmd);
    let st = c.status()?;
    Ok(ExitCode::from(st.code().unwrap_or(1).clamp(0, 255) as u8))
}
