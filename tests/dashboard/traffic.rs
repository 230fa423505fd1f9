//! Live traffic in the dashboard, from fixture figures (kamal-proxy request lines fed through
//! the same aggregation the live follow uses): the Traffic view, the fleet's traffic column and
//! detail line, and the deploy timeline's per-host traffic with the step where 5xx began.

use crate::support::tui_fixtures as fx;

use fx::text;

use chrono::Duration as CDuration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::traffic::{TargetInfo, TrafficBook, TrafficSnapshot};
use kdeck::kamal::proxy_log::ProxyRequest;
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::{App, Update};

macro_rules! snap {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!(concat!($name, "_80x24"), text(&$app, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x40"), text(&$app, 160, 40));
    };
}

fn req(target: &str, status: u16, ms: u64, t: i64) -> ProxyRequest {
    ProxyRequest {
        time: chrono::DateTime::from_timestamp(t, 0),
        service: "klabapp-web-staging".into(),
        target: target.into(),
        status,
        duration_ns: ms * 1_000_000,
        method: "GET".into(),
        host: "klabapp.test".into(),
        path: "/".into(),
    }
}

/// A switch 10 s ago on both web hosts: V1's target served 20 req/s until then, V3's since;
/// on .12 the new version answers one request in ten with a 502. `errors`: whether it does.
fn switched(errors: bool) -> TrafficSnapshot {
    let now = fx::now().timestamp();
    let mut b = TrafficBook::default();
    for (host, old, new) in [("10.77.4.11", "aaaa11111111:80", "cccc11111111:80"), ("10.77.4.12", "aaaa22222222:80", "cccc22222222:80")] {
        for t in now - 60..now {
            let (target, n) = if t < now - 10 { (old, 20) } else { (new, 24) };
            for i in 0..n {
                let status = if errors && host.ends_with(".12") && target == new && i % 10 == 0 { 502 } else { 200 };
                b.record(host, &req(target, status, 2 + (i % 7) as u64, t), t);
            }
        }
        b.set_target(host, old, TargetInfo { container: Some(format!("klabapp-web-staging-{}", fx::V1)), version: Some(fx::V1.into()) });
        b.set_target(host, new, TargetInfo { container: Some(format!("klabapp-web-staging-{}", fx::V3)), version: Some(fx::V3.into()) });
    }
    b.snapshot(now, &|s: &str| (s == "klabapp-web-staging").then(|| "web".to_string()))
}

fn key(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), &mut Recorder::default());
}

#[test]
fn traffic_view_shows_each_hosts_versions_with_the_switch_visible() {
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Traffic(Box::new(switched(true))));
    key(&mut app, '6');
    snap!("traffic_view", app);
    let s = text(&app, 160, 40);
    // The fleet line and each host's two versions, newest first.
    assert!(s.contains("fleet (all hosts)"), "{s}");
    let v3 = s.find("web 9e01f3b").expect("v3 row");
    let v1 = s.find("web 1fd263c").expect("v1 row");
    assert!(v3 < v1, "newest target first:\n{s}");
}

#[test]
fn traffic_view_says_when_there_is_nothing_yet() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, '6');
    assert!(text(&app, 80, 24).contains("Reading kamal-proxy's request log"));
    app.update(Update::Traffic(Box::default()));
    snap!("traffic_view_empty", app);
}

#[test]
fn fleet_shows_a_traffic_column_when_wide_and_a_traffic_line_in_the_detail() {
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Traffic(Box::new(switched(false))));
    key(&mut app, 'j');
    snap!("fleet_with_traffic", app);
    let wide = text(&app, 160, 40);
    assert!(wide.contains("Req/s  5xx  p95"), "{wide}");
    assert!(wide.contains("24.0/s"), "{wide}");
    let narrow = text(&app, 80, 24);
    assert!(narrow.contains("traffic 1fd263c 0.0/s → 9e01f3b 24.0/s"), "{narrow}");
    // `t` opens the Traffic view from the fleet.
    key(&mut app, 't');
    assert!(text(&app, 80, 24).contains("Traffic · kamal-proxy request log"));
}

#[test]
fn deploy_dialog_says_what_traffic_the_switch_will_move() {
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Traffic(Box::new(switched(true))));
    app.handle_key(KeyEvent::new(KeyCode::Char('D'), KeyModifiers::SHIFT), &mut Recorder::default());
    let s = text(&app, 160, 40);
    assert!(s.contains("traffic now: 48.0/s · 5xx 6.2% · p95 7.3ms (last 10 s)"), "{s}");
}

#[test]
fn deploy_timeline_shows_traffic_per_host_and_marks_the_step_where_5xx_began() {
    let mut app = fx::app_with(fx::fleet());
    // Before the run: clean traffic is the baseline.
    app.update(Update::Traffic(Box::new(switched(false))));
    fx::feed(&mut app, fx::deploy_running());
    app.update(Update::Traffic(Box::new(switched(false))));
    assert!(app.timeline.traffic_marks.is_empty(), "no 5xx, no mark");
    app.now += CDuration::seconds(1);
    app.update(Update::Traffic(Box::new(switched(true))));
    let m = app.timeline.traffic_marks.get("10.77.4.12").expect(".12 is marked");
    assert!(m.what.starts_with("5xx began"), "{m:?}");
    assert!(!app.timeline.traffic_marks.contains_key("10.77.4.11"), "only the host with 5xx");
    snap!("deploy_with_traffic", app);
    let s = text(&app, 160, 40);
    assert!(s.contains("1fd263c 0.0/s → 9e01f3b 24.0/s"), "{s}");
    assert!(s.contains("⚠ 5xx began"), "{s}");
}

#[test]
fn o_on_a_host_or_accessory_row_asks_for_a_tunnel_to_its_container() {
    let mut app = fx::app_with(fx::fleet_accessories());
    let mut rec = Recorder::default();
    // Row 1 is the first web host.
    app.handle_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE), &mut rec);
    app.handle_key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE), &mut rec);
    assert_eq!(rec.0, vec![kdeck::tui::dispatch::Request::Tunnel { name: "web".into(), host: "10.77.4.11".into() }]);
    // On a role row there is no single container: a notice says what to pick.
    app.handle_key(KeyEvent::new(KeyCode::Char('g'), KeyModifiers::NONE), &mut rec);
    app.handle_key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE), &mut rec);
    assert_eq!(rec.0.len(), 1);
    assert!(text(&app, 80, 24).contains("tunnel: select a host row"));
}
