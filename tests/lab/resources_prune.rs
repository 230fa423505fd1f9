//! The prune preview against real Kamal: after several `kamal deploy`s, an orphan service image
//! and another service's image, the preview lists exactly the containers and images that a
//! real `kamal prune all` then removes on each host, and the space it predicts matches what
//! dockerd's own `system df` reports as gone.

use crate::support::lab;

use kdeck::fleet::prune;
use kdeck::fleet::raw;
use kdeck::fleet::FleetSpec;
use kdeck::ssh::{ClientOptions, Pool, SshOptions};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const SVC: &str = "kprune";

fn pool(l: &lab::Lab) -> Pool {
    let kamal = SshOptions { keys: vec![l.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..Default::default() };
    let client = ClientOptions {
        known_hosts: l.known_hosts.clone(),
        connect_timeout: Duration::from_secs(3),
        default_keys: vec![],
        use_agent: false,
        ..Default::default()
    };
    Pool::new(kamal, client).expect("pool")
}

/// (container ids, image ids, service tags) on a host, via the harness socket.
fn inventory(l: &lab::Lab, host: &str) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let c = l.docker(host, &["ps", "-a", "-q", "--no-trunc"]).expect_ok("ps");
    let i = l.docker(host, &["image", "ls", "-q", "--no-trunc"]).expect_ok("images");
    let t = l.docker(host, &["image", "ls", "--filter", &format!("label=service={SVC}"), "--format", "{{.Repository}}:{{.Tag}}"]).expect_ok("tags");
    let set = |s: &str| s.lines().map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<BTreeSet<_>>();
    (set(&c.stdout), set(&i.stdout), set(&t.stdout))
}

async fn df(pool: &Pool, host: &str) -> (u64, u64) {
    let v = raw::get_json(&pool.get(host), "/v1.41/system/df").await.expect("system df");
    let rw: u64 = v["Containers"].as_array().into_iter().flatten().map(|c| raw::u64_of(c, "SizeRw")).sum();
    (raw::u64_of(&v, "LayersSize"), rw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_preview_matches_real_kamal_prune_all() {
    let _turn = crate::support::lab::turn();
    let Some(l) = lab::Lab::up("fleet", 5, 2) else { return };
    let (h1, h2) = (l.hosts[0].ip.clone(), l.hosts[1].ip.clone());
    let versions = ["v1", "v2", "v3", "v4"];
    let mut repo = String::new();
    for v in versions {
        repo = l.image(SVC, v, "ok").rsplit_once(':').unwrap().0.to_string();
    }
    let orphan = l.image(SVC, "v9", "ok");
    let other = l.image("kother", "v1", "ok");
    let dir = tempfile::tempdir().unwrap();
    let mut app = lab::AppSpec::new(SVC, std::slice::from_ref(&h1), std::slice::from_ref(&h2));
    let app_dir = l.write_app(dir.path(), &app);
    for v in versions {
        l.kamal(&app_dir, &["deploy", "-P", "--version", v]).expect_ok(&format!("kamal deploy {v}"));
    }
    // After the deploys (whose own prune would have taken it): an orphan tag of this service
    // and an image of another service.
    for h in [&h1, &h2] {
        l.docker(h, &["pull", &orphan]).expect_ok("pull orphan");
        l.docker(h, &["pull", &other]).expect_ok("pull other");
    }
    // Keep only 1 stopped container from now on.
    app.extra_yaml = "retain_containers: 1\n".into();
    l.write_app(dir.path(), &app);

    let pool = pool(&l);
    let mut spec = FleetSpec::new(SVC, None, &repo, vec![("web".into(), vec![h1.clone()]), ("worker".into(), vec![h2.clone()])]);
    spec.retain_containers = 1;
    let mut plans = HashMap::new();
    let mut before = HashMap::new();
    for h in [&h1, &h2] {
        let s = pool.get(h);
        s.connected().await.expect("connect");
        let st = prune::gather(&s, SVC, &mut HashMap::new()).await.expect("gather");
        let p = prune::plan(h, &st, &spec.repository, &spec.latest_tag, spec.retain_containers);
        println!("{h}: preview {p:#?}");
        assert!(p.exact, "layer sizes readable on the lab");
        plans.insert(h.clone(), p);
        before.insert(h.clone(), (inventory(&l, h), df(&pool, h).await));
    }

    l.kamal(&app_dir, &["prune", "all"]).expect_ok("kamal prune all");

    for h in [&h1, &h2] {
        let p = &plans[h];
        let ((c0, i0, t0), (layers0, rw0)) = &before[h];
        let (c1, i1, t1) = inventory(&l, h);
        let (layers1, rw1) = df(&pool, h).await;
        let gone_c: BTreeSet<String> = c0.difference(&c1).cloned().collect();
        let gone_i: BTreeSet<String> = i0.difference(&i1).cloned().collect();
        let gone_t: BTreeSet<String> = t0.difference(&t1).cloned().collect();
        let want_c: BTreeSet<String> = p.containers.iter().map(|c| c.0.clone()).collect();
        let want_i: BTreeSet<String> = p.deleted_images.iter().cloned().collect();
        let want_t: BTreeSet<String> = p.untagged.iter().cloned().collect();
        assert_eq!(gone_c, want_c, "{h}: containers removed by Kamal vs preview");
        assert_eq!(gone_i, want_i, "{h}: images removed by Kamal vs preview");
        assert_eq!(gone_t, want_t, "{h}: tags removed by Kamal vs preview");
        // What the scenario must exercise: 2 old containers (v1, v2), their images and the orphan.
        assert_eq!(want_c.len(), 2, "{h}");
        assert_eq!(want_i.len(), 3, "{h}: v1, v2, v9");
        assert!(t1.contains(&format!("{repo}:v4")) && t1.contains(&format!("{repo}:latest")), "{h}: kept current");
        assert!(l.docker(h, &["image", "inspect", &other]).ok, "{h}: other service's image untouched");
        // Space: dockerd's own figures before/after.
        assert_eq!(layers0 - layers1, p.images_bytes, "{h}: image bytes reclaimed (LayersSize delta) vs preview");
        assert_eq!(rw0 - rw1, p.containers_bytes, "{h}: container bytes reclaimed vs preview");
        println!("{h}: reclaimed {} bytes of images + {} bytes of containers, as predicted", p.images_bytes, p.containers_bytes);
    }
    // Leave the hosts clean for other tests on this lab.
    l.kamal(&app_dir, &["remove", "-y"]);
}
