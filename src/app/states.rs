//! What runs where after an interrupted or failed rollout: per host and role, the versions of
//! the app's containers that are running (hosts may run two versions of a role, or be
//! unreachable). Both the headless commands and the dashboard print it on the way out.

use super::context::Ctx;
use crate::kamal::cmd;

/// One line per host and role, led by a heading naming what happened (`interruption`, …).
pub async fn host_states(ctx: &Ctx, after: &str) -> Vec<String> {
    let mut lines = vec![format!("Host states after {after}:")];
    for h in ctx.hosts() {
        let Some(r) = ctx.remotes.get(&h) else { continue };
        for role in ctx.app.roles_on(&h) {
            let line = match r.exec(&cmd::list_running_versions(&ctx.app, &role.name)).await {
                Ok(o) if o.status != 255 => {
                    let list: Vec<&str> = o.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                    format!("running {}", if list.is_empty() { "nothing".to_string() } else { list.join(", ") })
                }
                Ok(o) => format!("state unknown (unreachable: {})", o.stderr.trim()),
                Err(e) => format!("state unknown ({e})"),
            };
            lines.push(format!("  {h} [{}]: {line}", role.name));
        }
    }
    lines
}
