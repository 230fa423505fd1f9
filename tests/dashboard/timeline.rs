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

/// A health wait sends progress only when its state changes: the elapsed time must still tick
/// with the clock, not stay at the last progress event's.
#[test]
fn a_running_step_elapsed_time_ticks_between_progress_events() {
    let mut app = fx::app_with(fx::fleet());
    let t0 = fx::now();
    let plan = Event::PlanReady {
        action: ActionKind::Deploy,
        version: Some("v2".into()),
        hosts: vec!["10.77.4.11".into()],
        groups: vec![],
        steps: vec![PlannedStep {
            host: Some("10.77.4.11".into()),
            role: Some("web".into()),
            kind: StepKind::Health,
            group: Some(0),
            label: "health wait".into(),
        }],
    };
    fx::feed(&mut app, vec![plan]);
    fx::feed(
        &mut app,
        vec![
            Event::StepStarted { host: Some("10.77.4.11".into()), role: Some("web".into()), kind: StepKind::Health, label: "health wait".into(), at: t0 },
            Event::StepProgress {
                host: Some("10.77.4.11".into()),
                role: Some("web".into()),
                kind: StepKind::Health,
                message: "waiting for health: starting".into(),
                elapsed: Duration::from_millis(100),
            },
        ],
    );
    let mut d = kdeck::tui::dispatch::Recorder::default();
    app.handle_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('3'), crossterm::event::KeyModifiers::NONE), &mut d);
    let at = |app: &mut App, secs: i64| {
        app.now = t0 + chrono::Duration::seconds(secs);
        let screen = text(app, 160, 40);
        screen.lines().find(|l| l.contains("⠿") && l.contains("health wait")).unwrap_or_else(|| panic!("{screen}")).to_string()
    };
    assert!(at(&mut app, 3).contains(" 3.0s"), "{}", at(&mut app, 3));
    assert!(at(&mut app, 17).contains("17.0s"), "{}", at(&mut app, 17));
}

/// A rolling deploy over 50 hosts in boot groups of 10: hosts 1–36 done, host 37 waiting for
/// health, the rest pending.
fn fifty_host_deploy() -> App {
    let mut app = fx::app_with(fx::fleet());
    let hosts: Vec<String> = (1..=50).map(|i| format!("10.77.9.{i}")).collect();
    let kinds = [StepKind::Pull, StepKind::Boot, StepKind::Health, StepKind::Switch, StepKind::StopOld];
    let steps = hosts
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            kinds.iter().map(move |k| PlannedStep { host: Some(h.clone()), role: Some("web".into()), kind: *k, group: Some(i / 10), label: format!("{k:?}") })
        })
        .collect();
    let mut ev = vec![Event::PlanReady {
        action: ActionKind::Deploy,
        version: Some("v3".into()),
        hosts: hosts.clone(),
        groups: hosts.chunks(10).map(<[String]>::to_vec).collect(),
        steps,
    }];
    for (i, h) in hosts.iter().enumerate().take(37) {
        for k in kinds {
            ev.push(Event::StepStarted { host: Some(h.clone()), role: Some("web".into()), kind: k, label: String::new(), at: fx::now() });
            if i < 36 || k == StepKind::Pull || k == StepKind::Boot {
                ev.push(Event::StepFinished { host: Some(h.clone()), role: Some("web".into()), kind: k, elapsed: Duration::from_millis(700) });
            }
            if i == 36 && k == StepKind::Health {
                break;
            }
        }
    }
    fx::feed(&mut app, ev);
    app.handle_key(
        crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('3'), crossterm::event::KeyModifiers::NONE),
        &mut kdeck::tui::dispatch::Recorder::default(),
    );
    app
}

#[test]
fn fifty_hosts_fit_as_one_line_each_with_the_running_host_selected() {
    let mut app = fifty_host_deploy();
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&app, w, h);
        let running = s.lines().find(|l| l.contains("10.77.9.37 ")).unwrap_or_else(|| panic!("{w}x{h}: the running host is not in view:\n{s}"));
        assert!(running.contains('›') && running.contains("g4/5") && running.contains("health wait web"), "{w}x{h}: {running}");
        assert!(s.contains("10.77.9.37 · steps"), "{w}x{h}: the steps of the selected host are shown:\n{s}");
        assert!(s.lines().filter(|l| l.contains("10.77.9.")).count() >= 8, "{w}x{h}: one line per host:\n{s}");
    }
    insta::assert_snapshot!("timeline_fifty_hosts_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("timeline_fifty_hosts_160x40", text(&app, 160, 40));
    // j/k move from the host shown (not from the top); the pane follows.
    let mut d = kdeck::tui::dispatch::Recorder::default();
    let mut press = |app: &mut App, c: char| {
        app.handle_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(c), crossterm::event::KeyModifiers::NONE), &mut d)
    };
    press(&mut app, 'j');
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&app, w, h);
        assert!(s.contains("10.77.9.38 · steps"), "{w}x{h}: the first j must go to the host after the running one:\n{s}");
    }
    for _ in 0..3 {
        press(&mut app, 'k');
    }
    let s = text(&app, 160, 40);
    assert!(s.contains("10.77.9.35 · steps"), "{s}");
}

/// A later action (a lock release) no longer erases the deploy before it: `h` lists the runs
/// of the session and shows an earlier one; a new rollout brings the latest back.
#[test]
fn earlier_runs_stay_browsable_after_a_later_action() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_done());
    let release = vec![
        Event::PlanReady { action: ActionKind::LockRelease, version: None, hosts: vec!["10.77.4.11".into()], groups: vec![], steps: vec![] },
        Event::Finished { ok: true, elapsed: Duration::from_millis(300), summary: "Released the deploy lock".into() },
    ];
    fx::feed(&mut app, release);
    let mut d = kdeck::tui::dispatch::Recorder::default();
    let mut key = |app: &mut App, c: KeyCode| app.handle_key(KeyEvent::new(c, KeyModifiers::NONE), &mut d);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('h'));
    assert!(matches!(app.overlay, Some(kdeck::tui::app::Overlay::History { .. })), "overlay {:?} view {:?}", app.overlay, app.view());
    let s = text(&app, 160, 40);
    assert!(s.contains("Runs: this session") && s.contains("unlock") && s.contains("deploy 9e01f3b") && s.contains("done in 31.7s"), "{s}");
    insta::assert_snapshot!("run_history_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("run_history_160x40", text(&app, 160, 40));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    let s = text(&app, 160, 40);
    assert!(s.contains("deploy 9e01f3b · done in 31.7s · earlier run"), "the deploy is back on screen:\n{s}");
    assert!(s.contains("10.77.4.13"), "with its hosts:\n{s}");
    // A new rollout shows itself, not the earlier run.
    fx::feed(&mut app, fx::deploy_running());
    assert!(app.history_view.is_none() && app.history.len() == 2, "{:?} / {}", app.history_view, app.history.len());
}

/// The step totals are the plan's: a step the plan lacked shows as a row but does not make a
/// host's `done/total` grow mid-run (`2/10 → 9/12 → 13/13` was seen).
#[test]
fn step_totals_come_from_the_plan_and_never_grow_mid_run() {
    let mut app = fx::app_with(fx::fleet());
    let h = "10.77.4.11";
    let planned = |kind: StepKind| PlannedStep { host: Some(h.into()), role: Some("web".into()), kind, group: Some(0), label: format!("{kind:?}") };
    let started = |kind: StepKind, label: &str| Event::StepStarted { host: Some(h.into()), role: Some("web".into()), kind, label: label.into(), at: fx::now() };
    let finished = |kind: StepKind| Event::StepFinished { host: Some(h.into()), role: Some("web".into()), kind, elapsed: Duration::from_millis(400) };
    fx::feed(
        &mut app,
        vec![
            Event::PlanReady {
                action: ActionKind::Deploy,
                version: Some("v3".into()),
                hosts: vec![h.into()],
                groups: vec![vec![h.into()]],
                steps: vec![planned(StepKind::Pull), planned(StepKind::Boot), planned(StepKind::Health)],
            },
            started(StepKind::Pull, "pull"),
            finished(StepKind::Pull),
        ],
    );
    let totals = |app: &App| {
        let s = text(app, 160, 40);
        let head = s.lines().find(|l| l.contains(h) && l.contains("/3") || l.contains(h) && l.contains("/4")).unwrap_or_else(|| panic!("{s}")).to_string();
        head
    };
    assert!(totals(&app).contains("1/3"), "{}", totals(&app));
    // A step the plan did not have: shown, not counted.
    fx::feed(&mut app, vec![started(StepKind::Other, "check something unplanned"), finished(StepKind::Other), started(StepKind::Boot, "boot")]);
    let s = text(&app, 160, 40);
    assert!(s.contains("check something unplanned"), "{s}");
    assert!(totals(&app).contains("1/3"), "the total grew: {}", totals(&app));
}

/// `h` lists the deploys and rollbacks of the hosts' audit logs (who, what, when, how long,
/// result) beside this session's runs, newest first; the session's own deploy, which the audit
/// log records too, once. Enter on one shows its lines in the audit view, marked.
#[test]
fn run_list_merges_the_audit_logs_deploys_with_the_sessions_runs() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use kdeck::tui::dispatch::{Recorder, Request};
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_done());
    let v3 = fx::V3;
    let v2 = fx::V2;
    let audit: Vec<String> = [
        // yesterday: alice deployed v2 with Kamal, on both web hosts and the job host
        ("10.77.4.11", format!("[2026-11-21T09:14:00Z] [alice] Pulled image with version {v2}")),
        ("10.77.4.12", format!("[2026-11-21T09:14:01Z] [alice] Pulled image with version {v2}")),
        ("10.77.4.11", format!("[2026-11-21T09:14:20Z] [alice] [web] Booted app version {v2}")),
        ("10.77.4.12", format!("[2026-11-21T09:14:21Z] [alice] [web] Booted app version {v2}")),
        ("10.77.4.11", format!("[2026-11-21T09:14:44Z] [alice] Tagging 10.77.4.1:5000/klabapp:{v2} as the latest image")),
        ("10.77.4.12", format!("[2026-11-21T09:14:45Z] [alice] Tagging 10.77.4.1:5000/klabapp:{v2} as the latest image")),
        // this morning: bob's rollback to v1 that never tagged .12 (interrupted)
        ("10.77.4.11", format!("[2026-11-22T08:02:00Z] [bob] [web] Booted app version {}", fx::V1)),
        ("10.77.4.12", format!("[2026-11-22T08:02:01Z] [bob] [web] Booted app version {}", fx::V1)),
        ("10.77.4.11", format!("[2026-11-22T08:02:09Z] [bob] Tagging 10.77.4.1:5000/klabapp:{} as the latest image", fx::V1)),
        // this session's deploy, as the engine audits it
        ("10.77.4.11", format!("[2026-11-22T16:00:02Z] [ops] Pulled image with version {v3}")),
        ("10.77.4.11", format!("[2026-11-22T16:00:05Z] [ops] [web] Booted app version {v3}")),
        ("10.77.4.11", format!("[2026-11-22T16:00:30Z] [ops] Tagging 10.77.4.1:5000/klabapp:{v3} as the latest image")),
    ]
    .into_iter()
    .map(|(h, l)| format!("{h}  {l}"))
    .collect();
    let mut d = Recorder::default();
    let key = |app: &mut App, c: KeyCode, d: &mut Recorder| app.handle_key(KeyEvent::new(c, KeyModifiers::NONE), d);
    key(&mut app, KeyCode::Char('h'), &mut d);
    assert_eq!(d.0, vec![Request::LoadAudit], "h reads the hosts' audit logs again");
    app.update(Update::Audit(audit));
    let s = text(&app, 160, 40);
    let rows: Vec<&str> = s.lines().filter(|l| l.contains(" · audit log") || l.contains("latest · on screen")).collect();
    assert_eq!(rows.len(), 3, "the session's deploy once, then bob's rollback, then alice's deploy:\n{s}");
    assert!(rows[0].contains("deploy 9e01f3b") && rows[0].contains("latest"), "{s}");
    assert!(
        rows[1].contains("rollback 1fd263c") && rows[1].contains("08:02:00Z") && rows[1].contains("unfinished: 1/2 hosts") && rows[1].contains("by bob"),
        "{s}"
    );
    assert!(rows[2].contains("deploy 4cba8e5") && rows[2].contains("11-21 09:14Z") && rows[2].contains("done in 45.0s") && rows[2].contains("by alice"), "{s}");
    insta::assert_snapshot!("run_list_with_audit_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("run_list_with_audit_160x40", text(&app, 160, 40));
    // alice's deploy: its lines in the audit view, marked.
    key(&mut app, KeyCode::Char('j'), &mut d);
    key(&mut app, KeyCode::Char('j'), &mut d);
    key(&mut app, KeyCode::Enter, &mut d);
    let s = text(&app, 160, 40);
    assert!(s.contains("Audit log · ▌ the run picked in h (6 lines)"), "{s}");
    let marked: Vec<&str> = s.lines().filter(|l| l.contains("│▌")).collect();
    assert_eq!(marked.len(), 6, "{s}");
    assert!(marked.iter().all(|l| l.contains("[alice]")), "{s}");
}

/// Two planned steps of one kind on a host (`.kamal` made, later the boot's preparation): the
/// first one's end finishes it, not the later one still waiting (seen on the lab: `mkdir -p
/// .kamal` kept spinning until the deploy ended).
#[test]
fn a_step_that_ends_finishes_its_own_row_not_a_later_one_of_the_same_kind() {
    let mut app = fx::app_with(fx::fleet());
    let h = "10.77.4.11";
    let planned = |label: &str| PlannedStep { host: Some(h.into()), role: None, kind: StepKind::Other, group: None, label: label.into() };
    fx::feed(
        &mut app,
        vec![
            Event::PlanReady {
                action: ActionKind::Deploy,
                version: Some("v3".into()),
                hosts: vec![h.into()],
                groups: vec![],
                steps: vec![planned("mkdir -p .kamal"), planned("prepare (error pages, assets)")],
            },
            Event::StepStarted { host: Some(h.into()), role: None, kind: StepKind::Other, label: "mkdir -p .kamal".into(), at: fx::now() },
            Event::StepFinished { host: Some(h.into()), role: None, kind: StepKind::Other, elapsed: Duration::from_millis(300) },
        ],
    );
    let s = text(&app, 160, 40);
    assert!(s.lines().any(|l| l.contains("✓ mkdir -p .kamal")), "{s}");
    assert!(!s.lines().any(|l| l.contains("✓ prepare")), "{s}");
    assert!(s.contains("1/2"), "{s}");
}
