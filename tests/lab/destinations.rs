//! Every destination and every app on the servers (lab `desk`, net 16, 2 hosts): app A
//! (`kdesk`) has two destinations — staging on h1, production on h1 and h2, each with its own
//! secrets file — and app B (`kdeskb`) runs on h2, deployed by real Kamal. The dashboard opens
//! A's destinations as tabs over one shared pool (h1, in both, is one ssh connection, counted by
//! kdeck and by the host's own socket table); a deploy and the lock from the staging tab act on
//! staging alone, with staging's secrets.

use crate::support::engine::{kdeck, ok};
use crate::support::lab::{self, Lab};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::model::ConnState;
use kdeck::tui::live::LiveDeck;
use kdeck::tui::{Deck, Screen};
use std::path::Path;
use std::time::{Duration, Instant};

const A: &str = "kdesk";
const B: &str = "kdeskb";

fn fresh(l: &Lab) {
    for h in l.hosts() {
        for svc in [A, B] {
            let ids = l.docker(&h.ip, &["ps", "-aq", "--filter", &format!("label=service={svc}")]);
            for id in ids.stdout.split_whitespace() {
                let _ = l.docker(&h.ip, &["rm", "-f", id]);
            }
        }
        for d in ["kdesk-staging", "kdesk-production", "kdeskb"] {
            let _ = std::fs::remove_dir_all(h.root.join(format!(".kamal/lock-{d}")));
        }
    }
}

/// App A: `require_destination` in deploy.yml, staging on h1 (its own proxy host) and
/// production on both hosts, each destination with its own secrets file.
fn write_a(l: &Lab, dir: &Path) -> std::path::PathBuf {
    let [h1, h2] = [0, 1].map(|i| l.hosts()[i].ip.clone());
    let mut spec = lab::AppSpec::new(A, std::slice::from_ref(&h1), &[]);
    spec.extra_yaml = "require_destination: true\n".into();
    let dir = l.write_app(dir, &spec);
    std::fs::write(dir.join("config/deploy.staging.yml"), format!("servers:\n  web:\n    hosts:\n      - {h1}\nproxy:\n  host: staging.{A}.test\n")).unwrap();
    std::fs::write(dir.join("config/deploy.production.yml"), format!("servers:\n  web:\n    hosts:\n      - {h1}\n      - {h2}\n")).unwrap();
    for (dest, secret) in [("staging", "staging-secret"), ("production", "production-secret")] {
        std::fs::write(dir.join(format!(".kamal/secrets.{dest}")), format!("KAMAL_REGISTRY_PASSWORD=lab-registry-pass\nAPP_SECRET={secret}\n")).unwrap();
    }
    dir
}

fn key(deck: &mut Deck, code: KeyCode) {
    let m = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    deck.event(Event::Key(KeyEvent::new(code, m)));
}

fn type_keys(deck: &mut Deck, s: &str) {
    for c in s.chars() {
        key(deck, KeyCode::Char(c));
    }
}

/// Applies the deck's updates until `f` holds (or panics after `within`).
async fn until(live: &mut LiveDeck, what: &str, within: Duration, f: impl Fn(&Deck) -> bool) {
    let t0 = Instant::now();
    while !f(&live.deck) {
        let left = within.checked_sub(t0.elapsed()).unwrap_or_else(|| panic!("timed out after {within:?} waiting for {what}"));
        if let Ok(Some(m)) = tokio::time::timeout(left.min(Duration::from_millis(200)), live.updates.recv()).await {
            live.deck.apply(m);
        }
    }
    println!("{what}: {:?}", t0.elapsed());
}

/// [`until`] `f` has held for `steady` without a break: the engine's lock event and the
/// watcher's next read (every 3 s) agree.
async fn until_steady(live: &mut LiveDeck, what: &str, within: Duration, steady: Duration, f: impl Fn(&Deck) -> bool) {
    let t0 = Instant::now();
    let mut since: Option<Instant> = None;
    loop {
        since = if f(&live.deck) { since.or(Some(Instant::now())) } else { None };
        if since.is_some_and(|s| s.elapsed() >= steady) {
            break;
        }
        let left = within.checked_sub(t0.elapsed()).unwrap_or_else(|| panic!("timed out after {within:?} waiting for {what}"));
        if let Ok(Some(m)) = tokio::time::timeout(left.min(Duration::from_millis(200)), live.updates.recv()).await {
            live.deck.apply(m);
        }
    }
    println!("{what}: {:?}", t0.elapsed());
}

fn screen(deck: &Deck) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 40)).unwrap();
    t.draw(|f| deck.draw(f)).unwrap();
    t.backend().to_string()
}

/// Established TCP connections to the host's sshd, as the host sees them.
fn sshd_connections(l: &Lab, host: &str) -> usize {
    let r = l.in_host(host, &["ss", "-Htn", "state", "established", "( sport = :22 )"]);
    r.stdout.lines().filter(|x| !x.trim().is_empty()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_tabs_share_one_connection_per_host_and_act_on_their_destination() {
    let _turn = lab::turn();
    let Some(l) = Lab::up("desk", 16, 2) else { return };
    fresh(&l);
    let [h1, h2] = [0, 1].map(|i| l.hosts()[i].ip.clone());
    l.image(A, "v1", "ok");
    l.image(B, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir_a = write_a(&l, &tmp.path().join("a"));
    let dir_b = l.write_app(&tmp.path().join("b"), &lab::AppSpec::new(B, std::slice::from_ref(&h2), &[]));
    ok(kdeck(&l, &dir_a, &["deploy", "-d", "production", "-P", "--version", "v1"]), "kdeck deploy -d production");
    l.kamal(&dir_b, &["deploy", "-P", "--version", "v1"]).expect_ok("kamal deploy (app B)");

    // The tabs: deploy.yml needs a destination, so only the two destination files.
    let g = kdeck::cli::Global { version: Some("v1".into()), config_file: "config/deploy.yml".into(), ..Default::default() };
    let targets = kdeck::app::targets::of_app(&g, Some(&dir_a), None).expect("targets");
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, vec!["production", "staging"]);
    let pools = kdeck::app::targets::Pools::with_known_hosts(&l.known_hosts);
    let mut live = kdeck::tui::live::open_deck(pools, &targets, false, true).expect("open the deck");
    let up = |d: &Deck, i: usize, n: usize| d.tabs[i].app.fleet.hosts.len() == n && d.tabs[i].app.fleet.hosts.iter().all(|h| h.conn == ConnState::Up);
    until(&mut live, "both tabs up", Duration::from_secs(20), |d| up(d, 0, 2) && up(d, 1, 1)).await;

    // Server mode: app B (real Kamal's) is seen on h2, read-only, with its memory from the
    // resources sampler of the production tab (which watches h2); A's production has a tab.
    let read = |d: &Deck| d.servers.as_ref().is_some_and(|s| s.hosts.len() == 2 && s.hosts.iter().all(|h| h.read));
    until(&mut live, "servers read, B's memory sampled", Duration::from_secs(20), |d| {
        read(d) && d.host_resources(&h2).is_some_and(|r| r.apps.iter().any(|a| a.service == B))
    })
    .await;
    let servers = live.deck.servers.clone().unwrap();
    let on = |h: &str| servers.hosts.iter().find(|x| x.host == h).unwrap().clone();
    let names = |h: &str| on(h).apps.iter().map(|a| a.name()).collect::<Vec<_>>();
    assert_eq!(names(&h1), vec![format!("{A}/production")]);
    assert_eq!(names(&h2), vec![format!("{A}/production"), B.to_string()]);
    let b = on(&h2).apps.into_iter().find(|a| a.service == B).unwrap();
    assert_eq!((b.roles.clone(), b.versions.clone(), b.running), (vec!["web".to_string()], vec!["v1".to_string()], 1));
    assert!(live.deck.tab_of(&b).is_none(), "B's config dir is not known: read-only");
    assert!(on(&h2).routes_of(&b).any(|r| r.service == format!("{B}-web")), "kamal-proxy routes B on h2: {:?}", on(&h2).routes);
    assert_eq!(live.deck.app_memory(&h2, &b).map(|m| m.running), Some(1), "B's memory per host, from the sampler");
    let room = live.deck.tabs[0].app.room_checks();
    let h2_room = room.iter().find(|r| r.host == h2).expect("room check for h2");
    assert!(h2_room.others.iter().any(|(n, _)| n == B), "the deploy dialog weighs B beside production: {h2_room:?}");
    key(&mut live.deck, KeyCode::Char('['));
    assert!(live.deck.on_servers, "[ from the first tab wraps to the servers page");
    let page = screen(&live.deck);
    let row = page.lines().find(|l| l.contains(B)).unwrap_or_else(|| panic!("no {B} row:\n{page}"));
    assert!(row.contains("read-only") && row.contains("v1"), "{page}");
    key(&mut live.deck, KeyCode::Char(']'));
    assert!(!live.deck.on_servers && live.deck.active == 0);

    // One pool, one connection per host, though h1 is in both destinations and every watcher
    // (fleet, resources, traffic, servers) of both tabs reads it.
    let pools = live.pools.all();
    assert_eq!(pools.len(), 1, "one set of ssh settings, one pool");
    let mut sessions: Vec<(String, u64)> =
        pools[0].sessions().iter().map(|s| (s.host().to_string(), s.stats().connects.load(std::sync::atomic::Ordering::SeqCst))).collect();
    sessions.sort();
    assert_eq!(sessions, vec![(h1.clone(), 1), (h2.clone(), 1)], "one handshake per host");
    assert_eq!((sshd_connections(&l, &h1), sshd_connections(&l, &h2)), (1, 1), "the hosts see one ssh connection each");

    // What each tab shows: production runs v1 on both hosts, staging has nothing yet.
    let wide = screen(&live.deck);
    let bar = wide.lines().next().unwrap();
    assert!(bar.contains("production") && bar.contains("staging"), "{wide}");
    assert!(wide.contains("dest production") && wide.matches("running").count() >= 2, "{wide}");
    key(&mut live.deck, KeyCode::Char(']'));
    let wide = screen(&live.deck);
    assert!(wide.contains("dest staging") && !wide.contains(&h2), "staging is h1 alone:\n{wide}");

    // The staging tab's lock is staging's: taken and released there, production's untouched.
    type_keys(&mut live.deck, "Lhold staging");
    key(&mut live.deck, KeyCode::Enter);
    let steady = Duration::from_secs(4);
    until_steady(&mut live, "staging locked", Duration::from_secs(20), steady, |d| d.tabs[1].app.fleet.lock.is_some() && !d.tabs[1].app.timeline.is_running())
        .await;
    let lock_dir = |d: &str| l.host(&h1).root.join(format!(".kamal/lock-{A}-{d}"));
    assert!(lock_dir("staging").exists() && !lock_dir("production").exists());
    let wide = screen(&live.deck);
    let bar = wide.lines().next().unwrap();
    assert!(bar.contains("locked") && bar.find("locked") > bar.find("staging"), "{bar}");
    key(&mut live.deck, KeyCode::Char('L'));
    assert!(matches!(live.deck.current().overlay, Some(kdeck::tui::app::Overlay::Confirm(_))), "L with the lock held asks to release it");
    key(&mut live.deck, KeyCode::Char('y'));
    until_steady(&mut live, "staging unlocked", Duration::from_secs(20), steady, |d| {
        d.tabs[1].app.fleet.lock.is_none() && !d.tabs[1].app.timeline.is_running()
    })
    .await;

    // A deploy from the staging tab: staging's hosts, staging's secrets (the dialog's pre-flight
    // reads them again and asks the registry before y is taken).
    key(&mut live.deck, KeyCode::Char('D'));
    until(&mut live, "staging's pre-flight", Duration::from_secs(20), |d| !d.tabs[1].app.preflight_pending && d.tabs[1].app.preflight.is_some()).await;
    key(&mut live.deck, KeyCode::Char('y'));
    until(&mut live, "staging deployed", Duration::from_secs(60), |d| {
        let tl = &d.tabs[1].app.timeline;
        matches!(tl.action, Some(kdeck::deploy::event::ActionKind::Deploy)) && tl.finished.is_some()
    })
    .await;
    let fin = live.deck.tabs[1].app.timeline.finished.clone().unwrap();
    assert!(fin.ok, "{fin:?}");
    let env = |d: &str| std::fs::read_to_string(l.host(&h1).root.join(format!(".kamal/apps/{A}-{d}/env/roles/web.env"))).unwrap_or_default();
    assert!(env("staging").contains("APP_SECRET=staging-secret"), "{}", env("staging"));
    assert!(env("production").contains("APP_SECRET=production-secret"), "{}", env("production"));
    let staging_containers = l.docker(&h1, &["ps", "-q", "--filter", &format!("label=service={A}"), "--filter", "label=destination=staging"]);
    assert_eq!(staging_containers.stdout.lines().count(), 1, "one staging container on h1");
    assert!(l.docker(&h2, &["ps", "-q", "--filter", "label=destination=staging"]).stdout.trim().is_empty(), "staging never touched h2");
    assert!(live.deck.tabs[0].app.timeline.action.is_none(), "the production tab ran nothing");
    // Both destinations of A now on h1, in their tabs.
    until(&mut live, "staging on the servers page", Duration::from_secs(15), |d| {
        d.servers.as_ref().is_some_and(|s| s.hosts.iter().find(|h| h.host == h1).is_some_and(|h| h.apps.len() == 2))
    })
    .await;
    let h1_apps: Vec<(String, Option<usize>)> = live.deck.servers.as_ref().unwrap().hosts[0].apps.iter().map(|a| (a.name(), live.deck.tab_of(a))).collect();
    assert_eq!(h1_apps, vec![(format!("{A}/production"), Some(0)), (format!("{A}/staging"), Some(1))]);

    live.finish(false).await;
    fresh(&l);
}
