//! A deploy in parts — a canary (`deploy --canary`, the dashboard's canary) or one host first —
//! shares these rules between the headless command and the dashboard: which hosts go first,
//! what the first part ran before (what a failed canary rolls back to), how a side's traffic
//! reads, and the verdict's audit line.

use super::context::Ctx;
use crate::fleet::traffic::canary::Side;
use crate::fleet::traffic::fmt_ms;
use crate::kamal::cmd::{rollout_value_problem, RolloutSplit};

/// The canary hosts and the rest: the first boot group when `boot.limit` makes several, else
/// the primary role's first host.
pub fn canary_split(ctx: &Ctx) -> (Vec<String>, Vec<String>) {
    let hosts = ctx.app.all_hosts();
    let groups = ctx.app.boot_groups(&hosts);
    let canary = if groups.len() > 1 {
        groups[0].clone()
    } else {
        ctx.app.roles.iter().find(|r| r.name == ctx.app.primary_role).and_then(|r| r.hosts.first().cloned()).into_iter().collect()
    };
    let rest = hosts.into_iter().filter(|h| !canary.contains(h)).collect();
    (canary, rest)
}

/// The one host behind kamal-proxy, where a rollout canary runs (kamal-proxy splits requests
/// between two targets of one service on one host); Err: why there is none.
pub fn rollout_host(ctx: &Ctx) -> Result<String, String> {
    match ctx.app.proxy_hosts().as_slice() {
        [h] => Ok(h.clone()),
        [] => Err("a rollout canary needs a role behind kamal-proxy; this app has none".into()),
        hs => Err(format!(
            "a rollout canary needs a single web host (kamal-proxy splits requests between two targets on one host); {} hosts run roles behind kamal-proxy here ({}): use a canary of the first boot group instead",
            hs.len(),
            hs.join(", ")
        )),
    }
}

/// The live version a rollout canary of `version` splits with on `host` (`live`: what runs
/// there now); Err: why there is nothing to split with.
pub fn rollout_live(live: Option<String>, version: &str, host: &str) -> Result<String, String> {
    match live {
        Some(l) if l == version => Err(format!("{version} already serves on {host}; there is nothing to split")),
        Some(l) => Ok(l),
        None => Err(format!("no version runs on {host} yet (or it could not be read): a rollout splits requests with the live version; deploy first")),
    }
}

/// The split a rollout canary asks kamal-proxy for, from `--canary-rollout` and
/// `--canary-rollout-list` (None: neither given); Err names the bad value.
pub fn rollout_split(percent: Option<u8>, list: &[String]) -> Result<Option<RolloutSplit>, String> {
    if percent.is_none() && list.is_empty() {
        return Ok(None);
    }
    if let Some(p) = list.iter().find_map(|v| rollout_value_problem(v)) {
        return Err(format!("--canary-rollout-list: {p}"));
    }
    Ok(Some(RolloutSplit { percent, list: list.to_vec() }))
}

/// `first` alone, then the other hosts of the app in scope.
pub fn host_first_split(ctx: &Ctx, first: &str) -> (Vec<String>, Vec<String>) {
    let rest = ctx.app.all_hosts().into_iter().filter(|h| h != first).collect();
    (vec![first.to_string()], rest)
}

/// The version the primary role runs on `host` now (what a failed canary rolls back to).
pub async fn running_version(ctx: &Ctx, host: &str) -> Option<String> {
    let r = ctx.remotes.get(host)?;
    let o = r.exec(&crate::kamal::cmd::list_running_versions(&ctx.app, &ctx.app.primary_role)).await.ok()?;
    o.stdout.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

pub fn side_text(s: &Side) -> String {
    format!("{} requests, {:.1} % 5xx, p95 {}", s.requests, s.error_pct, fmt_ms(s.p95_ms))
}

/// Records a verdict in the hosts' audit log (Kamal's format, read by `kamal audit`).
pub async fn audit(ctx: &Ctx, hosts: &[String], message: &str) {
    let line = crate::kamal::audit::line(chrono::Utc::now(), &ctx.performer, ctx.app.destination.as_deref(), None, message);
    for h in hosts {
        if let Some(r) = ctx.remotes.get(h) {
            let _ = r.exec(&crate::kamal::cmd::audit_record(&ctx.app, &line)).await;
        }
    }
}
