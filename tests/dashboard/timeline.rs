//! The deploy timeline's small print: elapsed times line up even with a long step label, the
//! finished line names the action plainly (not its Debug form), and the two steps the engine
//! emits with kind ProxyBoot on one host (network create, kamal-proxy boot) read differently.

use crate::support::tui_fixtures as fx;

use fx::text;

use kdeck::deploy::event::{ActionKind, Event, PlannedStep, StepKind};
use kdeck::tui::{App, Update};
use std::time::Duration;

fn step(host: &str, kind: StepKind, label: &str) -> [Event; 2] {
    [
        Event::StepStarted { host: Some(host.into()), role: None, kind, label: label.into(), at: fx::now() },
        Event::StepFinished { host: Some(host.into()), role: None, kind, elapsed: Duration::from_millis(1200) },
    ]
}

fn run(action: ActionKind, summary: &str) -> App {
    let mut app = fx::app_with(fx::fleet());
    let h = "10.77.4.11";
    let mut ev = vec![Event::PlanReady {
        action,
        version: Some("v3".into()),
        hosts: vec![h.into()],
        groups: vec![],
        steps: vec![PlannedStep { host: Some(h.into()), role: None, kind: StepKind::Pull, group: None, label: "pull".into() }],
    }];
    ev.extend(step(h, StepKind::Other, "prepare (error pages, assets)"));
    ev.extend(step(h, StepKind::ProxyBoot, "docker network create kamal"));
    ev.extend(step(h, StepKind::ProxyBoot, "boot kamal-proxy"));
    ev.extend(step(h, StepKind::Pull, "pull"));
    ev.push(Event::Finished { ok: true, elapsed: Duration::from_secs(9), summary: summary.into() });
    for e in ev {
        app.update(Update::Engine(e));
    }
    app
}

#[test]
fn elapsed_times_line_up_with_a_long_label() {
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&run(ActionKind::Deploy, "deploy finished"), w, h);
        assert!(s.contains("prepare (error pages, assets)"), "{s}");
        let cols: Vec<usize> = s.lines().filter(|l| l.contains("1.2s")).map(|l| l[..l.find("1.2s").unwrap()].chars().count()).collect();
        assert_eq!(cols.len(), 4, "{s}");
        assert!(cols.windows(2).all(|p| p[0] == p[1]), "elapsed columns differ {cols:?}\n{s}");
    }
}

#[test]
fn finished_line_is_plain() {
    let s = text(&run(ActionKind::Rollback { version: "v1".into() }, "rollback { version: \"v1\" } finished"), 160, 40);
    assert!(s.contains("✓ rollback v1 finished"), "{s}");
    assert!(!s.contains("{ version"), "{s}");
    let s = text(&run(ActionKind::Deploy, "deploy finished"), 160, 40);
    assert!(s.contains("✓ deploy v3 finished"), "{s}");
    let s = text(&run(ActionKind::Prune, "prune finished"), 160, 40);
    assert!(s.contains("✓ prune finished") && !s.contains("prune v3"), "{s}");
}

#[test]
fn network_and_proxy_boot_are_labelled_apart() {
    let s = text(&run(ActionKind::Deploy, "deploy finished"), 160, 40);
    assert_eq!(s.matches("proxy boot").count(), 1, "{s}");
    assert!(s.lines().any(|l| l.contains("✓ network ")), "{s}");
    insta::assert_snapshot!("timeline_polish_160x40", s);
}
