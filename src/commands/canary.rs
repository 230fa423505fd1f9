//! `kdeck deploy --canary`: the first boot group (or, without `boot.limit`, the primary role's
//! first host) is deployed alone; its requests through kamal-proxy are then watched for the
//! window and compared with the other hosts', still on the version they run; then the rest
//! is deployed — or the group is rolled back to the version it ran and the deploy stops.
//! Each part is the engine's own deploy/rollback narrowed to its hosts (as `-h`), so every
//! host gets the commands Kamal sends; the lock is taken and released by each part. All parts
//! and the traffic follow share one pool: one connection per host.

use super::context::Ctx;
use crate::app::staged::{audit, canary_split, running_version, side_text};
use crate::cli::{DeployArgs, Global};
use crate::deploy::Request;
use crate::fleet::traffic::canary::{judge, Thresholds, Verdict};
use crate::fleet::traffic::{self, TrafficOptions};
use color_eyre::eyre::{bail, eyre, Result};
use std::process::ExitCode;
use std::time::Duration;

fn scoped(g: &Global, hosts: &[String]) -> Global {
    Global { hosts: Some(hosts.join(",")), roles: None, primary: false, ..g.clone() }
}

pub async fn deploy(ctx: &Ctx, a: &DeployArgs) -> Result<ExitCode> {
    if let Some(split) = crate::app::staged::rollout_split(a.canary_rollout, &a.canary_rollout_list).map_err(|e| eyre!(e))? {
        return super::rollout::deploy(ctx, a, split).await;
    }
    let (canary, rest) = canary_split(ctx);
    if canary.is_empty() || rest.is_empty() {
        bail!(
            "--canary needs hosts besides the canary group (the first boot group, or the primary role's first host); this deploy has {}",
            ctx.app.all_hosts().join(", ")
        );
    }
    let th = Thresholds { max_5xx_pct: a.canary_max_5xx, max_p95_ratio: a.canary_max_p95, min_requests: a.canary_min_requests };
    let version = ctx.version.clone();
    let pool = crate::app::context::live_pool(&ctx.app, &ctx.global)?;
    let spec = crate::app::fleet_spec(&ctx.app, &ctx.lock_host);
    let proxy_hosts = ctx.app.proxy_hosts();
    let (snap_rx, _follow) = traffic::follow(&pool, &spec, &proxy_hosts, TrafficOptions::default());

    crate::outln!("Canary: deploying {version} to {} first, then watching its traffic for {} s", canary.join(", "), a.canary_window);
    let cctx = Ctx::on_pool(&pool, &scoped(&ctx.global, &canary))?;
    let previous = running_version(&cctx, &canary[0]).await;
    let code = super::actions::run_build_request(&cctx, Request::Deploy { skip_push: a.skip_push }, version.clone(), a.no_cache).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(u64::from(a.canary_window))) => {}
        _ = tokio::signal::ctrl_c() => {
            crate::outln!("Canary: interrupted while watching; {} keep {version}, the rest was not deployed", canary.join(", "));
            return Ok(ExitCode::from(1));
        }
    }
    let snap = snap_rx.borrow().clone();
    let (c, b, verdict) = judge(&snap, &canary, &version, a.canary_window, &th);
    if ctx.global.json {
        let v = serde_json::json!({ "canary": { "hosts": canary, "version": version, "traffic": c }, "others": { "hosts": rest, "traffic": b }, "thresholds": th, "result": verdict });
        crate::outln!("{v}");
    }
    crate::outln!("Canary {version} on {}: {}; other hosts: {}", canary.join(", "), side_text(&c), side_text(&b));
    match verdict {
        Verdict::Pass => {
            audit(&cctx, &canary, &format!("Canary {version} passed ({})", side_text(&c))).await;
            crate::outln!("Canary passed: deploying {version} to {}", rest.join(", "));
            let rctx = Ctx::on_pool(&pool, &scoped(&ctx.global, &rest))?;
            super::actions::run_build_request(&rctx, Request::Deploy { skip_push: true }, version, false).await
        }
        Verdict::Inconclusive(why) => {
            audit(&cctx, &canary, &format!("Canary {version} stopped without a verdict: {why}")).await;
            crate::outln!("Canary stopped: {why}; {} keep {version}, the rest was not deployed", canary.join(", "));
            Ok(ExitCode::from(1))
        }
        Verdict::Fail(why) => {
            audit(&cctx, &canary, &format!("Canary {version} failed: {why}")).await;
            crate::outln!("Canary failed: {why}");
            let Some(prev) = previous.filter(|p| p != &version) else {
                crate::outln!("Canary: {} ran no earlier version to roll back to; the rest was not deployed", canary.join(", "));
                return Ok(ExitCode::from(1));
            };
            crate::outln!("Canary: rolling {} back to {prev}; the rest was not deployed", canary.join(", "));
            let code = super::actions::run_request(&cctx, Request::Rollback { version: prev.clone() }, prev).await?;
            Ok(if code == ExitCode::SUCCESS { ExitCode::from(1) } else { code })
        }
    }
}
