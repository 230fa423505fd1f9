//! Read-only headless commands, printed in Kamal's layout (`App Host: <host>` blocks) so
//! scripts that parse Kamal's output keep working. They never look at the lock.

use super::context::Ctx;
use crate::cli::LogsArgs;
use crate::deploy::remote::ExecOutput;
use crate::kamal::{cmd, lock};
use color_eyre::eyre::Result;
use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};
use std::process::ExitCode;

/// Run one command per (host, key) in parallel; results in host order.
pub(super) async fn per_host(ctx: &Ctx, jobs: Vec<(String, String)>) -> Vec<(String, Result<ExecOutput, String>)> {
    join_all(jobs.into_iter().map(|(h, c)| run_one(ctx, h, c))).await
}

async fn run_one(ctx: &Ctx, h: String, c: String) -> (String, Result<ExecOutput, String>) {
    let res = match ctx.remotes.get(&h) {
        Some(r) => r.exec(&c).await.map_err(|e| e.to_string()),
        None => Err(format!("no connection to {h}")),
    };
    (h, res)
}

/// Runs one command per (host, key) in parallel and prints each host's block as soon as its
/// command ends (as Kamal does), so a host that does not answer holds back only its own block.
pub(super) async fn stream_blocks(ctx: &Ctx, kind: &str, jobs: Vec<(String, String)>, nothing: Option<&str>) -> ExitCode {
    let mut running: FuturesUnordered<_> = jobs.into_iter().map(|(h, c)| run_one(ctx, h, c)).collect();
    let mut code = ExitCode::SUCCESS;
    while let Some((h, r)) = running.next().await {
        if !print_block(kind, &h, r, nothing) {
            code = ExitCode::from(1);
        }
    }
    code
}

pub(super) fn print_blocks(kind: &str, results: Vec<(String, Result<ExecOutput, String>)>, nothing: Option<&str>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for (h, r) in results {
        if !print_block(kind, &h, r, nothing) {
            code = ExitCode::from(1);
        }
    }
    code
}

/// One `App Host: <h>` block; false when the command failed.
fn print_block(kind: &str, h: &str, r: Result<ExecOutput, String>, nothing: Option<&str>) -> bool {
    crate::outln!("{kind} Host: {h}");
    let ok = match r {
        Ok(o) if o.ok() => {
            crate::outln!("{}", o.stdout.trim_end());
            true
        }
        Ok(o) => match nothing {
            Some(n) => {
                crate::outln!("{n}");
                true
            }
            None => {
                crate::outln!("{}", o.combined());
                false
            }
        },
        Err(e) => {
            crate::outln!("{e}");
            false
        }
    };
    crate::outln!();
    ok
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
    Ok(stream_blocks(ctx, "App", jobs, None).await)
}

pub async fn app_details(ctx: &Ctx) -> Result<ExitCode> {
    Ok(stream_blocks(ctx, "App", host_role_jobs(ctx, |r| cmd::app_details(&ctx.app, r)), None).await)
}

pub async fn app_containers(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.hosts().into_iter().map(|h| (h, cmd::app_containers(&ctx.app))).collect();
    Ok(stream_blocks(ctx, "App", jobs, None).await)
}

pub async fn app_images(ctx: &Ctx) -> Result<ExitCode> {
    let jobs = ctx.hosts().into_iter().map(|h| (h, cmd::app_images(&ctx.app))).collect();
    Ok(stream_blocks(ctx, "App", jobs, None).await)
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
    Ok(stream_blocks(ctx, "App", jobs, None).await)
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
    Ok(stream_blocks(ctx, "Proxy", jobs, None).await)
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
    Ok(stream_blocks(ctx, "Proxy", jobs, Some("Nothing found")).await)
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
    Ok(stream_blocks(ctx, "App", jobs, Some("Nothing found")).await)
}
