//! `kdeck tunnel NAME [LOCAL:]PORT`: see [`crate::app::tunnel`].

use super::context::Ctx;
use crate::app::tunnel;
use crate::cli::TunnelArgs;
use color_eyre::eyre::Result;
use std::process::ExitCode;

pub async fn run(ctx: &Ctx, a: &TunnelArgs) -> Result<ExitCode> {
    let ports = tunnel::parse_ports(&a.ports)?;
    let pool = crate::app::context::live_pool(&ctx.app, &ctx.global)?;
    // `-h H`: the container on H (the first host given), when the accessory or role has it.
    let host = ctx.global.hosts.as_deref().and_then(|h| h.split(',').next()).map(str::trim);
    let t = tunnel::open(&pool, &ctx.app, &a.name, host, ports, &a.bind).await?;
    crate::outln!("Forwarding {} → {} over ssh; Ctrl-C stops", t.local, t.description);
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}
