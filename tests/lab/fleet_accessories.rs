//! The fleet watcher sees the app's accessories on the real lab (lab `facc`, net 6, 3 hosts):
//! the spec comes from deploy.yml as the dashboard builds it (`app::fleet_spec`), and
//! `kdeck accessory boot/stop` show up through Docker events alone (the periodic reconcile is
//! set far away): an accessory on a host outside every role, one placed by `roles:`, a stop.

use crate::support::engine as engine_support;
use engine_support::lab::{self, Lab};
use engine_support::{kdeck, ok};
use kdeck::fleet::model::{ConnState, FleetSnapshot};
use kdeck::fleet::Watcher;
use kdeck::tui::{draw, App, Update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const SVC: &str = "kfacc";

async fn wait_for(rx: &mut watch::Receiver<FleetSnapshot>, what: &str, within: Duration, f: impl Fn(&FleetSnapshot) -> bool) {
    let t0 = Instant::now();
    if !matches!(tokio::time::timeout(within, rx.wait_for(|s| f(s))).await, Ok(Ok(_))) {
        panic!("timed out after {within:?} waiting for {what}; last snapshot: {:#?}", *rx.borrow());
    }
    println!("{what}: {:?}", t0.elapsed());
}

fn state(s: &FleetSnapshot, host: &str, acc: &str) -> Option<String> {
    s.hosts.iter().find(|h| h.host == host)?.accessory(acc).map(|c| c.state.clone())
}

fn fresh(l: &Lab) {
    for h in l.hosts() {
        for name in ["db", "cache"] {
            let _ = l.docker(&h.ip, &["rm", "-f", &format!("{SVC}-{name}")]);
        }
        let _ = std::fs::remove_dir_all(h.root.join(format!(".kamal/lock-{SVC}")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_shows_accessories_booted_by_kdeck() {
    let _turn = crate::support::lab::turn();
    let Some(l) = Lab::up("facc", 6, 3) else { return };
    fresh(&l);
    let [h1, h2, h3] = [0, 1, 2].map(|i| l.hosts()[i].ip.clone());
    let image = l.image(SVC, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    // web on h1, worker on h2; db on h1 and h3 (h3 is in no role), cache placed by `roles:`.
    let mut spec = lab::AppSpec::new(SVC, std::slice::from_ref(&h1), std::slice::from_ref(&h2));
    spec.extra_yaml = format!(
        "accessories:\n  db:\n    image: {image}\n    hosts:\n      - {h1}\n      - {h3}\n  cache:\n    image: {image}\n    cmd: /bin/worker\n    roles:\n      - worker\n"
    );
    let dir = l.write_app(tmp.path(), &spec);

    let opts = kdeck::config::LoadOptions { config_file: dir.join("config/deploy.yml"), cwd: Some(dir.clone()), ..Default::default() };
    let config = kdeck::config::Config::load(&opts).expect("config");
    let app = kdeck::kamal::from_config::from_config(&config);
    let mut fspec = kdeck::app::fleet_spec(&app, &h1);
    // Far away: every change below must arrive through Docker events.
    fspec.reconcile_every = Duration::from_secs(300);
    assert_eq!(fspec.watched_hosts(), vec![h1.clone(), h2.clone(), h3.clone()]);
    let (mut rx, handle) = Watcher::spawn(l.pool(), fspec);

    wait_for(&mut rx, "all hosts up", Duration::from_secs(20), |s| s.hosts.iter().all(|h| h.conn == ConnState::Up)).await;
    {
        let s = rx.borrow();
        assert_eq!(s.accessories, vec![("db".to_string(), vec![h1.clone(), h3.clone()]), ("cache".to_string(), vec![h2.clone()])]);
        assert!(s.hosts.iter().all(|h| h.accessories.is_empty()), "nothing booted yet: {:#?}", *s);
        assert!(s.hosts.iter().find(|h| h.host == h3).unwrap().roles.is_empty());
    }

    ok(kdeck(&l, &dir, &["accessory", "boot", "db"]), "kdeck accessory boot db");
    wait_for(&mut rx, "db running on h1 and h3", Duration::from_secs(15), |s| {
        state(s, &h1, "db").as_deref() == Some("running") && state(s, &h3, "db").as_deref() == Some("running")
    })
    .await;
    {
        let s = rx.borrow();
        let h = s.hosts.iter().find(|h| h.host == h3).unwrap();
        let c = h.accessory("db").unwrap();
        assert_eq!((c.name.as_str(), c.version.as_str(), c.image.as_str()), (format!("{SVC}-db").as_str(), "v1", image.as_str()));
        assert!(c.started.is_some(), "{c:?}");
        assert_eq!(state(&s, &h2, "cache"), None);
        // Accessories are not app containers (no version, no rollback target).
        assert!(s.hosts.iter().all(|h| h.containers.is_empty()), "{:#?}", *s);
    }

    ok(kdeck(&l, &dir, &["accessory", "boot", "cache"]), "kdeck accessory boot cache");
    wait_for(&mut rx, "cache running on the worker host", Duration::from_secs(15), |s| state(s, &h2, "cache").as_deref() == Some("running")).await;

    ok(kdeck(&l, &dir, &["accessory", "stop", "db"]), "kdeck accessory stop db");
    wait_for(&mut rx, "db stopped on h1 and h3", Duration::from_secs(20), |s| {
        state(s, &h1, "db").is_some_and(|st| st != "running") && state(s, &h3, "db").is_some_and(|st| st != "running")
    })
    .await;

    // The dashboard draws the live snapshot: a row per accessory and host.
    let snap = rx.borrow().clone();
    let mut tui = App::new(true);
    tui.update(Update::Fleet(snap));
    let mut term = Terminal::new(TestBackend::new(160, 40)).unwrap();
    term.draw(|f| draw(&tui, f)).unwrap();
    let screen = term.backend().to_string();
    let row = |needle: &str| screen.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle}:\n{screen}")).to_string();
    assert!(row("▾ accessories · 2").contains("1/3 up"), "{screen}");
    assert!(row(&format!("cache {h2}")).contains("running"), "{screen}");
    assert!(row(&format!("db {h3}")).contains("exited"), "{screen}");

    ok(kdeck(&l, &dir, &["accessory", "remove", "all", "-y"]), "kdeck accessory remove all -y");
    wait_for(&mut rx, "accessories gone", Duration::from_secs(20), |s| s.hosts.iter().all(|h| h.accessories.is_empty())).await;
    drop(handle);
    fresh(&l);
}
