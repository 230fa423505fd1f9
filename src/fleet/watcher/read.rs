//! Reading one host for the watcher: its containers (app and accessories), inspects, the
//! current version per role (Kamal's rule), kamal-proxy's routes and the deploy lock, with a
//! small cache so a periodic read asks Docker only what may have changed.

use super::super::model::{ContainerInfo, ProxyRoute};
use super::super::spec::{AccessoryWatch, FleetSpec};
use crate::docker::DockerHost;
use crate::kamal::lock::LockInfo;
use crate::ssh::Session;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) struct Reconciled {
    pub containers: Vec<ContainerInfo>,
    pub accessories: Vec<ContainerInfo>,
    pub current: Vec<(String, String)>,
    pub proxy_running: Option<bool>,
    pub proxy_routes: Vec<ProxyRoute>,
    pub lock: Option<LockInfo>,
}

/// A container's inspect is asked again at least this often, and at once when its state moves
/// or a Docker event arrives (health changes are events).
const INSPECT_MAX_AGE: Duration = Duration::from_secs(30);
/// kamal-proxy's routes (`kamal-proxy list` runs in the proxy container: an exec, the costliest
/// read) are asked again at least this often, and at once after a Docker event of the app (a
/// deploy's switch always comes with container events) or an action.
const PROXY_MAX_AGE: Duration = Duration::from_secs(15);

/// What a periodic read may reuse from the previous one.
#[derive(Default)]
pub(crate) struct ReadCache {
    /// id → (state, when read, inspect)
    inspects: HashMap<String, (String, Instant, Option<ContainerInspectResponse>)>,
    proxy: Option<(Instant, Option<bool>, Vec<ProxyRoute>)>,
}

impl ReadCache {
    /// Something may have changed (a Docker event, an action, a reconnect): ask everything.
    pub fn invalidate(&mut self) {
        self.inspects.clear();
        self.proxy = None;
    }

    async fn inspect(&mut self, dh: &DockerHost, c: &ContainerSummary) -> Option<ContainerInspectResponse> {
        let id = c.id.clone().unwrap_or_default();
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        if let Some((st, at, i)) = self.inspects.get(&id) {
            if *st == state && at.elapsed() < INSPECT_MAX_AGE {
                return i.clone();
            }
        }
        let i = dh.inspect(&id).await.ok();
        self.inspects.insert(id, (state, Instant::now(), i.clone()));
        i
    }

    async fn proxy_view(&mut self, dh: &DockerHost, spec: &FleetSpec) -> (Option<bool>, Vec<ProxyRoute>) {
        if let Some((at, running, routes)) = &self.proxy {
            if at.elapsed() < PROXY_MAX_AGE {
                return (*running, routes.clone());
            }
        }
        let (running, routes) = proxy_view(dh, spec).await;
        self.proxy = Some((Instant::now(), running, routes.clone()));
        (running, routes)
    }
}

/// Reads the host: one container list, the inspects the cache cannot answer, the image tagged
/// latest, kamal-proxy's routes (cached) and, on the lock host, the lock.
pub(crate) async fn reconcile(dh: &DockerHost, spec: &FleetSpec, cache: &mut ReadCache) -> Result<Reconciled, crate::docker::Error> {
    let accs = spec.accessories_of(dh.host());
    // Accessories carry `service=<svc>-<name>` and no destination: Docker ANDs label filters,
    // so a host with accessories lists every Kamal-labelled container in the same single call
    // and the split happens here.
    let list = if accs.is_empty() {
        dh.containers(&spec.filter(None)).await?
    } else {
        let filters = HashMap::from([("label".to_string(), vec!["service".to_string()])]);
        let opts = bollard::query_parameters::ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        dh.api.list_containers(Some(opts)).await?
    };
    let (list, acc_list) = split_containers(list, spec, &accs);
    let mut containers = Vec::with_capacity(list.len());
    for c in &list {
        let inspect = cache.inspect(dh, c).await;
        containers.push(crate::docker::container_info(c, inspect.as_ref(), &spec.service));
    }
    let mut accessories = Vec::with_capacity(acc_list.len());
    for (name, c) in &acc_list {
        let inspect = cache.inspect(dh, c).await;
        accessories.push(accessory_info(c, inspect.as_ref(), name));
    }
    let live: Vec<&str> = list.iter().chain(acc_list.iter().map(|(_, c)| c)).filter_map(|c| c.id.as_deref()).collect();
    cache.inspects.retain(|id, _| live.contains(&id.as_str()));
    let latest_id = latest_image_id(dh, spec).await?;
    let roles = spec.roles_of(dh.host());
    let current = roles.iter().filter_map(|r| current_version(&list, spec, r, latest_id.as_deref()).map(|v| (r.clone(), v))).collect();
    let (proxy_running, proxy_routes) = if roles.is_empty() { (None, vec![]) } else { cache.proxy_view(dh, spec).await };
    let lock = if dh.host() == spec.primary_host { lock_status(&dh.session, &spec.lock_dir).await } else { None };
    Ok(Reconciled { containers, accessories, current, proxy_running, proxy_routes, lock })
}

/// Splits a host's Kamal-labelled containers into the app's (this service and destination, as
/// Kamal's `service=… destination=…` filter selects them) and the accessories' (label
/// `service=<accessory service name>`, tagged with the accessory's name); others are dropped.
pub fn split_containers(list: Vec<ContainerSummary>, spec: &FleetSpec, accs: &[&AccessoryWatch]) -> (Vec<ContainerSummary>, Vec<(String, ContainerSummary)>) {
    let dest = spec.destination.clone().unwrap_or_default();
    let mut app = Vec::new();
    let mut acc = Vec::new();
    for c in list {
        let label = |k: &str| c.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let service = label("service").unwrap_or_default();
        if service == spec.service && label("destination").as_deref() == Some(dest.as_str()) {
            app.push(c);
        } else if let Some(a) = accs.iter().find(|a| a.service_name == service) {
            acc.push((a.name.clone(), c));
        }
    }
    (app, acc)
}

/// An accessory's container in the fleet model's shape: `role` = the accessory's name,
/// `version` = its image's tag (accessory names carry no version).
pub fn accessory_info(c: &ContainerSummary, inspect: Option<&bollard::models::ContainerInspectResponse>, name: &str) -> ContainerInfo {
    let mut info = crate::docker::container_info(c, inspect, "");
    info.role = name.to_string();
    let image = inspect.and_then(|i| i.config.as_ref()).and_then(|c| c.image.clone()).unwrap_or_else(|| info.image.clone());
    info.version = image_tag(&image);
    info.image = image;
    info
}

/// `repo:tag` → `tag` (`latest` when untagged; a digest stays whole).
fn image_tag(image: &str) -> String {
    if let Some((_, d)) = image.split_once('@') {
        return d.to_string();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, t)) => t.to_string(),
        None => "latest".into(),
    }
}

/// Docker events of the app's containers, plus those of this host's accessories (by name:
/// their labels cannot be ORed with the app's in one filter).
pub(super) fn fleet_events(dh: &DockerHost, spec: &FleetSpec) -> crate::docker::BoxStream<Result<bollard::models::EventMessage, crate::docker::Error>> {
    let app = dh.events(&spec.service);
    let names: Vec<String> = spec.accessories_of(dh.host()).iter().map(|a| a.service_name.clone()).collect();
    if names.is_empty() {
        return app;
    }
    let filters = HashMap::from([("type".to_string(), vec!["container".to_string()]), ("container".to_string(), names)]);
    let opts = bollard::query_parameters::EventsOptions { since: Some(chrono::Utc::now().timestamp().to_string()), until: None, filters: Some(filters) };
    Box::pin(futures::stream::select(app, dh.api.events(Some(opts))))
}

/// A role's current container on the host (Kamal's rule, [`current_version`]): (id, name).
pub async fn current_container(dh: &DockerHost, spec: &FleetSpec, role: &str) -> Option<(String, String)> {
    let list = dh.containers(&spec.filter(Some(role))).await.ok()?;
    let latest = latest_image_id(dh, spec).await.ok().flatten();
    let version = current_version(&list, spec, role, latest.as_deref())?;
    let name = format!("{}-{version}", spec.prefix(role));
    let c = list.iter().find(|c| c.names.as_ref().is_some_and(|n| n.iter().any(|n| n.trim_start_matches('/') == name)))?;
    Some((c.id.clone()?, name))
}

/// ID of the image tagged `<repo>:<latest>` on the host.
pub(crate) async fn latest_image_id(dh: &DockerHost, spec: &FleetSpec) -> Result<Option<String>, crate::docker::Error> {
    Ok(dh.images(Some(&spec.latest_image())).await?.into_iter().next().map(|i| i.id))
}

/// Kamal §4.4: the newest running/restarting container of the role whose image is the one
/// tagged `<repo>:<latest>`; else the newest running/restarting one; version = name without
/// `<prefix>-`.
pub fn current_version(list: &[ContainerSummary], spec: &FleetSpec, role: &str, latest_id: Option<&str>) -> Option<String> {
    let dest = spec.destination.clone().unwrap_or_default();
    let mut cands: Vec<&ContainerSummary> = list
        .iter()
        .filter(|c| {
            let l = c.labels.as_ref();
            let get = |k: &str| l.and_then(|l| l.get(k)).map(String::as_str);
            get("service") == Some(spec.service.as_str())
                && get("role") == Some(role)
                && get("destination") == Some(dest.as_str())
                && matches!(c.state.map(|s| s.to_string()).as_deref(), Some("running") | Some("restarting"))
        })
        .collect();
    // `docker ps --latest` = most recently created.
    cands.sort_by_key(|c| std::cmp::Reverse(c.created.unwrap_or(0)));
    let pick = latest_id.and_then(|id| cands.iter().find(|c| c.image_id.as_deref() == Some(id))).or_else(|| cands.first())?;
    let name = pick.names.as_ref()?.first()?.trim_start_matches('/');
    let prefix = format!("{}-", spec.prefix(role));
    // Shell `${line#<prefix>-}` leaves the name alone when the prefix does not match.
    Some(name.strip_prefix(&prefix).unwrap_or(name).to_string())
}

/// Is kamal-proxy running, and which routes does it have for this service (`kamal-proxy list`).
async fn proxy_view(dh: &DockerHost, spec: &FleetSpec) -> (Option<bool>, Vec<ProxyRoute>) {
    let filters = HashMap::from([("name".to_string(), vec!["^kamal-proxy$".to_string()])]);
    let opts = bollard::query_parameters::ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let running = match dh.api.list_containers(Some(opts)).await {
        Ok(v) if v.is_empty() => return (Some(false), vec![]),
        Ok(v) => v.iter().any(|c| c.state.map(|s| s.to_string()).as_deref() == Some("running")),
        Err(_) => return (None, vec![]),
    };
    if !running {
        return (Some(false), vec![]);
    }
    let out = tokio::time::timeout(Duration::from_secs(3), dh.exec("kamal-proxy", &["kamal-proxy", "list"])).await;
    let routes = match out {
        Ok(Ok(o)) if o.status == 0 => parse_proxy_list(&o.stdout, &format!("{}-", spec.service)),
        _ => vec![],
    };
    (Some(true), routes)
}

/// Parses `kamal-proxy list`'s table, keeping the rows whose service starts with
/// `service_prefix`. kamal-proxy prints `Service Host Target State TLS` with ANSI styles, as a
/// fixed-width table (30/10 columns) in older releases and as a padded table in newer ones; an
/// empty Host cell is blank. Columns are therefore cut at the header's offsets (after dropping
/// the styles), or at tabs when the header has them. Unknown layouts give no routes.
pub fn parse_proxy_list(out: &str, service_prefix: &str) -> Vec<ProxyRoute> {
    let plain = strip_ansi(out);
    let mut lines = plain.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return vec![] };
    let cells = |line: &str| -> Vec<String> {
        if header.contains('\t') {
            return line.split('\t').map(|c| c.trim().to_string()).collect();
        }
        let chars: Vec<char> = line.chars().collect();
        let starts = column_starts(header);
        starts
            .iter()
            .enumerate()
            .map(|(i, &st)| {
                let end = starts.get(i + 1).copied().unwrap_or(usize::MAX).min(chars.len());
                chars.get(st.min(chars.len())..end).map(|c| c.iter().collect::<String>().trim().to_string()).unwrap_or_default()
            })
            .collect()
    };
    let cols: Vec<String> = cells(header).iter().map(|c| c.to_ascii_lowercase()).collect();
    let idx = |n: &str| cols.iter().position(|c| c == n);
    let (Some(si), ti, sti) = (idx("service"), idx("target"), idx("state")) else { return vec![] };
    lines
        .filter_map(|l| {
            let f = cells(l);
            let service = f.get(si)?.clone();
            if service.is_empty() || !service.starts_with(service_prefix) {
                return None;
            }
            let pick = |i: Option<usize>| i.and_then(|i| f.get(i)).filter(|s| !s.is_empty()).cloned();
            Some(ProxyRoute { service, target: pick(ti), state: pick(sti).unwrap_or_else(|| "unknown".into()) })
        })
        .collect()
}

/// Character offsets where the header's words start.
fn column_starts(header: &str) -> Vec<usize> {
    let mut starts = vec![];
    let mut prev_space = true;
    for (i, c) in header.chars().enumerate() {
        if !c.is_whitespace() && prev_space {
            starts.push(i);
        }
        prev_space = c.is_whitespace();
    }
    starts
}

/// Drops ANSI CSI sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            it.next();
            for c in it.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Kamal's `lock status`: `stat <dir> && cat <dir>/details | base64 -d`; `None` = unlocked or
/// unreadable.
pub async fn lock_status(session: &Session, lock_dir: &str) -> Option<LockInfo> {
    let dir = shell_words::quote(lock_dir);
    let cmd = format!("stat {dir} > /dev/null && cat {dir}/details | base64 -d");
    let out = session.exec(&cmd).await.ok()?;
    if out.status != 0 && out.stdout.trim().is_empty() {
        return None;
    }
    Some(crate::kamal::lock::parse_details(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cont(name: &str, role: &str, state: &str, created: i64, image_id: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some(name.into()),
            names: Some(vec![format!("/{name}")]),
            image_id: Some(image_id.into()),
            created: Some(created),
            state: state.parse().ok(),
            labels: Some(HashMap::from([("service".into(), "app".into()), ("role".into(), role.into()), ("destination".into(), "".into())])),
            ..Default::default()
        }
    }

    #[test]
    fn current_version_prefers_the_latest_tagged_image() {
        let spec = FleetSpec::new("app", None, "r/app", vec![("web".into(), vec!["h".into()])]);
        let list = vec![
            cont("app-web-v3", "web", "running", 30, "sha:3"),
            cont("app-web-v2", "web", "running", 20, "sha:2"),
            cont("app-web-v1", "web", "exited", 10, "sha:1"),
            cont("app-worker-v9", "worker", "running", 40, "sha:2"),
        ];
        assert_eq!(current_version(&list, &spec, "web", Some("sha:2")).as_deref(), Some("v2"));
        // Latest tag points at an image no running container uses: newest running wins.
        assert_eq!(current_version(&list, &spec, "web", Some("sha:1")).as_deref(), Some("v3"));
        assert_eq!(current_version(&list, &spec, "web", None).as_deref(), Some("v3"));
        assert_eq!(current_version(&list, &spec, "job", None), None);
    }

    #[test]
    fn accessories_are_split_from_the_app_containers() {
        let mut spec = FleetSpec::new("app", Some("staging"), "r/app", vec![("web".into(), vec!["h1".into()])]);
        spec.accessories = vec![
            AccessoryWatch { name: "db".into(), service_name: "app-db".into(), hosts: vec!["h1".into(), "h3".into()] },
            AccessoryWatch { name: "cache".into(), service_name: "shared-redis".into(), hosts: vec!["h3".into()] },
        ];
        assert_eq!(spec.watched_hosts(), vec!["h1", "h3"]);
        let with = |name: &str, labels: &[(&str, &str)], image: &str| ContainerSummary {
            id: Some(format!("id-{name}")),
            names: Some(vec![format!("/{name}")]),
            image: Some(image.into()),
            state: "running".parse().ok(),
            created: Some(1_700_000_000),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        };
        let list = vec![
            with("app-web-staging-v1", &[("service", "app"), ("role", "web"), ("destination", "staging")], "r/app:v1"),
            // Same service, other destination: not ours (Kamal's destination filter).
            with("app-web-v1", &[("service", "app"), ("role", "web"), ("destination", "")], "r/app:v1"),
            with("app-db", &[("service", "app-db")], "mysql:8.0"),
            with("shared-redis", &[("service", "shared-redis")], "redis"),
            with("other-db", &[("service", "other-db")], "postgres:16"),
        ];
        let accs = spec.accessories_of("h1");
        let (app, acc) = split_containers(list.clone(), &spec, &accs);
        let names = |v: &[ContainerSummary]| v.iter().map(|c| c.names.as_ref().unwrap()[0].clone()).collect::<Vec<_>>();
        assert_eq!(names(&app), vec!["/app-web-staging-v1"]);
        // cache lives on h3 only: its container on h1 is not shown there.
        assert_eq!(acc.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), vec!["db"]);
        let info = accessory_info(&acc[0].1, None, &acc[0].0);
        assert_eq!((info.name.as_str(), info.role.as_str(), info.version.as_str()), ("app-db", "db", "8.0"));
        assert_eq!((info.image.as_str(), info.state.as_str()), ("mysql:8.0", "running"));
        let (_, acc3) = split_containers(list, &spec, &spec.accessories_of("h3"));
        let infos: Vec<_> = acc3.iter().map(|(n, c)| accessory_info(c, None, n)).collect();
        assert_eq!(infos.iter().map(|i| (i.role.as_str(), i.version.as_str())).collect::<Vec<_>>(), vec![("db", "8.0"), ("cache", "latest")]);
        assert_eq!(image_tag("reg:5000/x/redis:7@sha256:ab"), "sha256:ab");
        assert_eq!(image_tag("reg:5000/redis"), "latest");
    }

    #[test]
    fn lock_details_and_proxy_list() {
        let l = crate::kamal::lock::parse_details("Locked by: Lab Tester at 2026-11-22T14:12:14Z\nVersion: v3\nMessage: hold on\nsecond line");
        assert_eq!(l.holder, "Lab Tester");
        assert_eq!(l.at.unwrap().to_rfc3339(), "2026-11-22T14:12:14+00:00");
        assert_eq!(l.version.as_deref(), Some("v3"));
        assert_eq!(l.message, "hold on\nsecond line");

        let want = vec![ProxyRoute { service: "app-web".into(), target: Some("e5d03b25accc:80".into()), state: "running".into() }];
        // kamal-proxy's padded table: every cell styled, two spaces between columns, blank Host.
        let st = |style: &str, v: &str| format!("\u{1b}[{style}m{v}\u{1b}[0m");
        let row = |cells: [&str; 5], header: bool| -> String {
            let w = [9, 8, 15, 7, 3];
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let style = if header {
                    "3;94"
                } else if i == 0 {
                    "1;34"
                } else {
                    ""
                };
                s.push_str(&format!("{}{}  ", st(style, c), " ".repeat(w[i] - c.len())));
            }
            s + "\n"
        };
        let out = row(["Service", "Host", "Target", "State", "TLS"], true)
            + &row(["other-web", "o.test", "aa:80", "running", "no"], false)
            + &row(["app-web", "", "e5d03b25accc:80", "running", "no"], false);
        assert_eq!(parse_proxy_list(&out, "app-"), want);
        // Older fixed-width layout (30/10 columns).
        let fixed = |c: [&str; 5]| format!("{:<30}{:<30}{:<30}{:<10}{:<10}\n", c[0], c[1], c[2], c[3], c[4]);
        let out = fixed(["Service", "Host", "Target", "State", "TLS"]) + &fixed(["app-web", "", "e5d03b25accc:80", "running", "no"]);
        assert_eq!(parse_proxy_list(&out, "app-"), want);
        // Tab-separated (the lab stand-in before it printed kamal-proxy's table).
        let out = "Service\tHost\tPath\tTarget\tState\tTLS\napp-web\t*\t/\te5d03b25accc:80\trunning\tno\n";
        assert_eq!(parse_proxy_list(out, "app-"), want);
        assert!(parse_proxy_list("garbage", "app-").is_empty());
    }
}
