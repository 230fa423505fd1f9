//! What the dashboard's row actions run: the engine requests of the headless commands on the
//! app narrowed to the row, and the remote command of a shell in a container or on a host.

use super::rows::{RowOp, RowTarget, ShellTarget, HOST_SHELL};
use crate::app::context::Ctx;
use crate::deploy::{AccessoryAction, Request as EngineRequest};
use crate::kamal::cmd;
use std::sync::Arc;

/// Engine requests to run one after the other, each with the version it runs at.
pub type Steps = Vec<(EngineRequest, String)>;

/// The app narrowed to the row (`-r ROLE`, `-h HOST`) and the requests to run there one after
/// the other, each with the version it runs at — what these headless commands run:
/// `app boot|start|stop|remove -r ROLE [-h HOST]` (a restart: `app stop`, then `app start
/// --version` of the row's container), `accessory boot|start|stop|restart|remove NAME -h HOST`,
/// `proxy reboot -h HOST`.
pub fn steps(ctx: &Ctx, op: RowOp, target: &RowTarget, version: Option<String>) -> color_eyre::Result<(Arc<Ctx>, Steps)> {
    let (hosts, roles) = match target {
        RowTarget::Role { role } => (None, Some(role.clone())),
        RowTarget::Container { role, host } => (Some(host.clone()), Some(role.clone())),
        RowTarget::Accessory { host, .. } => (Some(host.clone()), None),
    };
    // `proxy reboot -h HOST` names only the host.
    let roles = if op == RowOp::ProxyReboot { None } else { roles };
    let narrowed = Arc::new(ctx.narrowed(hosts, roles)?);
    let v = narrowed.version.clone();
    // As `app start` without --version would not find the row's container: its version.
    let start_v = version.unwrap_or_else(|| v.clone());
    // As `kdeck app boot`: `--version`, else the latest tag.
    let boot_v = ctx.global.version.clone().unwrap_or_else(|| "latest".into());
    let steps = match (op, target) {
        (op, RowTarget::Accessory { name, .. }) => {
            let action = match op {
                RowOp::Boot => AccessoryAction::Boot,
                RowOp::Start => AccessoryAction::Start,
                RowOp::Stop => AccessoryAction::Stop,
                RowOp::Restart => AccessoryAction::Restart,
                RowOp::Remove => AccessoryAction::Remove,
                other => return Err(color_eyre::eyre::eyre!("{} is not an accessory action", other.name())),
            };
            vec![(EngineRequest::Accessory { action, name: name.clone() }, v)]
        }
        (RowOp::Boot, _) => vec![(EngineRequest::AppBoot, boot_v)],
        (RowOp::Start, _) => vec![(EngineRequest::AppStart, start_v)],
        (RowOp::Stop, _) => vec![(EngineRequest::AppStop, v)],
        (RowOp::Restart, _) => vec![(EngineRequest::AppStop, v), (EngineRequest::AppStart, start_v)],
        (RowOp::Remove, _) => vec![(EngineRequest::AppRemove, v)],
        (RowOp::ProxyReboot, _) => vec![(EngineRequest::ProxyReboot { rolling: false }, v)],
        (other, _) => return Err(color_eyre::eyre::eyre!("{} does not run on the engine", other.name())),
    };
    Ok((narrowed, steps))
}

/// The remote command of a shell from the dashboard, run on the target's host: the same as
/// `app exec -i --reuse -r ROLE -h HOST sh` (the role's running version asked first),
/// `accessory exec -i --reuse NAME -h HOST sh`, or `server exec -i -h HOST` with the login
/// shell. `None`: nothing to open it in.
pub async fn shell_remote(ctx: &Ctx, session: &crate::ssh::Session, target: &ShellTarget) -> Result<String, String> {
    let app = &ctx.full;
    let tty = cmd::ExecMode::Interactive { tty: true };
    match target {
        ShellTarget::App { host, role: None, reuse } => {
            let role = app.roles_on(host).first().map(|r| (*r).clone()).ok_or_else(|| format!("no role on {host}"))?;
            Ok(if *reuse {
                format!("docker exec -it $(docker ps --latest --quiet {} --filter status=running) sh", cmd::filters(app, Some(&role.name)))
            } else {
                // As `kamal app exec -i` (and `kdeck app exec -i`) without --version: the image
                // tagged latest on the host, i.e. the last version fully deployed there.
                cmd::app_exec_run(app, &role, host, &app.latest_tag(), &crate::kamal::random_hex(6), &[], tty, "sh")
            })
        }
        ShellTarget::App { role: Some(role), .. } => {
            let v = match &ctx.global.version {
                Some(v) => v.clone(),
                None => {
                    let out = session.exec(&cmd::current_running_version(app, role)).await.map_err(|e| e.to_string())?;
                    let v = out.stdout.trim().to_string();
                    if v.is_empty() {
                        ctx.version.clone()
                    } else {
                        v
                    }
                }
            };
            Ok(cmd::app_exec_reuse(app, role, &v, &[], tty, "sh"))
        }
        ShellTarget::Accessory { name, .. } => {
            let a = app.accessories.iter().find(|a| &a.name == name).ok_or_else(|| format!("no accessory {name}"))?;
            Ok(crate::kamal::accessory::exec_existing(a, tty, "sh"))
        }
        ShellTarget::Host { .. } => Ok(HOST_SHELL.to_string()),
    }
}

/// A shell over the dashboard's own connection to the host (a pty channel, no OpenSSH
/// client): in a container or on the host itself (see [`shell_remote`]).
pub fn shell_command(ctx: Arc<Ctx>, pool: crate::ssh::Pool) -> super::term::ShellCommand {
    Box::new(move |target: &ShellTarget| {
        let session = pool.get(target.host());
        let (ctx, target) = (ctx.clone(), target.clone());
        Some(Box::pin(async move {
            let remote = shell_remote(&ctx, &session, &target).await?;
            crate::ssh::interactive::run_on_terminal(&session, &remote).await.map_err(|e| e.to_string())
        }))
    })
}
