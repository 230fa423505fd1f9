//! The screen must never show last-known data as live: a host whose Docker does not answer is
//! marked `✗ docker` with the error, its containers' states are last-known (`running?`, no
//! up-time counter); a host that never answered does not claim it has no container.

use crate::support::tui_fixtures as fx;

use fx::text;
use kdeck::fleet::model::ConnState;

fn row<'a>(screen: &'a str, host: &str) -> &'a str {
    screen.lines().find(|l| l.contains(host) && (l.contains('├') || l.contains('└'))).unwrap_or_else(|| panic!("no row for {host}:\n{screen}"))
}

#[test]
fn docker_unreachable_marks_the_host_and_its_states_as_last_known() {
    let mut s = fx::fleet();
    s.hosts[1].docker_error = Some("error trying to connect: Connection refused".into());
    s.hosts[1].last_seen = Some(fx::now() - chrono::Duration::seconds(75));
    let app = fx::app_with(s);
    for (w, h) in [(160, 40), (80, 24)] {
        let screen = text(&app, w, h);
        let r = row(&screen, "10.77.4.12");
        assert!(r.contains("✗ docker") && r.contains("running?") && !r.contains("1 h"), "{w}x{h}: {r}");
        assert!(row(&screen, "10.77.4.11").contains("● up"), "the other hosts stay live");
    }
    let r = row(&text(&app, 160, 40), "10.77.4.12").to_string();
    assert!(r.contains("docker unreachable: error trying"), "{r}");
}

#[test]
fn a_host_that_never_answered_does_not_claim_it_has_no_container() {
    let mut s = fx::fleet();
    s.hosts[2].conn = ConnState::Down { reason: "host key verification failed".into() };
    s.hosts[2].containers.clear();
    s.hosts[2].current.clear();
    s.hosts[2].last_seen = None;
    let mut app = fx::app_with(s);
    let mut d = kdeck::tui::dispatch::Recorder::default();
    // Select the third host row (web group, 2 hosts, job group, its host).
    for _ in 0..4 {
        app.handle_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('j'), crossterm::event::KeyModifiers::NONE), &mut d);
    }
    let screen = text(&app, 160, 40);
    assert!(screen.contains("no data yet: the host has not answered") || screen.contains("down: host key verification failed"), "{screen}");
    assert!(!screen.contains("no klabapp container for role job"), "{screen}");
}

fn press(app: &mut kdeck::tui::App, c: char, d: &mut kdeck::tui::dispatch::Recorder) {
    app.handle_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(c), crossterm::event::KeyModifiers::NONE), d);
}

#[test]
fn deploy_dialog_says_the_lock_is_held_and_refuses_before_the_engine_would() {
    let mut s = fx::fleet();
    s.lock = Some(kdeck::kamal::lock::LockInfo { holder: "alice".into(), at: Some(fx::now()), version: None, message: "db migration".into() });
    let mut app = fx::app_with(s);
    app.next_version = Some("v2".into());
    let mut d = kdeck::tui::dispatch::Recorder::default();
    press(&mut app, 'D', &mut d);
    for (w, h) in [(160, 40), (80, 24)] {
        let screen = text(&app, w, h);
        assert!(screen.contains("lock is held by alice"), "{w}x{h}:\n{screen}");
    }
    assert!(text(&app, 160, 40).contains("→ v2"), "the dialog says what runs now and what comes");
    press(&mut app, 'y', &mut d);
    assert_eq!(d.0, vec![kdeck::tui::dispatch::Request::Preflight], "no deploy may be sent while the lock is held");
    let screen = text(&app, 160, 40);
    assert!(screen.contains("press L to release it first"), "the notice names the dashboard key:\n{screen}");
}

#[test]
fn an_unknown_host_key_is_offered_for_trust_and_sent_only_after_yes() {
    let mut s = fx::fleet();
    s.hosts[2].conn =
        ConnState::Down { reason: "10.77.4.13: host key not known (ssh-ed25519 SHA256:abc); refusing to connect. To trust it run: ssh-keyscan …".into() };
    s.hosts[2].unknown_host_key = Some("ssh-ed25519 SHA256:abcDEF".into());
    let mut app = fx::app_with(s);
    let mut d = kdeck::tui::dispatch::Recorder::default();
    for _ in 0..4 {
        press(&mut app, 'j', &mut d);
    }
    for (w, h) in [(160, 40), (80, 24)] {
        let screen = text(&app, w, h);
        assert!(screen.contains("unknown host key: ssh-ed25519 SHA256:abcDEF") && screen.contains("T trust it"), "{w}x{h}:\n{screen}");
    }
    press(&mut app, 'T', &mut d);
    let screen = text(&app, 160, 40);
    assert!(screen.contains("Trust the host key of 10.77.4.13") && screen.contains("SHA256:abcDEF"), "{screen}");
    assert!(d.0.is_empty(), "nothing before yes");
    press(&mut app, 'y', &mut d);
    assert_eq!(d.0, vec![kdeck::tui::dispatch::Request::TrustHostKey { host: "10.77.4.13".into() }]);
    // A host whose key is known is not offered.
    press(&mut app, 'k', &mut d);
    press(&mut app, 'k', &mut d);
    press(&mut app, 'T', &mut d);
    assert!(app.overlay.is_none() && text(&app, 160, 40).contains("T trusts an unknown host key"));
}

#[test]
fn deploy_dialog_names_a_missing_secret_and_refuses_before_any_step() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = kdeck::tui::dispatch::Recorder::default();
    press(&mut app, 'D', &mut d);
    // The dialog reads the secrets again when it opens: its answer names the missing one.
    let mut r = crate::deploy_dialog::report_ok();
    r.secret_problems = vec!["servers.web.env.secret: .kamal/secrets: Secret 'APP_SECRET' not found in .kamal/secrets".into()];
    app.update(kdeck::tui::Update::Preflight(Box::new(r)));
    let screen = text(&app, 160, 40);
    assert!(screen.contains("✗ servers.web.env.secret") && screen.contains("APP_SECRET"), "{screen}");
    press(&mut app, 'y', &mut d);
    assert_eq!(d.0, vec![kdeck::tui::dispatch::Request::Preflight], "no deploy may start");
    assert!(text(&app, 160, 40).contains("fix the secrets"), "{}", text(&app, 160, 40));
    // A lock release needs no secret.
    press(&mut app, 'n', &mut d);
    app.fleet.lock = Some(kdeck::kamal::lock::LockInfo { holder: "alice".into(), at: None, version: None, message: "m".into() });
    press(&mut app, 'L', &mut d);
    press(&mut app, 'y', &mut d);
    assert_eq!(d.0.last(), Some(&kdeck::tui::dispatch::Request::LockRelease));
}

/// An accessory on a host that is down is last-known: the accessories group does not count it
/// as up (seen on the demo lab: `1/1 up` beside `✗ down`).
#[test]
fn the_accessories_group_does_not_count_a_down_hosts_accessory_as_up() {
    let mut s = fx::fleet_accessories();
    let db = s.hosts[0].accessories[0].clone();
    s.hosts[0].conn = ConnState::Down { reason: "connection refused".into() };
    assert_eq!(db.state, "running");
    let app = fx::app_with(s);
    for (w, h) in [(160, 40), (80, 24)] {
        let screen = text(&app, w, h);
        let group = screen.lines().find(|l| l.contains("accessories ·")).unwrap_or_else(|| panic!("{screen}"));
        assert!(group.contains("0/3 up"), "{w}x{h}: {group}");
    }
}
