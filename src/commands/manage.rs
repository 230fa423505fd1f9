//! `kdeck proxy …`, `kdeck registry …` and `kdeck server …`: the engine's management requests,
//! the proxy views and the exec on hosts.

use super::context::Ctx;
use super::{actions, exec, views};
use crate::cli::{ProxyCommand, RegistryArgs, RegistryCommand, ServerCommand};
use crate::deploy::{RegistryAction, Request};
use color_eyre::eyre::Result;
use std::process::ExitCode;

pub async fn proxy(ctx: &Ctx, p: &ProxyCommand) -> Result<ExitCode> {
    let v = ctx.version.clone();
    let req = match p {
        ProxyCommand::Details => return views::proxy_details(ctx).await,
        ProxyCommand::Logs(l) => return views::proxy_logs(ctx, l).await,
        ProxyCommand::Traffic(t) => return super::traffic::run(ctx, t).await,
        ProxyCommand::BootConfig(b) => return super::boot_config::run(ctx, b).await,
        ProxyCommand::Boot => Request::ProxyBoot,
        ProxyCommand::Reboot { rolling, .. } => Request::ProxyReboot { rolling: *rolling },
        ProxyCommand::Start => Request::ProxyStart,
        ProxyCommand::Stop => Request::ProxyStop,
        ProxyCommand::Restart => Request::ProxyRestart,
        ProxyCommand::Remove { force } => Request::ProxyRemove { force: *force },
    };
    actions::run_request(ctx, req, v).await
}

pub async fn registry(ctx: &Ctx, r: &RegistryCommand) -> Result<ExitCode> {
    let (action, a): (RegistryAction, &RegistryArgs) = match r {
        RegistryCommand::Setup(a) => (RegistryAction::Setup, a),
        RegistryCommand::Remove(a) => (RegistryAction::Remove, a),
        RegistryCommand::Login(a) => (RegistryAction::Login, a),
        RegistryCommand::Logout(a) => (RegistryAction::Logout, a),
    };
    let req = Request::Registry { action, local: !a.skip_local, remote: !a.skip_remote };
    actions::run_request(ctx, req, ctx.version.clone()).await
}

pub async fn server(ctx: &Ctx, s: &ServerCommand) -> Result<ExitCode> {
    match s {
        ServerCommand::Exec { interactive, cmd } => exec::server_exec(ctx, *interactive, cmd).await,
        ServerCommand::Bootstrap => actions::run_request(ctx, Request::ServerBootstrap, ctx.version.clone()).await,
    }
}
