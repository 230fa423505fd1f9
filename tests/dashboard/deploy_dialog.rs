//! The deploy dialog (`D`): the version picker (start version, registry tags, versions on the
//! hosts, recent commits, each with its source and age), the scope, the canary choice, and the
//! pre-flight that must pass before `y` sends the request; a staged deploy's stage and the
//! canary's verdict on the timeline; on an app with one web host, the rollout canary (kamal-proxy's
//! own split) with its share, and its watch and stop on the timeline. Snapshots at 80x24 and 160x40.

use crate::support::tui_fixtures as fx;

use chrono::Duration as CDuration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::text;
use kdeck::app::preflight::{Commit, RegistryCheck, Report};
use kdeck::docker::registry::Tag;
use kdeck::tui::dispatch::{DeployChoice, DeployMode, DeployScope, Recorder, Request, Stage, StageState, Update};
use kdeck::tui::App;

macro_rules! snap {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!(concat!($name, "_80x24"), text(&$app, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x40"), text(&$app, 160, 40));
    };
}

fn key(app: &mut App, c: char, rec: &mut Recorder) {
    let m = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(KeyCode::Char(c), m), rec);
}

/// What the pre-flight of the fixture app finds: the registry answers with V3, V2 and an
/// older tag; the app dir's HEAD is V3, its parent V2, and an unbuilt commit before.
pub fn report_ok() -> Report {
    let ago = |min: i64| Some(fx::now() - CDuration::minutes(min));
    Report {
        at: fx::now(),
        version: Some(fx::V3.into()),
        load_error: None,
        secret_problems: vec![],
        registry: "10.77.4.1:5000".into(),
        registry_check: RegistryCheck::Ok,
        tags: vec![
            Tag { name: fx::V3.into(), created: ago(5) },
            Tag { name: fx::V2.into(), created: ago(60 * 27) },
            Tag { name: fx::V1.into(), created: ago(130) },
            Tag { name: "v0.9.1".into(), created: ago(60 * 24 * 9) },
            Tag { name: "latest-staging".into(), created: ago(5) },
        ],
        commits: vec![
            Commit { sha: fx::V3.into(), time: ago(7), subject: "Show the version on /version".into() },
            Commit { sha: fx::V1.into(), time: ago(140), subject: "Retry the payment webhook".into() },
            Commit { sha: "77aa00ee77aa00ee77aa00ee77aa00ee77aa00ee".into(), time: ago(60 * 30), subject: "WIP never built".into() },
        ],
    }
}

/// The fixture fleet (V1 running, V2 stopped on every host), started with V3.
fn app() -> App {
    let mut app = fx::app_with(fx::fleet());
    app.next_version = Some(fx::V3.into());
    app
}

#[test]
fn the_dialog_asks_the_preflight_and_waits_for_it_before_y() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    assert_eq!(rec.0, vec![Request::Preflight], "opening the dialog reads the config, secrets and registry again");
    snap!("deploy_dialog_preflight_running", app);
    key(&mut app, 'y', &mut rec);
    assert_eq!(rec.0.len(), 1, "no deploy while the pre-flight runs: {:?}", rec.0);
    assert!(app.notice.as_ref().is_some_and(|(e, t)| *e && t.contains("pre-flight is still running")), "{:?}", app.notice);
}

#[test]
fn the_picker_shows_each_versions_source_and_age_and_sends_the_choice() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    let s = text(&app, 160, 40);
    for want in [
        "start · registry · git HEAD",
        "registry · hosts 3/3 · git",
        "registry · hosts 3/3",
        "v0.9.1",
        "not in the registry (never built)",
        "registry 10.77.4.1:5000 answers",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    assert!(!s.contains("latest-staging"), "the latest tag is not a version:\n{s}");
    snap!("deploy_dialog_picker", app);
    // j: V1 (running now), j: V2 (on the hosts, in the registry); s: role web.
    key(&mut app, 'j', &mut rec);
    key(&mut app, 'j', &mut rec);
    key(&mut app, 's', &mut rec);
    snap!("deploy_dialog_version_and_scope", app);
    key(&mut app, 'y', &mut rec);
    let want = DeployChoice { version: fx::V2.into(), scope: DeployScope::Role("web".into()), mode: DeployMode::Rolling };
    assert_eq!(rec.0.last(), Some(&Request::Deploy(want)));
    assert!(app.overlay.is_none());
}

#[test]
fn a_failing_preflight_refuses_y_with_the_reason_and_never_a_secret() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    let mut r = report_ok();
    r.secret_problems = vec!["role web: env.secret: DATABASE_PASSWORD: not found in .kamal/secrets".into()];
    r.registry_check = RegistryCheck::Failed("the registry 10.77.4.1:5000 refused the credentials of kdeck (HTTP 401)".into());
    r.tags.clear();
    app.update(Update::Preflight(Box::new(r)));
    snap!("deploy_dialog_preflight_failed", app);
    key(&mut app, 'y', &mut rec);
    assert_eq!(rec.0, vec![Request::Preflight]);
    let (err, text) = app.notice.clone().expect("a reason");
    assert!(err && text.contains("DATABASE_PASSWORD") && text.contains("press D again"), "{text}");
    // Fixed and opened again: the new answer lets it through.
    key(&mut app, 'n', &mut rec);
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    key(&mut app, 'y', &mut rec);
    assert!(matches!(rec.0.last(), Some(Request::Deploy(c)) if c.version == fx::V3 && c.scope == DeployScope::All), "{:?}", rec.0);
}

#[test]
fn canary_from_the_dialog_with_its_window_and_one_host_first() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    key(&mut app, 'c', &mut rec);
    key(&mut app, 'w', &mut rec);
    snap!("deploy_dialog_canary", app);
    key(&mut app, 'y', &mut rec);
    match rec.0.last() {
        Some(Request::Deploy(DeployChoice { version, scope: DeployScope::All, mode: DeployMode::Canary { window_s: 120, thresholds } })) => {
            assert_eq!(version, fx::V3);
            assert_eq!(thresholds.max_5xx_pct, 1.0);
        }
        other => panic!("{other:?}"),
    }
    // A canary on one host alone has nothing to compare with: refused; one host first is fine.
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    key(&mut app, 'c', &mut rec);
    for _ in 0..3 {
        key(&mut app, 's', &mut rec);
    }
    key(&mut app, 'y', &mut rec);
    assert!(app.notice.as_ref().is_some_and(|(_, t)| t.contains("a canary needs the rest of the fleet")), "{:?}", app.notice);
    key(&mut app, 's', &mut rec);
    key(&mut app, 'y', &mut rec);
    assert!(
        matches!(rec.0.last(), Some(Request::Deploy(DeployChoice { scope: DeployScope::HostFirst(h), mode: DeployMode::Canary { .. }, .. })) if h == "10.77.4.11"),
        "{:?}",
        rec.0.last()
    );
}

#[test]
fn the_canarys_watch_and_verdict_stay_on_the_timeline_across_its_parts() {
    let mut app = app();
    let stage = |state: StageState, verdict: Option<(bool, String)>| Stage {
        first: vec!["10.77.4.11".into()],
        rest: vec!["10.77.4.12".into(), "10.77.4.13".into()],
        version: fx::V3.into(),
        gate: Some((60, Default::default())),
        state,
        verdict,
        rollout: None,
    };
    app.update(Update::Stage(stage(StageState::First, None)));
    fx::feed(&mut app, fx::deploy_done());
    app.update(Update::Stage(stage(StageState::Watching { since: fx::now() - CDuration::seconds(23) }, None)));
    assert!(app.timeline.is_running(), "between its parts a canary is still running (one action at a time, quit asks)");
    snap!("deploy_canary_watching", app);
    let why = "50.0 % of the canary's 120 requests answered 5xx, above 1.0 %\ncanary: 120 requests, 50.0 % 5xx, p95 4ms; other hosts: 300 requests, 0.0 % 5xx, p95 4ms";
    app.update(Update::Stage(stage(StageState::RollingBack, Some((false, format!("canary failed: {why}"))))));
    app.update(Update::Stage(stage(
        StageState::Done { ok: false, summary: "10.77.4.11 rolled back to 1fd263c; the rest was not deployed".into() },
        Some((false, format!("canary failed: {why}"))),
    )));
    assert!(!app.timeline.is_running());
    snap!("deploy_canary_failed", app);
}

/// The fixture fleet with web on .11 alone (job on .13): where kamal-proxy's rollout is offered.
fn one_web_host() -> App {
    let mut f = fx::fleet();
    f.roles[0].1.truncate(1);
    f.hosts.remove(1);
    let mut app = fx::app_with(f);
    app.next_version = Some(fx::V3.into());
    app.rollout_host = Some("10.77.4.11".into());
    app
}

#[test]
fn a_rollout_canary_is_offered_on_one_web_host_with_its_share() {
    let mut app = one_web_host();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    // c: canary, c: rollout canary, p: 10 → 25 %.
    key(&mut app, 'c', &mut rec);
    assert!(text(&app, 160, 40).contains("c rollout  w window"), "the canary line says c goes on to the rollout");
    key(&mut app, 'c', &mut rec);
    key(&mut app, 'p', &mut rec);
    snap!("deploy_dialog_rollout", app);
    key(&mut app, 'y', &mut rec);
    match rec.0.last() {
        Some(Request::Deploy(DeployChoice { version, scope: DeployScope::All, mode: DeployMode::Rollout { window_s: 60, percent: 25, thresholds } })) => {
            assert_eq!(version, fx::V3);
            assert_eq!(thresholds.max_5xx_pct, 1.0);
        }
        other => panic!("{other:?}"),
    }
    // A rollout canary is followed by the deploy of every host: another scope is refused.
    key(&mut app, 'D', &mut rec);
    app.update(Update::Preflight(Box::new(report_ok())));
    key(&mut app, 'c', &mut rec);
    key(&mut app, 'c', &mut rec);
    key(&mut app, 's', &mut rec);
    key(&mut app, 'y', &mut rec);
    assert!(app.notice.as_ref().is_some_and(|(e, t)| *e && t.contains("scope all hosts")), "{:?}", app.notice);
    // A third c: rolling again.
    key(&mut app, 'c', &mut rec);
    assert!(text(&app, 160, 40).contains("rolling (Kamal's deploy)"));

    // Two web hosts: no rollout in the cycle (canary, then rolling).
    let mut two = self::app();
    key(&mut two, 'D', &mut rec);
    two.update(Update::Preflight(Box::new(report_ok())));
    key(&mut two, 'c', &mut rec);
    key(&mut two, 'c', &mut rec);
    assert!(text(&two, 160, 40).contains("rolling (Kamal's deploy)"), "{}", text(&two, 160, 40));
}

/// kamal-proxy's request log on .11 during a rollout: the live target (V1) 15 req/s for the
/// minute, the rollout target (V3) 4 req/s for the last 12 s, every one a 500.
fn split_traffic() -> kdeck::fleet::traffic::TrafficSnapshot {
    use kdeck::fleet::traffic::{TargetInfo, TrafficBook};
    use kdeck::kamal::proxy_log::ProxyRequest;
    let now = fx::now().timestamp();
    let req = |target: &str, status: u16, t: i64| ProxyRequest {
        time: chrono::DateTime::from_timestamp(t, 0),
        service: "klabapp-web-staging".into(),
        target: target.into(),
        status,
        duration_ns: 2_000_000,
        method: "GET".into(),
        host: "klabapp.test".into(),
        path: "/".into(),
    };
    let mut b = TrafficBook::default();
    for t in now - 60..now {
        for _ in 0..15 {
            b.record("10.77.4.11", &req("aaaa11111111:80", 200, t), t);
        }
        if t >= now - 12 {
            for _ in 0..4 {
                b.record("10.77.4.11", &req("cccc11111111:80", 500, t), t);
            }
        }
    }
    let info = |v: &str| TargetInfo { container: Some(format!("klabapp-web-staging-{v}")), version: Some(v.into()) };
    b.set_target("10.77.4.11", "aaaa11111111:80", info(fx::V1));
    b.set_target("10.77.4.11", "cccc11111111:80", info(fx::V3));
    b.snapshot(now, &|s: &str| (s == "klabapp-web-staging").then(|| "web".to_string()))
}

#[test]
fn a_rollout_canarys_watch_and_stop_stay_on_the_timeline() {
    let mut app = one_web_host();
    let stage = |state: StageState, verdict: Option<(bool, String)>| Stage {
        first: vec!["10.77.4.11".into()],
        rest: vec!["10.77.4.11".into(), "10.77.4.13".into()],
        version: fx::V3.into(),
        gate: Some((60, Default::default())),
        state,
        verdict,
        rollout: Some(kdeck::kamal::cmd::RolloutSplit { percent: Some(25), list: vec![] }),
    };
    app.update(Update::Stage(stage(StageState::First, None)));
    fx::feed(&mut app, fx::rollout_part(true, 40));
    app.update(Update::Stage(stage(StageState::Watching { since: fx::now() - CDuration::seconds(12) }, None)));
    app.update(Update::Traffic(Box::new(split_traffic())));
    assert!(app.timeline.is_running(), "between its parts a rollout canary is still running");
    snap!("deploy_rollout_watching", app);
    let why = "100.0 % of the canary's 48 requests answered 5xx, above 1.0 % (the live version: 0.0 %)\ncanary (rollout target): 48 requests, 100.0 % 5xx, p95 3ms; live target: 190 requests, 0.0 % 5xx, p95 2ms";
    app.update(Update::Stage(stage(StageState::Stopping, Some((false, format!("canary failed: {why}"))))));
    assert!(text(&app, 160, 40).contains("rollout canary: stopping the rollout on 10.77.4.11"));
    fx::feed(&mut app, fx::rollout_part(false, 58));
    app.update(Update::Stage(stage(
        StageState::Done { ok: false, summary: "the rollout on 10.77.4.11 was stopped (1fd263c serves every request); nothing was deployed".into() },
        Some((false, format!("canary failed: {why}"))),
    )));
    assert!(!app.timeline.is_running());
    snap!("deploy_rollout_failed", app);
}
