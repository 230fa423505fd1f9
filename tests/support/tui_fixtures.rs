//! Fixture fleets and event sequences for the dashboard's pure tests (snapshots, keys, benches).
#![allow(dead_code)]

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use kdeck::deploy::event::{ActionKind, Event, HealthReport, LockInfo, PlannedStep, StepKind};
use kdeck::fleet::model::{ConnState, ContainerInfo, FleetSnapshot, HostStatus, ProxyRoute};
use kdeck::tui::{App, LogLine, Update};
use std::time::Duration;

pub const V1: &str = "1fd263c8cf1d4bb0b1e0d0b8e1a7f0c2d3e4f5a6";
pub const V2: &str = "4cba8e55aa01bb02cc03dd04ee05ff0611223344";
pub const V3: &str = "9e01f3b2aa01bb02cc03dd04ee05ff0699887766";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap()
}

pub fn container(svc: &str, role: &str, version: &str, state: &str, age_min: i64) -> ContainerInfo {
    let created = now() - CDuration::minutes(age_min);
    ContainerInfo {
        id: format!("{:0<12}", &version[..6]),
        name: format!("{svc}-{role}-{version}"),
        role: role.into(),
        version: version.into(),
        image: format!("10.77.4.1:5000/{svc}:{version}"),
        state: state.into(),
        health: if state == "running" { Some("healthy".into()) } else { None },
        health_failure: None,
        created: Some(created),
        started: Some(created + CDuration::seconds(5)),
    }
}

fn host(name: &str, roles: &[&str], containers: Vec<ContainerInfo>, current: &[(&str, &str)]) -> HostStatus {
    // As Kamal deploys it: the route's target is the current container's id and the app port.
    let target = containers.first().map(|c| format!("{}:80", c.id));
    HostStatus {
        host: name.into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        conn: ConnState::Up,
        containers,
        current: current.iter().map(|(r, v)| (r.to_string(), v.to_string())).collect(),
        proxy_running: Some(roles.contains(&"web")),
        proxy_routes: if roles.contains(&"web") { vec![ProxyRoute { service: "klabapp-web-staging".into(), target, state: "running".into() }] } else { vec![] },
        last_seen: Some(now()),
        docker_error: None,
        unknown_host_key: None,
        accessories: vec![],
    }
}

/// 3 hosts: web on .11 and .12, job on .13; every host has V1 (current) and V2 (older).
pub fn fleet() -> FleetSnapshot {
    let svc = "klabapp";
    let mk = |h: &str, role: &str| host(h, &[role], vec![container(svc, role, V1, "running", 120), container(svc, role, V2, "exited", 60 * 26)], &[(role, V1)]);
    FleetSnapshot {
        service: svc.into(),
        destination: Some("staging".into()),
        image: "10.77.4.1:5000/klabapp".into(),
        primary_role: "web".into(),
        roles: vec![("web".into(), vec!["10.77.4.11".into(), "10.77.4.12".into()]), ("job".into(), vec!["10.77.4.13".into()])],
        hosts: vec![mk("10.77.4.11", "web"), mk("10.77.4.12", "web"), mk("10.77.4.13", "job")],
        lock: None,
        accessories: vec![],
    }
}

/// .12 runs V3 (newer, only there) and is unhealthy while kamal-proxy still routes to V1 there
/// (an interrupted deploy); V2 is missing on .13.
pub fn fleet_disagreeing() -> FleetSnapshot {
    let mut s = fleet();
    let h = &mut s.hosts[1];
    let mut c = container("klabapp", "web", V3, "running", 10);
    c.health = Some("unhealthy".into());
    c.health_failure = Some("curl: (22) The requested URL returned error: 500 (GET /up)".into());
    h.containers.push(c);
    h.current = vec![("web".into(), V3.into())];
    s.hosts[2].containers.retain(|c| c.version != V2);
    s
}

/// The fleet plus accessories: db on .11 (running, healthy) and .14 (a host outside every
/// role, down), redis on .12 (not booted).
pub fn fleet_accessories() -> FleetSnapshot {
    let mut s = fleet();
    s.accessories = vec![("db".into(), vec!["10.77.4.11".into(), "10.77.4.14".into()]), ("redis".into(), vec!["10.77.4.12".into()])];
    let created = now() - CDuration::minutes(300);
    s.hosts[0].accessories = vec![ContainerInfo {
        id: "4d1b0e2a9c77".into(),
        name: "klabapp-db".into(),
        role: "db".into(),
        version: "16.4".into(),
        image: "10.77.4.1:5000/postgres:16.4".into(),
        state: "running".into(),
        health: Some("healthy".into()),
        health_failure: None,
        created: Some(created),
        started: Some(created + CDuration::seconds(3)),
    }];
    s.hosts.push(HostStatus {
        host: "10.77.4.14".into(),
        conn: ConnState::Down { reason: "no route to host".into() },
        last_seen: Some(now() - CDuration::seconds(90)),
        ..Default::default()
    });
    s
}

pub fn fleet_down() -> FleetSnapshot {
    let mut s = fleet();
    s.hosts[2].conn = ConnState::Down { reason: "connection refused (port 22)".into() };
    s.hosts[2].last_seen = Some(now() - CDuration::seconds(42));
    s.lock = Some(LockInfo {
        holder: "alice".into(),
        at: Some(now() - CDuration::minutes(7)),
        version: Some(V1.into()),
        message: "DB migration in progress".into(),
    });
    s
}

/// The fixture fleet as another destination of the app (kamal-proxy's routes renamed with it).
pub fn at_destination(mut s: FleetSnapshot, destination: &str) -> FleetSnapshot {
    for r in s.hosts.iter_mut().flat_map(|h| h.proxy_routes.iter_mut()) {
        r.service = r.service.replace("-staging", &format!("-{destination}"));
    }
    s.destination = Some(destination.into());
    s
}

pub fn app_with(s: FleetSnapshot) -> App {
    let mut app = App::new(false);
    app.color = true;
    app.now = now();
    app.update(Update::Fleet(s));
    app
}

fn at(secs: i64) -> DateTime<Utc> {
    now() - CDuration::seconds(60) + CDuration::seconds(secs)
}

pub fn plan(action: ActionKind, version: &str) -> Event {
    let hosts = ["10.77.4.11", "10.77.4.12", "10.77.4.13"];
    let mut steps = vec![PlannedStep { host: None, role: None, kind: StepKind::Hook, group: None, label: "hook pre-deploy".into() }];
    for (i, h) in hosts.iter().enumerate() {
        let role = if i < 2 { "web" } else { "job" };
        steps.push(PlannedStep { host: Some(h.to_string()), role: None, kind: StepKind::Pull, group: None, label: "pull".into() });
        for k in [StepKind::Boot, StepKind::Health, StepKind::Switch, StepKind::StopOld] {
            if role == "job" && k == StepKind::Switch {
                continue;
            }
            steps.push(PlannedStep { host: Some(h.to_string()), role: Some(role.into()), kind: k, group: Some(i / 2), label: format!("{k:?}") });
        }
    }
    Event::PlanReady {
        action,
        version: Some(version.into()),
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        groups: vec![vec![hosts[0].into(), hosts[1].into()], vec![hosts[2].into()]],
        steps,
    }
}

fn started(h: Option<&str>, role: Option<&str>, kind: StepKind, t: i64) -> Event {
    Event::StepStarted { host: h.map(Into::into), role: role.map(Into::into), kind, label: String::new(), at: at(t) }
}

fn finished(h: Option<&str>, role: Option<&str>, kind: StepKind, secs: f64) -> Event {
    Event::StepFinished { host: h.map(Into::into), role: role.map(Into::into), kind, elapsed: Duration::from_secs_f64(secs) }
}

/// A deploy halfway: hook done, pulls done, .11 healthy and switched, .12 waiting for health,
/// .13 pending (group 2).
pub fn deploy_running() -> Vec<Event> {
    let mut ev = vec![plan(ActionKind::Deploy, V3), started(None, None, StepKind::Hook, 0), finished(None, None, StepKind::Hook, 0.2)];
    for (i, h) in ["10.77.4.11", "10.77.4.12", "10.77.4.13"].iter().enumerate() {
        ev.push(started(Some(h), None, StepKind::Pull, 1));
        ev.push(finished(Some(h), None, StepKind::Pull, 1.5 + i as f64 * 0.1));
    }
    ev.push(Event::GroupStarted { index: 0, hosts: vec!["10.77.4.11".into(), "10.77.4.12".into()] });
    for h in ["10.77.4.11", "10.77.4.12"] {
        ev.push(started(Some(h), Some("web"), StepKind::Boot, 3));
        ev.push(finished(Some(h), Some("web"), StepKind::Boot, 0.8));
        ev.push(started(Some(h), Some("web"), StepKind::Health, 4));
    }
    ev.push(Event::Health {
        host: "10.77.4.11".into(),
        role: "web".into(),
        report: HealthReport { docker: Some("healthy".into()), proxy: Some("healthy (200 /up)".into()), reason: None },
    });
    ev.push(finished(Some("10.77.4.11"), Some("web"), StepKind::Health, 3.2));
    ev.push(started(Some("10.77.4.11"), Some("web"), StepKind::Switch, 8));
    ev.push(finished(Some("10.77.4.11"), Some("web"), StepKind::Switch, 0.1));
    ev.push(started(Some("10.77.4.11"), Some("web"), StepKind::StopOld, 8));
    ev.push(finished(Some("10.77.4.11"), Some("web"), StepKind::StopOld, 1.1));
    ev.push(Event::StepProgress {
        host: Some("10.77.4.12".into()),
        role: Some("web".into()),
        kind: StepKind::Health,
        message: "waiting for health: starting".into(),
        elapsed: Duration::from_secs_f64(12.4),
    });
    ev
}

pub fn deploy_done() -> Vec<Event> {
    let mut ev = deploy_running();
    ev.push(Event::Health {
        host: "10.77.4.12".into(),
        role: "web".into(),
        report: HealthReport { docker: Some("healthy".into()), proxy: Some("healthy (200 /up)".into()), reason: None },
    });
    ev.push(finished(Some("10.77.4.12"), Some("web"), StepKind::Health, 13.0));
    for k in [StepKind::Switch, StepKind::StopOld] {
        ev.push(started(Some("10.77.4.12"), Some("web"), k, 20));
        ev.push(finished(Some("10.77.4.12"), Some("web"), k, 0.3));
    }
    ev.push(Event::GroupStarted { index: 1, hosts: vec!["10.77.4.13".into()] });
    for k in [StepKind::Boot, StepKind::Health, StepKind::StopOld] {
        ev.push(started(Some("10.77.4.13"), Some("job"), k, 25));
        ev.push(finished(Some("10.77.4.13"), Some("job"), k, 0.5));
    }
    ev.push(Event::Finished { ok: true, elapsed: Duration::from_secs_f64(31.7), summary: format!("Deployed {} to 3 hosts", &V3[..7]) });
    ev
}

pub fn deploy_failed() -> Vec<Event> {
    let mut ev = deploy_running();
    ev.push(Event::StepFailed {
        host: Some("10.77.4.12".into()),
        role: Some("web".into()),
        kind: StepKind::Health,
        elapsed: Duration::from_secs(30),
        error: "target failed to become healthy within 30s".into(),
        last_logs: vec![
            "Puma starting in single mode...".into(),
            "* Listening on http://0.0.0.0:3000".into(),
            "ActiveRecord::ConnectionNotEstablished: could not connect to server".into(),
        ],
        health: Some(HealthReport {
            docker: Some("unhealthy".into()),
            proxy: Some("target failed to become healthy".into()),
            reason: Some("GET /up → 500".into()),
        }),
    });
    ev.push(Event::Finished { ok: false, elapsed: Duration::from_secs(38), summary: "health check failed on 10.77.4.12".into() });
    ev
}

/// One engine run of a rollout canary on .11 (kamal-proxy's rollout, web only), at `t0` s
/// into the fixture's minute: `start` (pull, lock, the new container beside the live one, its
/// `rollout deploy` and `rollout set`) or its stop (`rollout stop`, the new container stopped,
/// the lock released).
pub fn rollout_part(start: bool, t0: i64) -> Vec<Event> {
    let h = "10.77.4.11";
    let kinds: &[(Option<&str>, StepKind, &str)] = if start {
        &[
            (None, StepKind::Pull, "pull"),
            (None, StepKind::Lock, "acquire deploy lock"),
            (Some("web"), StepKind::Rename, "check name"),
            (Some("web"), StepKind::Boot, "boot"),
            (Some("web"), StepKind::Health, "rollout deploy"),
            (Some("web"), StepKind::Switch, "rollout set"),
        ]
    } else {
        &[
            (Some("web"), StepKind::Switch, "rollout stop"),
            (Some("web"), StepKind::StopOld, "stop the new container"),
            (None, StepKind::Unlock, "release deploy lock"),
        ]
    };
    let steps =
        kinds.iter().map(|(r, k, l)| PlannedStep { host: Some(h.into()), role: r.map(Into::into), kind: *k, group: None, label: (*l).into() }).collect();
    let command = if start { "rollout deploy" } else { "rollout stop" };
    let mut ev = vec![Event::PlanReady {
        action: ActionKind::Manage { command: command.into() },
        version: Some(V3.into()),
        hosts: vec![h.into()],
        groups: vec![vec![h.into()]],
        steps,
    }];
    for (i, (r, k, _)) in kinds.iter().enumerate() {
        ev.push(started(Some(h), *r, *k, t0 + i as i64));
        if *k == StepKind::Health {
            let report = HealthReport { docker: Some("healthy".into()), proxy: Some("rollout target".into()), reason: None };
            ev.push(Event::Health { host: h.into(), role: "web".into(), report });
        }
        ev.push(finished(Some(h), *r, *k, 0.3));
    }
    let summary = format!("{command} of {} finished", &V3[..7]);
    ev.push(Event::Finished { ok: true, elapsed: Duration::from_secs_f64(kinds.len() as f64 * 0.3), summary });
    ev
}

pub fn feed(app: &mut App, events: Vec<Event>) {
    for e in events {
        app.update(Update::Engine(e));
    }
}

pub fn log_lines(app: &mut App, n: usize) {
    let hosts = [("10.77.4.11", "web"), ("10.77.4.12", "web"), ("10.77.4.13", "job")];
    for i in 0..n {
        let (h, r) = hosts[i % 3];
        let text = if i % 7 == 3 { format!("ERROR request {i} failed: timeout") } else { format!("GET /items/{i} 200 in {}ms", 3 + i % 40) };
        app.update(Update::Log(LogLine {
            host: h.into(),
            role: r.into(),
            container: Some(format!("klabapp-{r}-{}", &V1[..7])),
            ts: Some(now() - CDuration::seconds((n - i) as i64)),
            stderr: i % 7 == 3,
            text,
        }));
    }
}

/// The dashboard drawn once into a `w`×`h` TestBackend.
pub fn render(app: &App, w: u16, h: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| kdeck::tui::draw(app, f)).unwrap();
    t
}

/// The dashboard drawn once, as text (what the snapshots hold).
pub fn text(app: &App, w: u16, h: u16) -> String {
    render(app, w, h).backend().to_string()
}
