//! The dashboard's deploy dialog against the engine lab, through the dashboard's own request
//! path (`tui::live::open_deck`: the tab's dispatcher and worker, without a terminal): the
//! picker's three sources (registry tags with their ages, versions on the hosts, the app dir's
//! commits), the registry pre-flight with accepted and refused credentials (a second
//! `docker-registry` with htpasswd auth over the lab registry's storage), a deploy scoped to
//! one host and one host first, and the canary chosen in the dialog.

use crate::support::engine as engine_support;
use crate::traffic::RootLoad;
use engine_support::*;
use kdeck::app::preflight::{self, RegistryCheck, Report};
use kdeck::cli::Global;
use kdeck::tui::deck::DeckUpdate;
use kdeck::tui::dispatch::{DeployChoice, DeployMode, DeployScope, Request, Stage, StageState, Update};
use kdeck::tui::live::LiveDeck;
use std::path::Path;
use std::time::{Duration, Instant};

fn global() -> Global {
    Global { config_file: "config/deploy.yml".into(), ..Default::default() }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").current_dir(dir).args(args).output().expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Reads the tab's updates until `want` says it has what it waits for (or the timeout).
pub(crate) fn until<T>(rt: &tokio::runtime::Runtime, b: &mut LiveDeck, secs: u64, mut want: impl FnMut(&Update) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    rt.block_on(async {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, b.updates.recv()).await {
                Ok(Some(DeckUpdate::Tab(0, u))) => {
                    if let Some(t) = want(&u) {
                        return t;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the deck ended"),
                Err(_) => panic!("nothing wanted arrived within {secs} s"),
            }
        }
    })
}

/// What the dialog's `y` sends, through the tab's own dispatcher.
pub(crate) fn send(b: &mut LiveDeck, r: Request) {
    b.deck.tabs[0].dispatcher.dispatch(r);
}

pub(crate) fn stage_done(u: &Update) -> Option<Stage> {
    match u {
        Update::Stage(s) if matches!(s.state, StageState::Done { .. }) => Some(s.clone()),
        _ => None,
    }
}

fn finished(u: &Update) -> Option<bool> {
    match u {
        Update::Engine(kdeck::deploy::Event::Finished { ok, .. }) => Some(*ok),
        _ => None,
    }
}

/// A `docker-registry` on loopback asking for `lab` / `lab-registry-pass` (htpasswd, bcrypt)
/// over the lab registry's storage, so it lists the same tags. Killed on drop.
struct AuthRegistry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl AuthRegistry {
    fn start(lab: &Lab) -> AuthRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        // bcrypt of "lab-registry-pass" (cost 5), the lab app's registry password.
        std::fs::write(dir.path().join("htpasswd"), "lab:$2a$05$rc90mLOV9dx9IGGHGH7rQ.rVt.WZVmjR61vKWsVFEvbDqevDdH0mW\n").unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: kdeck-lab\n    path: {}\n",
            lab.dir.join("registry/data").display(),
            dir.path().join("htpasswd").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = std::process::Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "the auth registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        AuthRegistry { child, addr, _dir: dir }
    }
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dashboard for the app in `dir`, one tab, without a terminal (`-P`: nothing is built).
pub(crate) fn backend(rt: &tokio::runtime::Runtime, lab: &Lab, dir: &Path) -> LiveDeck {
    let targets = kdeck::app::targets::of_app(&global(), Some(dir), None).expect("targets");
    let pools = kdeck::app::targets::Pools::with_known_hosts(&lab.known_hosts);
    rt.block_on(async { kdeck::tui::live::open_deck(pools, &targets, false, true) }).expect("open the deck")
}

fn gather(rt: &tokio::runtime::Runtime, lab: &Lab, dir: &Path) -> Report {
    rt.block_on(preflight::gather(&lab.pool(), &global(), dir, Duration::from_secs(5))).1
}

/// The picker's sources on real hosts and a real registry: tags with their build time, the
/// versions whose containers the hosts have, the app dir's commits; the pre-flight says
/// whether the registry takes the credentials, and never shows the password.
#[test]
fn dialog_picker_lists_registry_tags_host_versions_and_commits_and_checks_credentials() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "edialogpick";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    std::fs::write(dir.join("CHANGES"), "second\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["-c", "user.email=lab@kdeck.test", "-c", "user.name=Lab Tester", "commit", "-q", "-m", "Second change"]);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut b = backend(&rt, &lab, &dir);
    send(&mut b, Request::Preflight);
    let mut fleet = None;
    let report = until(&rt, &mut b, 30, |u| match u {
        Update::Preflight(r) => Some((**r).clone()),
        Update::Fleet(f) => {
            fleet = Some(f.clone());
            None
        }
        _ => None,
    });
    assert_eq!(report.registry_check, RegistryCheck::Ok, "{report:?}");
    assert_eq!(report.version.as_deref(), Some(head.as_str()), "the start version is the git HEAD");
    let tags: Vec<&str> = report.tags.iter().map(|t| t.name.as_str()).collect();
    assert!(tags.contains(&"v1") && tags.contains(&"v2"), "{tags:?}");
    assert!(report.tags.iter().all(|t| t.created.is_some()), "every tag has its image's build time: {:?}", report.tags);
    assert_eq!(report.commits.first().map(|c| (c.sha.as_str(), c.subject.as_str())), Some((head.as_str(), "Second change")));
    let mut fleet = fleet.expect("a fleet snapshot");
    while !fleet.hosts.iter().all(|h| h.containers.iter().any(|c| c.version == "v1")) {
        fleet = until(&rt, &mut b, 20, |u| if let Update::Fleet(f) = u { Some(f.clone()) } else { None });
    }
    let list = kdeck::tui::picker::candidates(&fleet, Some(&head), Some(&report), true);
    let sources = |v: &str| list.iter().find(|c| c.version == v).map(|c| (c.sources(), c.unusable()));
    assert_eq!(sources("v1"), Some(("registry · hosts 3/3".into(), None)), "{list:#?}");
    assert_eq!(sources("v2"), Some(("registry".into(), None)), "{list:#?}");
    assert_eq!(sources(&head), Some(("start · git HEAD".into(), None)), "{list:#?}");
    assert_eq!(list[0].version, head, "the start version comes first");
    drop(b);

    // The same tags through a registry that asks for credentials: the lab's are accepted …
    let reg = AuthRegistry::start(&lab);
    let yml = std::fs::read_to_string(dir.join("config/deploy.yml")).unwrap();
    std::fs::write(dir.join("config/deploy.yml"), yml.replace(&format!("server: {}", lab.registry), &format!("server: {}", reg.addr))).unwrap();
    let r = gather(&rt, &lab, &dir);
    assert_eq!(r.registry_check, RegistryCheck::Ok, "{r:?}");
    assert!(r.tags.iter().any(|t| t.name == "v2" && t.created.is_some()), "{:?}", r.tags);
    // … a wrong password is refused, by name, and never shown.
    std::fs::write(dir.join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=wrong-secret-xyz\nAPP_SECRET=lab-app-secret\n").unwrap();
    let r = gather(&rt, &lab, &dir);
    match &r.registry_check {
        RegistryCheck::Failed(e) => {
            assert!(e.contains("refused the credentials of lab") && e.contains(&reg.addr), "{e}");
            assert!(!format!("{r:?}").contains("wrong-secret-xyz"), "a secret value in the report: {r:?}");
        }
        other => panic!("{other:?}"),
    }
    // A secret the containers need, fixed while the dashboard runs, counts at the next opening.
    std::fs::write(dir.join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=lab-registry-pass\n").unwrap();
    let r = gather(&rt, &lab, &dir);
    assert!(r.secret_problems.iter().any(|p| p.contains("APP_SECRET")), "{r:?}");
    std::fs::write(dir.join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=lab-registry-pass\nAPP_SECRET=lab-app-secret\n").unwrap();
    let r = gather(&rt, &lab, &dir);
    assert!(r.secret_problems.is_empty() && r.registry_check == RegistryCheck::Ok, "{r:?}");
}

/// A deploy the dialog scoped to one host touches only it; "one host first" deploys that host,
/// then the rest, as two engine runs.
#[test]
fn dialog_deploy_scoped_to_one_host_then_one_host_first() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "edialogscope";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let (web, worker) = (lab.ips(0..2), lab.ips(2..3)[0].clone());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut b = backend(&rt, &lab, &dir);
    let deploy = |scope| Request::Deploy(DeployChoice { version: "v2".into(), scope, mode: DeployMode::Rolling });
    send(&mut b, deploy(DeployScope::Host(web[0].clone())));
    let mut planned = vec![];
    let ok1 = until(&rt, &mut b, 120, |u| {
        if let Update::Engine(kdeck::deploy::Event::PlanReady { hosts, .. }) = u {
            planned.push(hosts.clone());
        }
        finished(u)
    });
    assert!(ok1, "the scoped deploy failed");
    assert_eq!(planned, vec![vec![web[0].clone()]], "only the chosen host is planned");
    assert_eq!(running(&lab, &web[0], svc, "web"), vec![format!("{svc}-web-v2")]);
    assert_eq!(running(&lab, &web[1], svc, "web"), vec![format!("{svc}-web-v1")]);
    assert_eq!(running(&lab, &worker, svc, "worker"), vec![format!("{svc}-worker-v1")]);

    send(&mut b, deploy(DeployScope::HostFirst(web[1].clone())));
    let mut planned = vec![];
    let stage = until(&rt, &mut b, 180, |u| {
        if let Update::Engine(kdeck::deploy::Event::PlanReady { hosts, .. }) = u {
            planned.push(hosts.clone());
        }
        stage_done(u)
    });
    assert!(matches!(&stage.state, StageState::Done { ok: true, .. }), "{stage:?}");
    assert_eq!(planned.first(), Some(&vec![web[1].clone()]), "the chosen host goes first: {planned:?}");
    assert_eq!(planned.len(), 2, "then one run for the rest: {planned:?}");
    for (h, role) in [(&web[0], "web"), (&web[1], "web"), (&worker, "worker")] {
        assert_eq!(running(&lab, h, svc, role), vec![format!("{svc}-{role}-v2")], "{h}");
    }
    assert!(!lock_dir_exists(&lab, &web[0], svc) && !lock_dir_exists(&lab, &web[1], svc), "the lock is free");
}

/// The canary chosen in the dialog: a version answering 500 is judged on the dashboard's own
/// traffic figures, rolled back on its host, never reaches the others; the verdict is on the
/// stage and in the audit log.
#[test]
fn dialog_canary_stops_a_version_answering_500() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "edialogcanary";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "errors");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let hh = format!("{svc}.test");
    let (web, worker) = (lab.ips(0..2), lab.ips(2..3)[0].clone());
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    assert!(wait_serving(&web, &hh, Duration::from_secs(10)), "v1 not served");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut b = backend(&rt, &lab, &dir);
    let load = RootLoad::start(&web, &hh);
    let thresholds = Default::default();
    send(&mut b, Request::Deploy(DeployChoice { version: "v2".into(), scope: DeployScope::All, mode: DeployMode::Canary { window_s: 6, thresholds } }));
    let mut watched = false;
    let stage = until(&rt, &mut b, 180, |u| {
        watched |= matches!(u, Update::Stage(Stage { state: StageState::Watching { .. }, .. }));
        stage_done(u)
    });
    let statuses = load.finish();
    assert!(watched, "the stage said it was watching");
    assert_eq!(stage.first, vec![web[0].clone()], "the canary is the primary role's first host");
    assert!(matches!(&stage.state, StageState::Done { ok: false, summary } if summary.contains("rolled back to v1")), "{stage:?}");
    let (passed, why) = stage.verdict.clone().expect("a verdict");
    assert!(!passed && why.contains("answered 5xx"), "{why}");
    for h in [&web[1], &worker] {
        assert!(all_containers(&lab, h, svc).iter().all(|n| !n.contains("-v2")), "{h}: {:?}", all_containers(&lab, h, svc));
    }
    assert!(statuses[1].iter().all(|s| *s < 500), "the other web host answered 5xx");
    assert_eq!(version_via_proxy(&web[0], &hh).as_deref(), Some("v1"));
    assert!(!lock_dir_exists(&lab, &web[0], svc), "the lock is free");
    let audit = ok(lab.kamal(&dir, &["audit"]), "kamal audit").stdout;
    assert!(audit.contains("Canary v2 failed: "), "{audit}");
}
