//! The dashboard's deploy in parts: one host first, a canary (as `kdeck deploy --canary`), or a
//! rollout canary (as `kdeck deploy --canary --canary-rollout`: kamal-proxy's own rollout on the
//! one web host, stopped whatever happens, then the deploy of every host when it passed).
//! Each part is the engine's own deploy (or rollback) narrowed to its hosts, as `-h` narrows
//! the headless command, so every host gets the commands Kamal sends; between the parts the
//! screen hears where the deploy stands ([`Stage`]), the canary's verdict included.

use super::dispatch::{Stage, StageState, Update};
use crate::app::context::Ctx;
use crate::app::staged::{audit, running_version, side_text};
use crate::deploy::{AbortHandle, Event, Request as EngineRequest};
use crate::fleet::traffic::canary::{judge, judge_rollout, Thresholds, Verdict};
use crate::fleet::traffic::TrafficSnapshot;
use crate::kamal::cmd::RolloutSplit;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub struct StagedJob {
    pub ctx: Arc<Ctx>,
    pub first: Vec<String>,
    pub rest: Vec<String>,
    pub version: String,
    /// Build and push the image first (the start version without `-P`).
    pub build: bool,
    pub gate: Option<(u32, Thresholds)>,
    /// The dashboard's traffic through kamal-proxy (the canary's figures).
    pub traffic: Option<watch::Receiver<TrafficSnapshot>>,
    /// A rollout canary's split: `first` is the one web host, `rest` every host.
    pub rollout: Option<RolloutSplit>,
}

/// Runs the parts; the engine's events go to `events`, the stage to `up`. Err: why it stopped.
pub async fn run(job: StagedJob, abort: AbortHandle, events: mpsc::UnboundedSender<Event>, up: mpsc::Sender<Update>) -> Result<(), String> {
    let mut stage = Stage {
        first: job.first.clone(),
        rest: job.rest.clone(),
        version: job.version.clone(),
        gate: job.gate,
        state: StageState::First,
        verdict: None,
        rollout: job.rollout.clone(),
    };
    let tell = |stage: &Stage| {
        let up = up.clone();
        let s = stage.clone();
        async move {
            let _ = up.send(Update::Stage(s)).await;
        }
    };
    tell(&stage).await;
    let res = match &job.rollout {
        Some(split) => rollout_parts(&job, split, &abort, &events, &mut stage, &tell).await,
        None => parts(&job, &abort, &events, &mut stage, &tell).await,
    };
    let (ok, summary) = match &res {
        Ok(s) => (true, s.clone()),
        Err(e) => (false, e.clone()),
    };
    stage.state = StageState::Done { ok, summary };
    tell(&stage).await;
    res.map(|_| ())
}

async fn parts<F, Fut>(job: &StagedJob, abort: &AbortHandle, events: &mpsc::UnboundedSender<Event>, stage: &mut Stage, tell: &F) -> Result<String, String>
where
    F: Fn(&Stage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (first, rest) = (job.first.join(","), job.rest.join(","));
    let rest_shown = job.rest.join(", ");
    let fctx = job.ctx.narrowed(Some(first.clone()), None).map_err(|e| e.to_string())?;
    let previous = running_version(&fctx, &job.first[0]).await;
    let deploy = |build: bool| EngineRequest::Deploy { skip_push: !build };
    if let Err(e) = part(&fctx, deploy(job.build), &job.version, abort, events).await {
        return Err(format!("{first}: {}; the rest was not deployed", crate::deploy::event::verdict(&e)));
    }
    if let Some((window_s, th)) = job.gate {
        stage.state = StageState::Watching { since: chrono::Utc::now() };
        tell(stage).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(window_s));
        while tokio::time::Instant::now() < deadline {
            if abort.is_stopping() {
                return Err(format!("aborted while watching; {first} keep {}, the rest was not deployed", job.version));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let snap = job.traffic.as_ref().map(|t| t.borrow().clone()).unwrap_or_default();
        let (c, b, verdict) = judge(&snap, &job.first, &job.version, window_s, &th);
        // The verdict's first line says why; the second has the figures it read.
        let figures = format!("canary: {}; other hosts: {}", side_text(&c), side_text(&b));
        match verdict {
            Verdict::Pass => {
                audit(&fctx, &job.first, &format!("Canary {} passed ({})", job.version, side_text(&c))).await;
                stage.verdict = Some((true, format!("canary passed\n{figures}")));
            }
            Verdict::Inconclusive(why) => {
                audit(&fctx, &job.first, &format!("Canary {} stopped without a verdict: {why}", job.version)).await;
                stage.verdict = Some((false, format!("canary stopped without a verdict: {why}\n{figures}")));
                return Err(format!("{first} keep {}, the rest was not deployed", job.version));
            }
            Verdict::Fail(why) => {
                audit(&fctx, &job.first, &format!("Canary {} failed: {why}", job.version)).await;
                stage.verdict = Some((false, format!("canary failed: {why}\n{figures}")));
                stage.state = StageState::RollingBack;
                tell(stage).await;
                let back = match previous.filter(|p| p != &job.version) {
                    Some(p) => {
                        let r = part(&fctx, EngineRequest::Rollback { version: p.clone() }, &p, abort, events).await;
                        match r {
                            Ok(()) => format!("{first} rolled back to {p}"),
                            Err(e) => format!("rolling {first} back to {p} failed: {e}"),
                        }
                    }
                    None => format!("{first} ran no earlier version to roll back to"),
                };
                return Err(format!("{back}; the rest was not deployed"));
            }
        }
    }
    if job.rest.is_empty() {
        return Ok(format!("{} deployed to {first}", job.version));
    }
    stage.state = StageState::Rest;
    tell(stage).await;
    let rctx = job.ctx.narrowed(Some(rest.clone()), None).map_err(|e| e.to_string())?;
    part(&rctx, deploy(false), &job.version, abort, events).await.map_err(|e| format!("the rest ({rest_shown}): {}", crate::deploy::event::verdict(&e)))?;
    Ok(format!("{} deployed to {first}, then {rest_shown}", job.version))
}

/// A rollout canary: the rollout on the one web host, the watch, the rollout stopped (also after
/// an abort or a failure), then the deploy of every host when it passed.
async fn rollout_parts<F, Fut>(
    job: &StagedJob,
    split: &RolloutSplit,
    abort: &AbortHandle,
    events: &mpsc::UnboundedSender<Event>,
    stage: &mut Stage,
    tell: &F,
) -> Result<String, String>
where
    F: Fn(&Stage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (host, v) = (job.first.join(","), job.version.as_str());
    let hctx = job.ctx.narrowed(Some(host.clone()), None).map_err(|e| e.to_string())?;
    let live = crate::app::staged::rollout_live(running_version(&hctx, &host).await, v, &host)?;
    let start = EngineRequest::RolloutStart { skip_push: !job.build, split: split.clone() };
    part(&hctx, start, v, abort, events).await.map_err(|e| format!("{host}: {}; nothing was deployed", crate::deploy::event::verdict(&e)))?;
    let (window_s, th) = job.gate.unwrap_or_default();
    stage.state = StageState::Watching { since: chrono::Utc::now() };
    tell(stage).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(window_s));
    let mut aborted = false;
    while tokio::time::Instant::now() < deadline && !aborted {
        aborted = abort.is_stopping();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut passed = false;
    if !aborted {
        let snap = job.traffic.as_ref().map(|t| t.borrow().clone()).unwrap_or_default();
        let (c, b, verdict) = judge_rollout(&snap, &host, v, window_s, &th);
        let figures = format!("canary (rollout target): {}; live target: {}", side_text(&c), side_text(&b));
        let (line, shown) = match &verdict {
            Verdict::Pass => (format!("Canary {v} passed through kamal-proxy's rollout ({})", side_text(&c)), "canary passed".to_string()),
            Verdict::Inconclusive(why) => (format!("Canary {v} stopped without a verdict: {why}"), format!("canary stopped without a verdict: {why}")),
            Verdict::Fail(why) => (format!("Canary {v} failed: {why}"), format!("canary failed: {why}")),
        };
        audit(&hctx, &job.first, &line).await;
        passed = verdict == Verdict::Pass;
        stage.verdict = Some((passed, format!("{shown}\n{figures}")));
    }
    stage.state = StageState::Stopping;
    tell(stage).await;
    // Even after an abort: a fresh handle, so every step of the stop runs.
    let stopped = part(&hctx, EngineRequest::RolloutStop, v, &AbortHandle::new(), events).await;
    match (stopped, aborted, passed) {
        (Err(e), _, _) => return Err(format!("stopping the rollout on {host} failed: {e}; nothing was deployed")),
        (Ok(()), true, _) => {
            return Err(format!("aborted while watching; the rollout on {host} was stopped ({live} serves every request), nothing was deployed"))
        }
        (Ok(()), false, false) => return Err(format!("the rollout on {host} was stopped ({live} serves every request); nothing was deployed")),
        (Ok(()), false, true) => {}
    }
    stage.state = StageState::Rest;
    tell(stage).await;
    let rest = job.rest.join(", ");
    part(&job.ctx, EngineRequest::Deploy { skip_push: true }, v, abort, events)
        .await
        .map_err(|e| format!("the deploy ({rest}): {}", crate::deploy::event::verdict(&e)))?;
    Ok(format!("{v} passed its rollout on {host}, then deployed to {rest}"))
}

/// One engine run of a part; its events go to the screen.
async fn part(ctx: &Ctx, req: EngineRequest, version: &str, abort: &AbortHandle, events: &mpsc::UnboundedSender<Event>) -> Result<(), String> {
    let engine = ctx.engine(version.to_string(), events.clone(), abort.clone());
    engine.run(req).await.map_err(|e| e.to_string())
}
