//! `kdeck accessory boot|reboot|start|stop|restart|remove|details|logs NAME` with Kamal's names
//! and output layout. Mutating actions go through the engine (lock, audit, events); the views
//! print as Kamal does (`Accessory <name> Host: <host>` blocks for details, raw lines for logs).

use super::confirm;
use super::context::Ctx;
use crate::cli::{AccessoryCommand, LogsArgs};
use crate::deploy::{AccessoryAction, Request};
use crate::kamal::accessory::{self as acc, AccessorySpec};
use color_eyre::eyre::Result;
use futures::future::join_all;
use std::process::ExitCode;

pub async fn run(ctx: &Ctx, c: &AccessoryCommand) -> Result<ExitCode> {
    let (action, name) = match c {
        AccessoryCommand::Details { name } => return details(ctx, name).await,
        AccessoryCommand::Exec { name, interactive, reuse, cmd } => return super::exec::accessory_exec(ctx, name, *interactive, *reuse, cmd).await,
        AccessoryCommand::Logs { name, args } => return logs(ctx, name, args).await,
        AccessoryCommand::Upgrade { name, rolling, .. } => {
            // Asked before connecting (engine_dispatch).
            if let Err(e) = selected(ctx, name) {
                return Ok(e);
            }
            let req = Request::AccessoryUpgrade { name: name.clone(), rolling: *rolling };
            return super::actions::run_request(ctx, req, ctx.version.clone()).await;
        }
        AccessoryCommand::Boot { name } => (AccessoryAction::Boot, name),
        AccessoryCommand::Reboot { name } => (AccessoryAction::Reboot, name),
        AccessoryCommand::Start { name } => (AccessoryAction::Start, name),
        AccessoryCommand::Stop { name } => (AccessoryAction::Stop, name),
        AccessoryCommand::Restart { name } => (AccessoryAction::Restart, name),
        AccessoryCommand::Remove { name, confirmed } => {
            if !*confirmed && !confirm(&format!("This will remove all containers, images and data directories for {name}. Are you sure?")) {
                return Ok(ExitCode::from(1));
            }
            (AccessoryAction::Remove, name)
        }
    };
    // A name that is not under `accessories:` fails before any host is touched.
    if let Err(e) = selected(ctx, name) {
        return Ok(e);
    }
    super::actions::run_request(ctx, Request::Accessory { action, name: name.clone() }, ctx.version.clone()).await
}

/// The accessories named (`all` = every one) in the app in scope, or the error printed + exit 1.
/// (Kamal prints the same message but exits 0; a script cannot tell it failed.)
fn selected(ctx: &Ctx, name: &str) -> Result<Vec<AccessorySpec>, ExitCode> {
    match ctx.app.select_accessories(name) {
        Ok(v) => Ok(v.into_iter().cloned().collect()),
        Err(m) => {
            crate::errln!("ERROR: {m}");
            Err(ExitCode::from(1))
        }
    }
}

/// One command per host of an accessory, in parallel; results in the accessory's host order.
async fn on_hosts(ctx: &Ctx, a: &AccessorySpec, c: &str) -> Vec<(String, Result<crate::deploy::remote::ExecOutput, String>)> {
    let futs = a.hosts.iter().map(|h| {
        let r = ctx.remotes.get(h).cloned();
        async move {
            let res = match r {
                Some(r) => r.exec(c).await.map_err(|e| e.to_string()),
                None => Err(format!("no connection to {h}")),
            };
            (h.clone(), res)
        }
    });
    join_all(futs).await
}

/// `accessory details NAME|all`: `docker ps` of the accessory's container per host.
pub async fn details(ctx: &Ctx, name: &str) -> Result<ExitCode> {
    let list = match selected(ctx, name) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let mut code = ExitCode::SUCCESS;
    for a in &list {
        for (h, r) in on_hosts(ctx, a, &acc::info(a)).await {
            crate::outln!("Accessory {} Host: {h}", a.name);
            match r {
                Ok(o) if o.ok() => crate::outln!("{}", o.stdout.trim_end()),
                Ok(o) => {
                    crate::outln!("{}", o.combined().trim_end());
                    code = ExitCode::from(1);
                }
                Err(e) => {
                    crate::outln!("{e}");
                    code = ExitCode::from(1);
                }
            }
            crate::outln!();
        }
    }
    Ok(code)
}

/// `accessory logs NAME`: the lines of every host of the accessory, one host after the other
/// (Kamal prints them without a host header). `-f` follows every host, lines prefixed `host:`.
pub async fn logs(ctx: &Ctx, name: &str, a: &LogsArgs) -> Result<ExitCode> {
    if name == "all" {
        crate::errln!("ERROR: {}", ctx.app.missing_accessory_error(name));
        return Ok(ExitCode::from(1));
    }
    let list = match selected(ctx, name) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let Some(spec) = list.first() else { return Ok(ExitCode::from(1)) };
    if a.follow {
        return follow(ctx, spec, a).await;
    }
    let lines = acc::default_lines(a.lines, a.since.as_deref(), a.grep.as_deref(), false);
    let c = acc::logs(spec, a.since.as_deref(), lines, a.grep.as_deref(), a.grep_options.as_deref(), !a.skip_timestamps);
    let mut code = ExitCode::SUCCESS;
    for (h, r) in on_hosts(ctx, spec, &c).await {
        match r {
            Ok(o) if o.ok() => {
                if !o.stdout.trim_end().is_empty() {
                    crate::outln!("{}", o.stdout.trim_end());
                }
            }
            // grep without a match exits 1; Kamal fails the command there too (exit 1).
            Ok(o) if a.grep.is_some() && o.status == 1 && o.stdout.trim().is_empty() => {
                crate::errln!("{h}: no line matches");
                code = ExitCode::from(1);
            }
            Ok(o) => {
                crate::errln!("{h}: {}", o.combined().trim_end());
                code = ExitCode::from(1);
            }
            Err(e) => {
                crate::errln!("{h}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    Ok(code)
}

async fn follow(ctx: &Ctx, spec: &AccessorySpec, a: &LogsArgs) -> Result<ExitCode> {
    let lines = acc::default_lines(a.lines, None, None, true).unwrap_or(10);
    let c = acc::follow_logs(spec, lines, !a.skip_timestamps, a.grep.as_deref(), a.grep_options.as_deref());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(1024);
    let mut tasks = vec![];
    for h in &spec.hosts {
        let Some(r) = ctx.remotes.get(h).cloned() else { continue };
        let (h, c, tx) = (h.clone(), c.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let (ltx, mut lrx) = tokio::sync::mpsc::channel::<crate::deploy::remote::StreamLine>(256);
            let fwd = {
                let h = h.clone();
                async move {
                    while let Some((_, line)) = lrx.recv().await {
                        if tx.send((h.clone(), line)).await.is_err() {
                            break;
                        }
                    }
                }
            };
            let (res, _) = tokio::join!(r.exec_stream(&c, ltx), fwd);
            if let Err(e) = res {
                crate::errln!("{h}: {e}");
            }
        }));
    }
    drop(tx);
    let many = spec.hosts.len() > 1;
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some((h, line)) => {
                    let ok = if many { super::out::out(&format!("{h}: {line}")) } else { super::out::out(&line) };
                    if !ok {
                        break;
                    }
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    for t in tasks {
        t.abort();
    }
    Ok(ExitCode::SUCCESS)
}
