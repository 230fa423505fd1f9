//! The dashboard on quit during a deploy, Esc in the log filter, two running containers of a
//! role, and truncation of long names and labels.

use crate::support::tui_fixtures as fx;

use fx::text;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc as fmpsc;
use kdeck::deploy::event::Event;
use kdeck::tui::dispatch::{ChannelDispatcher, Recorder, Request};
use kdeck::tui::{run_loop, App, LoopExit, Update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn ev(c: KeyCode) -> KeyEvent {
    let m = if matches!(c, KeyCode::Char(ch) if ch.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    KeyEvent::new(c, m)
}

fn key(app: &mut App, d: &mut Recorder, c: KeyCode) {
    app.handle_key(ev(c), d);
}

fn keys(app: &mut App, d: &mut Recorder, s: &str) {
    for c in s.chars() {
        key(app, d, KeyCode::Char(c));
    }
}

fn running_app() -> App {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_running());
    assert!(app.timeline.is_running());
    app
}

fn finished(ok: bool) -> Update {
    Update::Engine(Event::Finished { ok, elapsed: Duration::from_secs(3), summary: "aborted".into() })
}

// ------------------------------------------------------------------ quit during a deploy

/// The real loop: `q` `y` mid-deploy must ask the engine to abort and keep running until the
/// engine reports Finished (before the fix it returned at once and the process died with the
/// lock held).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_during_deploy_waits_for_the_engine_to_finish() {
    let mut app = running_app();
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let (key_tx, mut keys) = fmpsc::unbounded::<std::io::Result<TermEvent>>();
    let (up_tx, mut updates) = mpsc::channel::<Update>(64);
    let (req_tx, mut reqs) = mpsc::unbounded_channel();
    let mut d = ChannelDispatcher(req_tx);
    let finished_sent = Arc::new(AtomicBool::new(false));

    let flag = finished_sent.clone();
    let script = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for c in ['q', 'y'] {
            key_tx.unbounded_send(Ok(TermEvent::Key(ev(KeyCode::Char(c))))).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The engine takes a while to finish the running steps and release the lock.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let first = reqs.try_recv().ok();
        let second = reqs.try_recv().ok();
        flag.store(true, Ordering::SeqCst);
        up_tx.send(finished(false)).await.unwrap();
        (first, second, key_tx, up_tx)
    });

    let exit = tokio::time::timeout(Duration::from_secs(10), run_loop(&mut term, &mut app, &mut keys, &mut updates, &mut d, 60))
        .await
        .expect("the loop never quit after Finished")
        .unwrap();
    assert!(finished_sent.load(Ordering::SeqCst), "the dashboard quit before the engine finished the abort");
    let (first, second, _k, _u) = script.await.unwrap();
    assert_eq!(exit, LoopExit::Quit);
    assert_eq!(first, Some(Request::Abort), "quit-and-abort did not ask the engine to abort");
    assert_eq!(second, None, "one confirmation must be a safe (not forced) abort");
    assert!(app.exit_failed, "an aborted action must make the dashboard exit non-zero");
}

#[test]
fn quitting_shows_aborting_and_second_q_forces_but_stays() {
    let mut app = running_app();
    let mut d = Recorder::default();
    keys(&mut app, &mut d, "qy");
    assert_eq!(d.0, vec![Request::Abort]);
    assert!(!app.quit, "must wait for the engine");
    assert!(app.quitting);
    let screen = text(&app, 160, 40);
    assert!(screen.contains("aborting…"), "{screen}");
    // Second q: a forced abort, still waiting for the lock release.
    key(&mut app, &mut d, KeyCode::Char('q'));
    assert_eq!(d.0, vec![Request::Abort, Request::Abort]);
    assert!(!app.quit);
    assert!(text(&app, 160, 40).contains("forced abort"));
    // Ctrl-C behaves as q.
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), &mut d);
    assert!(app.quit, "third press leaves the screen (the caller still awaits the engine)");
    assert!(app.exit_failed);
}

#[test]
fn quit_after_x_abort_does_not_force() {
    let mut app = running_app();
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('X'));
    app.update(Update::Engine(Event::Aborting { forced: false }));
    keys(&mut app, &mut d, "qy");
    assert_eq!(d.0, vec![Request::Abort], "q+y after X must not escalate to a forced abort");
    assert!(app.quitting && !app.quit);
    app.update(finished(true));
    assert!(app.quit);
    assert!(!app.exit_failed, "the action finished fine");
}

#[test]
fn quit_when_nothing_runs_is_immediate_and_clean() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('q'));
    assert!(app.quit && !app.exit_failed && d.0.is_empty());
}

#[test]
fn terminate_signal_waits_for_running_action() {
    let mut app = running_app();
    app.update(Update::Terminate);
    assert!(app.quitting && !app.quit);
    app.update(finished(false));
    assert!(app.quit && app.exit_failed);
    let mut idle = fx::app_with(fx::fleet());
    idle.update(Update::Terminate);
    assert!(idle.quit);
}

// ----------------------------------------------------------------------- the log filter

#[test]
fn logs_esc_clears_the_filter_before_leaving() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 50);
    let mut d = Recorder::default();
    keys(&mut app, &mut d, "2/tick");
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(app.view(), kdeck::tui::View::Logs);
    assert!(app.log_view.filter.is_some());
    // First Esc: the filter goes, the view stays.
    key(&mut app, &mut d, KeyCode::Esc);
    assert_eq!(app.view(), kdeck::tui::View::Logs, "Esc left the view with a filter active");
    assert!(app.log_view.filter.is_none(), "Esc did not clear the filter");
    // Second Esc: back.
    key(&mut app, &mut d, KeyCode::Esc);
    assert_eq!(app.view(), kdeck::tui::View::Fleet);
}

#[test]
fn slash_starts_a_fresh_pattern() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 50);
    let mut d = Recorder::default();
    keys(&mut app, &mut d, "2/old");
    key(&mut app, &mut d, KeyCode::Enter);
    keys(&mut app, &mut d, "/new");
    assert_eq!(app.log_view.filter_input.as_deref(), Some("new"));
    assert_eq!(app.log_view.filter.as_ref().map(|r| r.as_str()), Some("new"));
    // `/` then Enter on an empty prompt keeps the current filter.
    key(&mut app, &mut d, KeyCode::Enter);
    key(&mut app, &mut d, KeyCode::Char('/'));
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(app.log_view.filter.as_ref().map(|r| r.as_str()), Some("new"));
}

// ------------------------------------------------- two running containers of one role

/// What an interrupted deploy leaves: the job host runs V1 and V1_replaced_… (both up).
fn fleet_two_running() -> kdeck::fleet::model::FleetSnapshot {
    let mut s = fx::fleet();
    let mut c = fx::container("klabapp", "job", &format!("{}_replaced_b2a3a77519b51b8e", fx::V1), "running", 3);
    c.name = format!("klabapp-job-{}_replaced_b2a3a77519b51b8e", fx::V1);
    s.hosts[2].containers.push(c);
    s
}

fn row_of<'a>(screen: &'a str, host: &str) -> &'a str {
    screen.lines().find(|l| l.contains(host)).unwrap_or_else(|| panic!("no row for {host}:\n{screen}"))
}

#[test]
fn two_running_containers_of_a_role_are_flagged() {
    let mut app = fx::app_with(fleet_two_running());
    for (w, h, marker) in [(160, 40, "[2 running]"), (80, 24, "[2 up]")] {
        let screen = text(&app, w, h);
        assert!(row_of(&screen, "10.77.4.13").contains(marker), "{w}x{h}: no marker on the host row:\n{screen}");
        assert!(!row_of(&screen, "10.77.4.11").contains("[2"), "{screen}");
    }
    // The detail pane of that host names both containers.
    let mut d = Recorder::default();
    let idx = kdeck::tui::versions::tree(&app.fleet)
        .iter()
        .position(|r| matches!(r, kdeck::tui::versions::TreeRow::Host { host, .. } if host == "10.77.4.13"))
        .unwrap();
    for _ in 0..idx {
        key(&mut app, &mut d, KeyCode::Char('j'));
    }
    let screen = text(&app, 160, 40);
    assert!(screen.contains("2 job containers up"), "{screen}");
    assert!(screen.contains("replaced (running)"), "{screen}");
}

#[test]
fn a_restarting_old_container_also_counts_but_exited_does_not() {
    let app = fx::app_with(fx::fleet());
    assert!(!text(&app, 160, 40).contains("running]"), "exited older containers are normal");
    let mut s = fx::fleet();
    let mut c = fx::container("klabapp", "web", fx::V2, "restarting", 30);
    c.health = None;
    s.hosts[0].containers.retain(|c| c.version != fx::V2);
    s.hosts[0].containers.push(c);
    let app = fx::app_with(s);
    assert!(row_of(&text(&app, 160, 40), "10.77.4.11").contains("2 running"));
}

// --------------------------------------------------------------------------- truncation

#[test]
fn container_names_cut_at_120_columns_end_in_ellipsis() {
    let app = fx::app_with(fx::fleet());
    let screen = text(&app, 120, 40);
    let row = row_of(&screen, "10.77.4.11");
    let cell = row.split_whitespace().find(|w| w.starts_with("klabapp-")).unwrap_or_else(|| panic!("{screen}"));
    assert!(cell.ends_with('…'), "container name cut without an ellipsis: {cell:?}\n{screen}");
}

#[test]
fn long_step_labels_are_cut_and_times_stay_aligned() {
    use kdeck::deploy::event::StepKind;
    let mut app = fx::app_with(fx::fleet());
    let mut evs = fx::deploy_running();
    let label = "prepare (error pages, assets, and a rather long description of what happens)";
    evs.push(Event::StepStarted { host: None, role: None, kind: StepKind::Other, label: label.into(), at: fx::now() });
    evs.push(Event::StepFinished { host: None, role: None, kind: StepKind::Other, elapsed: Duration::from_millis(20) });
    fx::feed(&mut app, evs);
    let screen = text(&app, 80, 40);
    let line = screen.lines().find(|l| l.contains("prepare (")).unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains('…'), "{line}");
    let hook = screen.lines().find(|l| l.contains("✓ hook")).unwrap_or_else(|| panic!("{screen}"));
    // The elapsed columns end at the same cell.
    let end = |l: &str, pat: &str| l[..l.find(pat).unwrap() + pat.len()].chars().count();
    assert_eq!(end(line, "0.0s"), end(hook, "0.2s"), "\n{line}\n{hook}");
}

#[test]
fn lock_release_notice_is_a_sentence() {
    use kdeck::deploy::event::ActionKind;
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Engine(Event::PlanReady { action: ActionKind::LockRelease, version: None, hosts: vec![], groups: vec![], steps: vec![] }));
    app.update(Update::Engine(Event::Finished { ok: true, elapsed: Duration::from_millis(90), summary: "lockrelease finished".into() }));
    assert_eq!(app.notice, Some((false, "released the deploy lock".into())));
}

#[test]
fn deploy_confirmation_says_push_is_skipped_and_room_unknown() {
    let mut app = fx::app_with(fx::fleet());
    app.skip_push = true;
    app.next_version = Some(fx::V3.into());
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('D'));
    let screen = text(&app, 160, 40);
    assert!(screen.contains("pulled from the registry (-P)"), "{screen}");
    assert!(screen.contains("room for a second copy: no resource sample yet"), "{screen}");
    key(&mut app, &mut d, KeyCode::Esc);
    key(&mut app, &mut d, KeyCode::Char('R'));
    let screen = text(&app, 160, 40);
    assert!(screen.contains("push: skipped"), "{screen}");
    assert!(screen.contains("room for a second copy: unknown"), "{screen}");
}

#[test]
fn header_marks_a_fleet_running_mixed_versions() {
    assert!(!text(&fx::app_with(fx::fleet()), 160, 40).contains("≠ hosts differ"));
    let mut s = fx::fleet();
    // An aborted deploy: web moved on, the worker host still runs the old version.
    s.hosts[2].current = vec![("job".into(), fx::V2.into())];
    s.hosts[2].containers.iter_mut().for_each(|c| c.state = if c.version == fx::V2 { "running".into() } else { "exited".into() });
    let screen = text(&fx::app_with(s), 160, 40);
    assert!(screen.lines().next().unwrap().contains("≠ hosts differ"), "{screen}");
}

#[test]
fn step_labels_come_from_the_run_and_name_checks_as_checks() {
    use kdeck::deploy::event::{ActionKind, PlannedStep, StepKind};
    let mut app = fx::app_with(fx::fleet());
    let h = "10.77.4.13".to_string();
    let steps = vec![
        PlannedStep { host: Some(h.clone()), role: None, kind: StepKind::ProxyBoot, group: None, label: "proxy boot".into() },
        PlannedStep { host: Some(h.clone()), role: Some("job".into()), kind: StepKind::Rename, group: None, label: "rename".into() },
    ];
    app.update(Update::Engine(Event::PlanReady { action: ActionKind::Deploy, version: Some("v3".into()), hosts: vec![h.clone()], groups: vec![], steps }));
    app.update(Update::Engine(Event::StepStarted {
        host: Some(h.clone()),
        role: None,
        kind: StepKind::ProxyBoot,
        label: "docker network create kamal".into(),
        at: fx::now(),
    }));
    app.update(Update::Engine(Event::StepStarted {
        host: Some(h.clone()),
        role: Some("job".into()),
        kind: StepKind::Rename,
        label: "check name clash / current version".into(),
        at: fx::now(),
    }));
    let screen = text(&app, 120, 30);
    assert!(screen.contains("⠿ network"), "{screen}");
    assert!(!screen.contains("proxy boot"), "{screen}");
    assert!(screen.contains("check names job") && !screen.contains("rename job"), "{screen}");
}

#[test]
fn narrow_status_bar_drops_other_keys_before_help_and_quit() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    for view_key in ['1', '2', '3', '5'] {
        key(&mut app, &mut d, KeyCode::Char(view_key));
        let screen = text(&app, 80, 24);
        let bar = screen.lines().last().unwrap_or_default();
        assert!(bar.contains("? help") && bar.contains("q quit"), "view {view_key}: {bar}");
    }
}
