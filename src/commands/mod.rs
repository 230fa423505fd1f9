//! Headless subcommands: each consumes the engine's events or prints a view of the config.

pub mod accessory;
pub mod actions;
pub mod boot_config;
pub mod build;
pub mod canary;
pub mod config;
pub mod exec;
pub mod follow;
pub mod local;
pub mod manage;
pub mod picker;
pub mod printer;
pub mod resources;
pub mod rollback;
pub mod rollout;
pub mod secrets;
pub mod traffic;
pub mod tunnel;
pub mod views;

pub(crate) use crate::app::{context, out};

use crate::cli::{AccessoryCommand, AppCommand, Cli, Command, LockCommand, ProxyCommand, PruneCommand, RemoveArgs, UpgradeArgs};
use crate::deploy::Request;
use color_eyre::eyre::eyre;
use std::process::ExitCode;

pub fn run(cli: Cli) -> color_eyre::Result<ExitCode> {
    match &cli.command {
        Some(Command::Config(args)) => config::run(&cli.global, args),
        // No deploy.yml needed.
        Some(Command::Init(args)) => local::init(args),
        Some(Command::Docs(args)) => local::docs(args),
        Some(Command::Version) => local::version(),
        Some(Command::Secrets(s)) => secrets::run(&cli.global, s),
        // `main` starts the dashboard; commands never name tui.
        None | Some(Command::Dashboard(_) | Command::Workspace(_)) => Err(eyre!("the dashboard is not a headless command")),
        Some(c) if engine_command(c) => run_engine_command(&cli),
        Some(other) => Err(color_eyre::eyre::eyre!("`{}` is not implemented yet", command_name(other))),
    }
}

fn engine_command(c: &Command) -> bool {
    !matches!(
        c,
        Command::Config(_) | Command::Dashboard(_) | Command::Workspace(_) | Command::Init(_) | Command::Docs(_) | Command::Version | Command::Secrets(_)
    )
}

/// Deploy-engine subcommands (deploy, app …, lock …, prune …, proxy …, audit, details).
fn run_engine_command(cli: &Cli) -> color_eyre::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let res = rt.block_on(engine_dispatch(cli));
    context::disconnect();
    res
}

async fn engine_dispatch(cli: &Cli) -> color_eyre::Result<ExitCode> {
    let g = &cli.global;
    // Kamal asks before connecting to any host.
    if let Some(question) = cli.command.as_ref().and_then(question) {
        if !confirm(question) {
            crate::outln!("Aborted");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let ctx = context::Ctx::new(g)?;
    let v = ctx.version.clone();
    let Some(c) = &cli.command else { return Err(eyre!("no command")) };
    match c {
        Command::Deploy(a) if a.canary => canary::deploy(&ctx, a).await,
        Command::Setup(a) | Command::Redeploy(a) if a.canary => Err(eyre!("--canary applies to `deploy` only")),
        Command::Setup(a) => actions::run_build_request(&ctx, Request::Setup { skip_push: a.skip_push }, v, a.no_cache).await,
        Command::Deploy(a) => actions::run_build_request(&ctx, Request::Deploy { skip_push: a.skip_push }, v, a.no_cache).await,
        Command::Redeploy(a) => actions::run_build_request(&ctx, Request::Redeploy { skip_push: a.skip_push }, v, a.no_cache).await,
        Command::Rollback(a) => {
            let version = match &a.target {
                Some(version) => version.clone(),
                None => match rollback::pick(&ctx).await? {
                    Some(version) => version,
                    None => {
                        crate::outln!("Aborted");
                        return Ok(ExitCode::SUCCESS);
                    }
                },
            };
            // Hooks see the target as KAMAL_VERSION, as in Kamal (and the dashboard).
            actions::run_request(&ctx, Request::Rollback { version: version.clone() }, version).await
        }
        Command::Details(d) if d.resources => {
            let pool = crate::app::context::pool(&ctx.app, g)?;
            let spec = crate::app::fleet_spec(&ctx.app, &ctx.lock_host);
            resources::run(&pool, &spec, g.json, &mut std::io::stdout()).await
        }
        Command::Details(_) => {
            let a = views::proxy_details(&ctx).await?;
            let b = views::app_details(&ctx).await?;
            // Kamal's `details` ends with `accessory details all`.
            let c = if ctx.app.accessories.is_empty() { ExitCode::SUCCESS } else { accessory::details(&ctx, "all").await? };
            Ok([a, b, c].into_iter().find(|x| *x != ExitCode::SUCCESS).unwrap_or(ExitCode::SUCCESS))
        }
        Command::Audit => views::audit(&ctx).await,
        Command::App(a) => app(&ctx, a).await,
        Command::Lock(l) => match l {
            LockCommand::Status => views::lock_status(&ctx).await,
            LockCommand::Acquire { message } => actions::run_request(&ctx, Request::LockAcquire { message: message.clone() }, v).await,
            LockCommand::Release => actions::run_request(&ctx, Request::LockRelease, v).await,
        },
        Command::Prune(p) => {
            let req = match p {
                PruneCommand::All => Request::Prune { containers: true, images: true, retain: None },
                PruneCommand::Containers { retain } => Request::Prune { containers: true, images: false, retain: *retain },
                PruneCommand::Images => Request::Prune { containers: false, images: true, retain: None },
            };
            actions::run_request(&ctx, req, v).await
        }
        Command::Proxy(p) => manage::proxy(&ctx, p).await,
        Command::Registry(r) => manage::registry(&ctx, r).await,
        Command::Server(sc) => manage::server(&ctx, sc).await,
        Command::Remove(_) => actions::run_request(&ctx, Request::Remove, v).await,
        Command::Accessory(a) => accessory::run(&ctx, a).await,
        Command::Build(b) => build::run(ctx, b).await,
        Command::Upgrade(u) => {
            // The app boots `--version`, else the latest tag, as Kamal's proxy upgrade.
            let boot = g.version.clone().unwrap_or_else(|| ctx.app.latest_tag());
            actions::run_request(&ctx, Request::Upgrade { rolling: u.rolling, version: boot }, v).await
        }
        Command::Tunnel(t) => tunnel::run(&ctx, t).await,
        other => Err(eyre!("`{}` is not implemented yet", command_name(other))),
    }
}

/// `kdeck app …`.
async fn app(ctx: &context::Ctx, a: &AppCommand) -> color_eyre::Result<ExitCode> {
    let g = &ctx.global;
    let v = ctx.version.clone();
    match a {
        AppCommand::Boot => {
            let ver = g.version.clone().unwrap_or_else(|| "latest".into());
            actions::run_request(ctx, Request::AppBoot, ver).await
        }
        AppCommand::Start => actions::run_request(ctx, Request::AppStart, v).await,
        AppCommand::Stop => actions::run_request(ctx, Request::AppStop, v).await,
        AppCommand::Details => views::app_details(ctx).await,
        AppCommand::Containers => views::app_containers(ctx).await,
        AppCommand::Images => views::app_images(ctx).await,
        AppCommand::Version => views::app_version(ctx).await,
        AppCommand::Logs(l) => views::app_logs(ctx, l).await,
        AppCommand::Exec(e) => {
            if let Some(msg) = exec::exec_detach_conflict(e) {
                return Err(eyre!("{msg}"));
            }
            if e.interactive {
                return exec::app_exec_interactive(ctx, e).await;
            }
            exec::app_exec(ctx, e).await
        }
        AppCommand::StaleContainers(s) if s.stop => actions::run_request(ctx, Request::StaleStop, v).await,
        AppCommand::StaleContainers(_) => views::stale_containers(ctx).await,
        AppCommand::Maintenance { drain_timeout, message } => {
            actions::run_request(ctx, Request::AppMaintenance { drain_timeout: *drain_timeout, message: message.clone() }, v).await
        }
        AppCommand::Live => actions::run_request(ctx, Request::AppLive, v).await,
        AppCommand::Remove => actions::run_request(ctx, Request::AppRemove, v).await,
    }
}

/// The question Kamal asks before a command without `-y`.
fn question(c: &Command) -> Option<&'static str> {
    match c {
        Command::Proxy(ProxyCommand::Reboot { confirmed: false, .. }) => Some("This will cause a brief outage on each host. Are you sure?"),
        Command::Remove(RemoveArgs { confirmed: false }) => Some("This will remove all containers and images. Are you sure?"),
        Command::Upgrade(UpgradeArgs { confirmed: false, .. }) => Some("This will replace Traefik with kamal-proxy and restart all accessories"),
        Command::Accessory(AccessoryCommand::Upgrade { confirmed: false, .. }) => Some("This will restart all accessories"),
        _ => None,
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Config(_) => "config",
        Command::Dashboard(_) => "dashboard",
        Command::Workspace(_) => "workspace",
        Command::Setup(_) => "setup",
        Command::Deploy(_) => "deploy",
        Command::Redeploy(_) => "redeploy",
        Command::Rollback(_) => "rollback",
        Command::Details(_) => "details",
        Command::Audit => "audit",
        Command::App(_) => "app",
        Command::Lock(_) => "lock",
        Command::Prune(_) => "prune",
        Command::Proxy(_) => "proxy",
        Command::Accessory(_) => "accessory",
        Command::Registry(_) => "registry",
        Command::Server(_) => "server",
        Command::Remove(_) => "remove",
        Command::Build(_) => "build",
        Command::Secrets(_) => "secrets",
        Command::Init(_) => "init",
        Command::Docs(_) => "docs",
        Command::Version => "version",
        Command::Upgrade(_) => "upgrade",
        Command::Tunnel(_) => "tunnel",
    }
}

/// Kamal's `[y, N]` question on a terminal; without one, the question and how to confirm
/// (`-y`) go to stderr and the answer is no.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        crate::errln!("{question} (pass -y to confirm without a terminal)");
        return false;
    }
    print!("{question} [y, N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}
