//! A deploy in parts — a canary (`deploy --canary`, the dashboard's canary) or one host first —
//! shares these rules between the headless command and the dashboard: which hosts go first,
//! what the first part ran before (what a failed canary rolls back to), how a side's traffic
//! reads, and the verdict's audit line.

use super::context::Ctx;
use crate::fleet::traffic::canary::Side;
use crate::fleet::traffic::fmt_ms;

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
