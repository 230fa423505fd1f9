//! A row's container read with `docker inspect` over the host's shared connection (bollard on
//! the forwarded socket, no command on the host) and turned into the inspect overlay's view,
//! the secret values masked before anything leaves this module.

use super::dispatch::Update;
use super::rows::{mask_env, scrub, InspectView, RowTarget};
use crate::docker::DockerHost;
use crate::kamal::AppSpec;
use crate::ssh::Session;

/// The env names whose values the config writes in the clear for `target`, and every secret
/// value the config knows (the app's secrets, the role's or accessory's secret env).
fn env_knowledge(app: &AppSpec, target: &RowTarget) -> (Vec<String>, Vec<String>) {
    let mut secrets: Vec<String> = app.secrets.iter().map(|(_, v)| v.clone()).collect();
    let clear: Vec<String> = match target {
        RowTarget::Container { role, host } => match app.role(role) {
            Some(r) => {
                secrets.extend(r.env_secret.iter().chain(r.host_env_secret.values().flatten()).map(|(_, v)| v.clone()));
                r.host_env.get(host).unwrap_or(&r.env_clear).iter().map(|(k, _)| k.clone()).collect()
            }
            None => vec![],
        },
        RowTarget::Accessory { name, .. } => match app.accessories.iter().find(|a| &a.name == name) {
            Some(a) => {
                secrets.extend(a.env_secret.iter().map(|(_, v)| v.clone()));
                a.env_clear.iter().map(|(k, _)| k.clone()).collect()
            }
            None => vec![],
        },
        RowTarget::Role { .. } => vec![],
    };
    secrets.retain(|s| !s.is_empty());
    (clear, secrets)
}

/// The inspect view of `container` on the target's host.
pub async fn read(session: &Session, app: &AppSpec, target: &RowTarget, container: &str) -> InspectView {
    let mut v = InspectView { host: target.host().unwrap_or_default().to_string(), container: container.to_string(), ..Default::default() };
    let dh = DockerHost::new(session);
    let i = match dh.inspect(container).await {
        Ok(i) => i,
        Err(e) => {
            v.error = Some(e.to_string());
            return v;
        }
    };
    let (clear, secrets) = env_knowledge(app, target);
    let cfg = i.config.clone().unwrap_or_default();
    v.image = cfg.image.clone().unwrap_or_default();
    let image_env = match dh.api.inspect_image(&v.image).await {
        Ok(im) => im.config.and_then(|c| c.env).unwrap_or_default(),
        Err(_) => vec![],
    };
    v.env = mask_env(&cfg.env.unwrap_or_default(), &clear, &image_env, &secrets);
    let mut labels: Vec<(String, String)> = cfg.labels.unwrap_or_default().into_iter().map(|(k, val)| (k, scrub(&val, &secrets))).collect();
    labels.sort();
    v.labels = labels;
    if let Some(s) = &i.state {
        let status = s.status.map(|s| s.to_string()).unwrap_or_default();
        v.state = match s.exit_code {
            Some(code) if status != "running" => format!("{status} ({code})"),
            _ => status,
        };
        v.started = s.started_at.clone().filter(|t| !t.starts_with("0001"));
        if let Some(h) = &s.health {
            v.health = h.status.map(|s| s.to_string()).filter(|s| !s.is_empty());
            v.health_log = h
                .log
                .iter()
                .flatten()
                .map(|r| {
                    let at = r.start.as_ref().map(|d| d.to_string()).unwrap_or_default();
                    let out = r.output.as_deref().unwrap_or_default().trim().replace('\n', " ⏎ ");
                    format!("{at} exit {} {}", r.exit_code.unwrap_or(-1), scrub(&out, &secrets))
                })
                .collect();
        }
    }
    v.restart_count = i.restart_count.unwrap_or(0);
    v.mounts = i
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            let kind = m.typ.clone().map(|t| t.to_string()).unwrap_or_default();
            let from = m.name.clone().filter(|n| !n.is_empty()).or(m.source.clone()).unwrap_or_default();
            let rw = if m.rw.unwrap_or(true) { "rw" } else { "ro" };
            format!("{kind} {from} → {} ({rw})", m.destination.clone().unwrap_or_default())
        })
        .collect();
    let mut ports: Vec<String> = i
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|(port, binds)| {
            let to: Vec<String> = binds
                .unwrap_or_default()
                .iter()
                .map(|b| format!("{}:{}", b.host_ip.clone().unwrap_or_default(), b.host_port.clone().unwrap_or_default()))
                .collect();
            if to.is_empty() {
                format!("{port} (not published)")
            } else {
                format!("{port} → {}", to.join(", "))
            }
        })
        .collect();
    ports.sort();
    v.ports = ports;
    v
}

/// Reads the container in the background; the view comes back as [`Update::Inspect`].
pub fn spawn(
    pool: &crate::ssh::Pool,
    ctx: std::sync::Arc<crate::app::context::Ctx>,
    target: RowTarget,
    container: String,
    up: tokio::sync::mpsc::Sender<Update>,
) {
    let session = pool.get(target.host().unwrap_or_default());
    tokio::spawn(async move {
        let v = read(&session, &ctx.full, &target, &container).await;
        let _ = up.send(Update::Inspect(Box::new(v))).await;
    });
}
