//! Tunnels: a local port forwarded to an accessory's or a role's container over the host's
//! ssh connection (an ssh `direct-tcpip` channel per client connection, to the container's
//! address on its Docker network), e.g. `psql` to the postgres accessory without publishing its
//! port. `kdeck tunnel` and the dashboard's `o` both open them here. kdeck only.

use crate::docker::DockerHost;
use crate::kamal::AppSpec;
use crate::ssh::Pool;
use color_eyre::eyre::{bail, eyre, Result, WrapErr};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// What the tunnel reaches: a container on a host.
struct Target {
    host: String,
    container: String,
    kind: &'static str,
}

/// An open tunnel; dropping it stops listening (connections already carried finish).
pub struct Tunnel {
    pub local: SocketAddr,
    /// `accessory db (app-db) port 5432 on 10.0.0.5 (172.18.0.3:5432)`.
    pub description: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `[LOCAL:]PORT` → (local, remote); LOCAL defaults to PORT, 0 picks a free one.
pub fn parse_ports(s: &str) -> Result<(u16, u16)> {
    let bad = || eyre!("tunnel: `{s}` is not [LOCAL:]PORT (ports 1–65535; LOCAL may be 0 for any free port)");
    let (local, remote) = match s.split_once(':') {
        Some((l, r)) => (l.parse::<u16>().map_err(|_| bad())?, r.parse::<u16>().map_err(|_| bad())?),
        None => {
            let p = s.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if remote == 0 {
        return Err(bad());
    }
    Ok((local, remote))
}

/// The accessory of that name on `host` (else its first host), else the role's current
/// container on `host` (else the role's first host).
async fn target(app: &AppSpec, name: &str, host: Option<&str>, pool: &Pool) -> Result<Target> {
    if let Some(a) = app.accessories.iter().find(|a| a.name == name) {
        let host = a.hosts.iter().find(|h| Some(h.as_str()) == host).or(a.hosts.first()).cloned();
        let host = host.ok_or_else(|| eyre!("tunnel: accessory {name} has no host"))?;
        return Ok(Target { host, container: a.service_name.clone(), kind: "accessory" });
    }
    let Some(role) = app.roles.iter().find(|r| r.name == name) else {
        let acc: Vec<&str> = app.accessories.iter().map(|a| a.name.as_str()).collect();
        let roles: Vec<&str> = app.roles.iter().map(|r| r.name.as_str()).collect();
        bail!("tunnel: no accessory or role named {name} (accessories: {}; roles: {})", list(&acc), list(&roles));
    };
    let host = role.hosts.iter().find(|h| Some(h.as_str()) == host).or(role.hosts.first()).cloned();
    let host = host.ok_or_else(|| eyre!("tunnel: role {name} has no host"))?;
    let dh = DockerHost::new(&pool.get(&host));
    let spec = super::fleet_spec(app, &host);
    let (_, container) =
        crate::fleet::watcher::current_container(&dh, &spec, name).await.ok_or_else(|| eyre!("tunnel: no running container of role {name} on {host}"))?;
    Ok(Target { host, container, kind: "role" })
}

fn list(v: &[&str]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The container's address on its network (the `kamal` network first), or loopback for a
/// container on the host's network.
async fn address(dh: &DockerHost, container: &str) -> Result<String> {
    let i = dh.inspect(container).await.map_err(|e| eyre!("tunnel: {container} on {}: {e} (is it booted?)", dh.host()))?;
    if i.state.as_ref().and_then(|s| s.running) != Some(true) {
        bail!("tunnel: {container} on {} is not running", dh.host());
    }
    let nets = i.network_settings.and_then(|n| n.networks).unwrap_or_default();
    let ip = |n: &bollard::models::EndpointSettings| n.ip_address.clone().filter(|ip| !ip.is_empty());
    if let Some(ip) = nets.get("kamal").and_then(ip).or_else(|| nets.values().find_map(ip)) {
        return Ok(ip);
    }
    if nets.contains_key("host") {
        return Ok("127.0.0.1".into());
    }
    bail!("tunnel: {container} on {} has no network address", dh.host())
}

/// Opens a tunnel to `port` of NAME's container (on `host` when given) on `bind:local`.
pub async fn open(pool: &Pool, app: &AppSpec, name: &str, host: Option<&str>, (local, port): (u16, u16), bind: &str) -> Result<Tunnel> {
    let t = target(app, name, host, pool).await?;
    let session = pool.get(&t.host);
    let ip = address(&DockerHost::new(&session), &t.container).await?;
    let listener = TcpListener::bind((bind, local)).await.wrap_err_with(|| format!("tunnel: cannot listen on {bind}:{local}"))?;
    let at = listener.local_addr().wrap_err("tunnel: local address")?;
    let description = format!("{} {name} ({}) port {port} on {} ({ip}:{port})", t.kind, t.container, t.host);
    let task = tokio::spawn(async move {
        while let Ok((mut client, peer)) = listener.accept().await {
            let (session, ip) = (session.clone(), ip.clone());
            tokio::spawn(async move {
                match session.open_tcp_stream(&ip, port).await {
                    Ok(mut remote) => {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut remote).await;
                    }
                    Err(e) => tracing::warn!("tunnel: {peer}: cannot open {ip}:{port} on {}: {e}", session.host()),
                }
            });
        }
    });
    Ok(Tunnel { local: at, description, task })
}

/// The port a tunnel to NAME defaults to: the container side of an accessory's `port:`, a
/// role's proxy `app_port`, else 80.
pub fn default_port(app: &AppSpec, name: &str) -> u16 {
    if let Some(a) = app.accessories.iter().find(|a| a.name == name) {
        return a.port.as_deref().and_then(|p| p.rsplit(':').next()).and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).unwrap_or(80);
    }
    app.roles.iter().find(|r| r.name == name).and_then(|r| r.proxy.as_ref()).map(|p| p.app_port).unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_local_colon_remote_or_one_port_for_both() {
        assert_eq!(parse_ports("5432").unwrap(), (5432, 5432));
        assert_eq!(parse_ports("15432:5432").unwrap(), (15432, 5432));
        assert_eq!(parse_ports("0:80").unwrap(), (0, 80));
        for bad in ["", "x", "1:", ":80", "80:0", "70000", "1:2:3"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }
}
