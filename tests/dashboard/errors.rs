//! Errors you can read: a failure's lines are kept (never run together), the step's line leads
//! with the sentence that matters, what the error already says is not repeated under it, a
//! multi-host summary keeps one line per host, and `Enter` opens the whole failure.

use crate::support::tui_fixtures as fx;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::text;
use kdeck::deploy::event::{Event, HealthReport, StepKind};
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::App;
use std::time::Duration;

const KAMAL_PROXY_ERROR: &str = "Exception while executing on host 10.77.4.12: docker exit status: 1\ndocker stdout: Nothing written\ndocker stderr: Error: target failed to become healthy within configured timeout (20s)";

/// A health failure as the engine reports kamal-proxy's answer, and a second host lost.
fn failed() -> App {
    let mut app = fx::app_with(fx::fleet());
    let mut ev = fx::deploy_running();
    ev.push(Event::StepFailed {
        host: Some("10.77.4.12".into()),
        role: Some("web".into()),
        kind: StepKind::Health,
        elapsed: Duration::from_secs(21),
        error: KAMAL_PROXY_ERROR.into(),
        last_logs: (1..=12).map(|i| format!("log line {i}")).collect(),
        health: Some(HealthReport { docker: Some("running".into()), proxy: Some(KAMAL_PROXY_ERROR.into()), reason: Some(KAMAL_PROXY_ERROR.into()) }),
    });
    ev.push(Event::Finished {
        ok: false,
        elapsed: Duration::from_secs(38),
        summary: "Exceptions on 2 hosts:\n10.77.4.12: target failed to become healthy\n10.77.4.13: connection lost".into(),
    });
    fx::feed(&mut app, ev);
    let mut d = Recorder::default();
    app.handle_key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE), &mut d);
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE), &mut Recorder::default());
}

#[test]
fn a_failed_step_leads_with_the_verdict_and_keeps_its_lines() {
    let app = failed();
    for (w, h) in [(160, 40), (80, 24)] {
        let s = text(&app, w, h);
        assert!(!s.contains("1docker stdout") && !s.contains("writtendocker"), "{w}x{h}: lines run together:\n{s}");
        let step = s.lines().find(|l| l.contains("✗ health wait")).unwrap_or_else(|| panic!("{w}x{h}: no failed step:\n{s}"));
        assert!(step.contains("Error: target failed"), "{w}x{h}: the step line must lead with the verdict: {step}");
        assert!(s.matches("target failed to become healthy within").count() <= 1, "{w}x{h}: the verdict is repeated:\n{s}");
        assert!(s.contains("Exceptions on 2 hosts"), "{w}x{h}: {s}");
    }
    let s = text(&app, 160, 40);
    assert!(s.contains("10.77.4.13: connection lost"), "the summary keeps a line per host:\n{s}");
    assert!(s.contains("docker exit status: 1"), "the rest of the error is still there:\n{s}");
    assert!(s.contains("Enter: the whole error"), "{s}");
    insta::assert_snapshot!("deploy_failed_readable_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("deploy_failed_readable_160x40", text(&app, 160, 40));
}

#[test]
fn enter_opens_the_whole_failure_and_esc_closes_it() {
    let mut app = failed();
    key(&mut app, KeyCode::Enter);
    let s = text(&app, 160, 40);
    assert!(s.contains("What failed"), "{s}");
    for want in ["docker stderr: Error: target failed", "docker: running", "log line 1", "log line 12", "10.77.4.13: connection lost"] {
        assert!(s.contains(want), "the pane lacks {want:?}:\n{s}");
    }
    assert!(s.contains("Esc/q close"), "the status bar names the way out:\n{s}");
    insta::assert_snapshot!("failure_pane_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("failure_pane_160x40", text(&app, 160, 40));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
}

#[test]
fn enter_without_a_failure_says_so() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_done());
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none());
    assert!(text(&app, 160, 40).contains("nothing has failed"));
}

#[test]
fn a_multi_line_notice_shows_its_first_line_and_gives_the_bar_back_later() {
    let mut app = fx::app_with(fx::fleet());
    app.update(kdeck::tui::Update::Notice {
        error: true,
        text: "Exceptions on 3 hosts:\nException while executing on host 10.77.4.11: docker exit status: 1".into(),
    });
    let bar = |app: &App| text(app, 80, 24).lines().last().unwrap_or_default().to_string();
    assert!(bar(&app).contains("Exceptions on 3 hosts: …") && !bar(&app).contains("Exception while"), "{}", bar(&app));
    assert!(!app.expire_notice(), "first seen now");
    app.now += chrono::Duration::seconds(10);
    assert!(!app.expire_notice(), "an error stays 20 s");
    app.now += chrono::Duration::seconds(11);
    assert!(app.expire_notice());
    assert!(bar(&app).contains("q quit"), "the keys are back: {}", bar(&app));
}
