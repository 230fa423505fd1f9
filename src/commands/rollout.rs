//! `kdeck deploy --canary --canary-rollout PERCENT` (or `--canary-rollout-list`): a canary on an
//! app with one web host, through kamal-proxy's own rollout. The new version is booted beside
//! the live one and kamal-proxy sends it the requests whose `kamal-rollout` cookie the split
//! picks; its requests are judged against the live version's on the same host for the window;
//! then the rollout is stopped (every request to the live version again, the new container
//! stopped, the lock released) and, when it passed, the usual deploy runs on every host.
//! Ctrl-C while watching stops the rollout the same way.

use super::context::Ctx;
use crate::app::staged::{audit, rollout_host, rollout_live, running_version, side_text};
use crate::cli::{DeployArgs, Global};
use crate::deploy::Request;
use crate::fleet::traffic::canary::{judge_rollout, Thresholds, Verdict};
use crate::fleet::traffic::{self, TrafficOptions};
use crate::kamal::cmd::RolloutSplit;
use color_eyre::eyre::{eyre, Result};
use std::process::ExitCode;
use std::time::Duration;

pub async fn deploy(ctx: &Ctx, a: &DeployArgs, split: RolloutSplit) -> Result<ExitCode> {
    let host = rollout_host(ctx).map_err(|e| eyre!("--canary-rollout: {e}"))?;
    let th = Thresholds { max_5xx_pct: a.canary_max_5xx, max_p95_ratio: a.canary_max_p95, min_requests: a.canary_min_requests };
    let version = ctx.version.clone();
    let pool = crate::app::context::live_pool(&ctx.app, &ctx.global)?;
    let hctx = Ctx::on_pool(&pool, &Global { hosts: Some(host.clone()), roles: None, primary: false, ..ctx.global.clone() })?;
    let live = rollout_live(running_version(&hctx, &host).await, &version, &host).map_err(|e| eyre!("--canary-rollout: {e}"))?;
    let live_shown = live.clone();
    let spec = crate::app::fleet_spec(&ctx.app, &ctx.lock_host);
    let (snap_rx, _follow) = traffic::follow(&pool, &spec, std::slice::from_ref(&host), TrafficOptions::default());

    crate::outln!(
        "Canary: {version} beside {live_shown} on {host} through kamal-proxy's rollout ({}), then its traffic is watched for {} s",
        split.describe(),
        a.canary_window
    );
    let start = Request::RolloutStart { skip_push: a.skip_push, split: split.clone() };
    let code = super::actions::run_build_request(&hctx, start, version.clone(), a.no_cache).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let stopping = || crate::outln!("Canary: stopping the rollout on {host} ({live_shown} serves every request again)");
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(u64::from(a.canary_window))) => {}
        _ = tokio::signal::ctrl_c() => {
            crate::outln!("Canary: interrupted while watching");
            stopping();
            super::actions::run_request(&hctx, Request::RolloutStop, version.clone()).await?;
            crate::outln!("Canary: nothing was deployed");
            return Ok(ExitCode::from(1));
        }
    }
    let snap = snap_rx.borrow().clone();
    let (c, b, verdict) = judge_rollout(&snap, &host, &version, a.canary_window, &th);
    if ctx.global.json {
        let v = serde_json::json!({
            "canary": { "hosts": [&host], "version": version, "rollout": split, "traffic": c },
            "others": { "hosts": [&host], "version": live, "traffic": b },
            "thresholds": th,
            "result": verdict,
        });
        crate::outln!("{v}");
    }
    crate::outln!("Canary {version} on {host} (rollout target): {}; {live_shown} (live target): {}", side_text(&c), side_text(&b));
    let (line, passed) = match &verdict {
        Verdict::Pass => (format!("Canary {version} passed through kamal-proxy's rollout ({})", side_text(&c)), true),
        Verdict::Inconclusive(why) => (format!("Canary {version} stopped without a verdict: {why}"), false),
        Verdict::Fail(why) => (format!("Canary {version} failed: {why}"), false),
    };
    audit(&hctx, std::slice::from_ref(&host), &line).await;
    match &verdict {
        Verdict::Pass => {}
        Verdict::Inconclusive(why) => crate::outln!("Canary stopped without a verdict: {why}"),
        Verdict::Fail(why) => crate::outln!("Canary failed: {why}"),
    }
    stopping();
    let stopped = super::actions::run_request(&hctx, Request::RolloutStop, version.clone()).await?;
    if !passed || stopped != ExitCode::SUCCESS {
        crate::outln!("Canary: nothing was deployed");
        return Ok(if stopped == ExitCode::SUCCESS { ExitCode::from(1) } else { stopped });
    }
    crate::outln!("Canary passed: deploying {version} to {}", ctx.app.all_hosts().join(", "));
    let all = Ctx::on_pool(&pool, &ctx.global)?;
    super::actions::run_build_request(&all, Request::Deploy { skip_push: true }, version, false).await
}
