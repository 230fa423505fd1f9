//! Server mode: every Kamal app on a set of hosts, whoever deployed it — read from the
//! containers' labels (`service`, `role`, `destination`; an accessory has a `service` label and
//! no role) and from kamal-proxy's routes (`kamal-proxy list`). One container list and one
//! `kamal-proxy list` per host and poll, on the hosts' existing connections.

use super::model::{ConnState, ProxyRoute};
use crate::docker::DockerHost;
use crate::ssh::Session;
use bollard::models::ContainerSummary;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

/// One app (a service and destination) on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ServerApp {
    pub service: String,
    pub destination: Option<String>,
    /// Its roles here (none for an accessory).
    pub roles: Vec<String>,
    /// The image tags its running containers run (newest container first).
    pub versions: Vec<String>,
    pub running: u32,
    pub stopped: u32,
}

impl ServerApp {
    /// `service` or `service/destination`.
    pub fn name(&self) -> String {
        match &self.destination {
            Some(d) => format!("{}/{d}", self.service),
            None => self.service.clone(),
        }
    }

    /// No role label: an accessory (`<service>-<name>`), not an app's role container.
    pub fn accessory(&self) -> bool {
        self.roles.is_empty()
    }

    /// kamal-proxy's service names for its roles (`<service>-<role>[-<destination>]`).
    pub fn proxy_services(&self) -> Vec<String> {
        self.roles
            .iter()
            .map(|r| match &self.destination {
                Some(d) => format!("{}-{r}-{d}", self.service),
                None => format!("{}-{r}", self.service),
            })
            .collect()
    }
}

/// What runs on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerHost {
    pub host: String,
    pub conn: ConnState,
    pub apps: Vec<ServerApp>,
    /// Every route kamal-proxy has here (all apps).
    pub routes: Vec<ProxyRoute>,
    /// Why the host could not be read (the lists above are then the last ones read).
    pub error: Option<String>,
    pub read: bool,
}

impl ServerHost {
    /// kamal-proxy's routes of `app` on this host.
    pub fn routes_of<'a>(&'a self, app: &ServerApp) -> impl Iterator<Item = &'a ProxyRoute> {
        let names = app.proxy_services();
        self.routes.iter().filter(move |r| names.contains(&r.service))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerSnapshot {
    pub hosts: Vec<ServerHost>,
}

/// Groups a host's Kamal containers into apps (sorted by name): roles and versions as labels
/// and image tags say.
pub fn group(list: &[ContainerSummary]) -> Vec<ServerApp> {
    let mut sorted: Vec<&ContainerSummary> = list.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse(c.created.unwrap_or(0)));
    let mut apps: Vec<ServerApp> = Vec::new();
    for c in sorted {
        let get = |k: &str| c.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str).filter(|v| !v.is_empty());
        let Some(service) = get("service") else { continue };
        let destination = get("destination").map(str::to_string);
        let i = match apps.iter().position(|a| a.service == service && a.destination == destination) {
            Some(i) => i,
            None => {
                apps.push(ServerApp { service: service.to_string(), destination, ..Default::default() });
                apps.len() - 1
            }
        };
        let a = &mut apps[i];
        if let Some(r) = get("role") {
            if !a.roles.iter().any(|x| x == r) {
                a.roles.push(r.to_string());
            }
        }
        let running = c.state.map(|s| s.to_string()).as_deref() == Some("running");
        if running {
            a.running += 1;
            let image = c.image.clone().unwrap_or_default();
            // `<repo>:<tag>` (a registry port is followed by a `/`).
            let tag = image.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/')).unwrap_or("?").to_string();
            if !a.versions.contains(&tag) {
                a.versions.push(tag);
            }
        } else {
            a.stopped += 1;
        }
    }
    for a in &mut apps {
        a.roles.sort();
    }
    apps.sort_by_key(|a| a.name());
    apps
}

/// Reads one host (its connection must be up).
pub async fn read_host(session: &Session) -> Result<(Vec<ServerApp>, Vec<ProxyRoute>), String> {
    let dh = DockerHost::new(session);
    let list = dh.kamal_containers().await.map_err(|e| e.to_string())?;
    let proxy = dh.api.list_containers(Some(proxy_filter())).await.map_err(|e| e.to_string())?;
    let routes = if proxy.iter().any(|c| c.state.map(|s| s.to_string()).as_deref() == Some("running")) {
        match tokio::time::timeout(Duration::from_secs(3), dh.exec("kamal-proxy", &["kamal-proxy", "list"])).await {
            Ok(Ok(o)) if o.status == 0 => super::watcher::parse_proxy_list(&o.stdout, ""),
            _ => vec![],
        }
    } else {
        vec![]
    };
    Ok((group(&list), routes))
}

fn proxy_filter() -> bollard::query_parameters::ListContainersOptions {
    let filters = std::collections::HashMap::from([("name".to_string(), vec!["^kamal-proxy$".to_string()])]);
    bollard::query_parameters::ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }
}

/// Stops the polling when dropped.
pub struct ServersHandle {
    _guard: DropGuard,
}

/// Polls `sessions` (one per host) every `every`, publishing what runs on each.
pub fn watch(sessions: Vec<Session>, every: Duration) -> (watch::Receiver<ServerSnapshot>, ServersHandle) {
    let hosts = sessions.iter().map(|s| ServerHost { host: s.host().to_string(), ..Default::default() }).collect();
    let (tx, rx) = watch::channel(ServerSnapshot { hosts });
    let cancel = CancellationToken::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let (tx, cancel) = (tx.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut state = session.state();
            loop {
                let conn = state.borrow_and_update().clone();
                let read = if conn == ConnState::Up { Some(read_host(&session).await) } else { None };
                tx.send_modify(|s| {
                    let h = &mut s.hosts[i];
                    h.conn = conn;
                    match read {
                        Some(Ok((apps, routes))) => {
                            (h.apps, h.routes, h.error, h.read) = (apps, routes, None, true);
                        }
                        Some(Err(e)) => h.error = Some(e),
                        None => {}
                    }
                });
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                    r = state.changed() => if r.is_err() { return },
                }
            }
        });
    }
    (rx, ServersHandle { _guard: cancel.drop_guard() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn c(service: &str, role: Option<&str>, dest: Option<&str>, image: &str, state: &str, created: i64) -> ContainerSummary {
        let mut labels = HashMap::from([("service".to_string(), service.to_string())]);
        if let Some(r) = role {
            labels.insert("role".into(), r.into());
        }
        if let Some(d) = dest {
            labels.insert("destination".into(), d.into());
        }
        ContainerSummary { labels: Some(labels), image: Some(image.into()), state: Some(state.parse().unwrap()), created: Some(created), ..Default::default() }
    }

    #[test]
    fn containers_group_into_apps_by_service_and_destination() {
        let list = vec![
            c("shop", Some("web"), Some("staging"), "10.0.0.1:5000/shop:v2", "running", 20),
            c("shop", Some("web"), Some("staging"), "10.0.0.1:5000/shop:v1", "exited", 10),
            c("shop", Some("worker"), Some("staging"), "10.0.0.1:5000/shop:v2", "running", 21),
            c("shop", Some("web"), Some("production"), "shop:v1", "running", 5),
            c("blog", Some("web"), None, "blog:abc", "running", 1),
            c("blog-db", None, None, "postgres:16", "running", 1),
        ];
        let apps = group(&list);
        let names: Vec<String> = apps.iter().map(ServerApp::name).collect();
        assert_eq!(names, vec!["blog", "blog-db", "shop/production", "shop/staging"]);
        let staging = &apps[3];
        assert_eq!(
            (staging.roles.clone(), staging.versions.clone(), staging.running, staging.stopped),
            (vec!["web".into(), "worker".into()], vec!["v2".to_string()], 2, 1)
        );
        assert_eq!(staging.proxy_services(), vec!["shop-web-staging", "shop-worker-staging"]);
        assert!(apps[1].accessory() && !apps[0].accessory());
        assert_eq!(apps[1].versions, vec!["16"]);
    }
}
