//! `kdeck build …`: the engine's build requests, and `build details` (local only).

use super::actions;
use super::context::{self, Ctx};
use crate::cli::BuildCommand;
use crate::deploy::Request;
use crate::kamal::cmd::builder::{self as bcmd, Builder};
use color_eyre::eyre::Result;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(mut ctx: Ctx, b: &BuildCommand) -> Result<ExitCode> {
    add_remote_builder(&mut ctx)?;
    let v = ctx.version.clone();
    let req = match b {
        BuildCommand::Push(a) => Request::BuildPush { output: a.output.clone(), no_cache: a.no_cache },
        BuildCommand::Deliver => Request::BuildDeliver,
        BuildCommand::Pull => Request::BuildPull,
        BuildCommand::Create => Request::BuildCreate,
        BuildCommand::Remove => Request::BuildRemove,
        BuildCommand::Dev(a) => Request::BuildDev { output: a.output.clone(), no_cache: a.no_cache },
        BuildCommand::Details => return details(&ctx).await,
    };
    actions::run_request(&ctx, req, v).await
}

/// The `ssh://` build host joins the hosts the engine can reach, with the URL's user and port.
fn add_remote_builder(ctx: &mut Ctx) -> Result<()> {
    let Some((user, host, port)) = ctx.app.build.remote.as_deref().and_then(bcmd::ssh_remote) else { return Ok(()) };
    if ctx.remotes.contains_key(&host) {
        return Ok(());
    }
    let mut a = (*ctx.app).clone();
    if user.is_some() {
        a.ssh.user = user;
    }
    if port.is_some() {
        a.ssh.port = port;
    }
    let pool = context::pool(&a, &ctx.global)?;
    ctx.remotes.insert(host.clone(), Arc::new(pool.get(&host)));
    Ok(())
}

/// `build details`: the builder's kind, then what `docker context ls` and `docker buildx ls` say.
async fn details(ctx: &Ctx) -> Result<ExitCode> {
    let app = ctx.app.clone();
    let arch = tokio::task::spawn_blocking(move || crate::deploy::build::local_docker_arch(&app)).await.unwrap_or_default();
    let b = Builder::new(&ctx.app, arch);
    crate::outln!("Builder: {}", b.kind().as_str());
    let info = b.info();
    let out = tokio::process::Command::new("sh").arg("-c").arg(&info).current_dir(&ctx.app.root).stdin(std::process::Stdio::null()).output().await?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        crate::errln!("ERROR: {info} failed (exit status {}):\n{}", out.status.code().unwrap_or(1), text.trim_end());
        return Ok(ExitCode::from(1));
    }
    crate::outln!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}
