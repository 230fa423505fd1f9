//! Accessories on the real lab (lab `acc`, net 6, 3 hosts), next to real Kamal 2.11: kdeck
//! boots what Kamal sees (same container name, labels, env file), Kamal boots what kdeck shows
//! and reboots, both send the same host commands (the hosts' sshd logs every command string),
//! logs keep Kamal's layout, and an unknown accessory fails before touching a host.

use crate::support::engine as engine_support;
use engine_support::lab::{self, Lab};
use engine_support::{compare_traces, kdeck, ok};
use regex::Regex;
use std::collections::BTreeSet;
use std::path::Path;

/// The tests compare the hosts' command logs, so they take turns on the lab.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn acc_lab() -> Option<(Lab, std::sync::MutexGuard<'static, ()>)> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bin = engine_support::kdeck_bin();
    let help = std::process::Command::new(&bin).args(["accessory", "--help"]).output().expect("run kdeck");
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("restart"),
        "{} is not this worktree's build (shared target dir overwritten by another branch); rebuild and rerun",
        bin.display()
    );
    Lab::up("acc", 6, 3).map(|l| (l, guard))
}

/// The app: web on hosts 1–2, worker on 3; accessory `db` on hosts 1 and 3 with every kind of
/// setting, accessory `cache` placed by `roles: [worker]`, accessory `site` behind kamal-proxy
/// with an ERB file.
fn write_app(lab: &Lab, dir: &Path, svc: &str, image: &str) -> std::path::PathBuf {
    let mut spec = lab::AppSpec::new(svc, &lab.ips(0..2), &lab.ips(2..3));
    spec.deploy_timeout = 10;
    spec.drain_timeout = 2;
    spec.readiness_delay = 1;
    let ips = lab.ips(0..3);
    spec.extra_yaml = format!(
        r#"accessories:
  db:
    image: {image}
    hosts:
      - {h1}
      - {h3}
    port: "127.0.0.1:8080:80"
    cmd: /bin/worker
    env:
      clear:
        DB_MODE: lab
        APP_SERVICE: db
      secret:
        - DB_PASSWORD
    labels:
      tier: data
    options:
      memory: 64m
    volumes:
      - /tmp/{svc}-data:/data
    directories:
      - data:/var/lib/db
    files:
      - config/db.conf:/etc/db.conf
  cache:
    image: {image}
    roles:
      - worker
  site:
    image: {image}
    host: {h1}
    env:
      clear:
        DB_MODE: lab
      secret:
        - DB_PASSWORD
    # one host only: Kamal 2.11 renders ERB files with a process-global ENV from parallel
    # host threads, so with two hosts one of them may see empty values
    files:
      - local: config/init.sql.erb
        remote: /etc/init.sql
        mode: "0640"
    proxy:
      host: {svc}-site.test
      app_port: 80
      healthcheck:
        path: /up
        interval: 1
"#,
        h1 = ips[0],
        h3 = ips[2]
    );
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join("config/db.conf"), "setting=1\n").unwrap();
    std::fs::write(dir.join("config/init.sql.erb"), "-- <%= ENV[\"DB_MODE\"] %>\nALTER USER root IDENTIFIED BY '<%= ENV[\"DB_PASSWORD\"] %>';\n").unwrap();
    let d = lab.write_app(dir, &spec);
    let secrets = d.join(".kamal/secrets");
    let mut s = std::fs::read_to_string(&secrets).unwrap();
    s.push_str("DB_PASSWORD=\"p@ss w\\\"ord\"\n");
    std::fs::write(&secrets, s).unwrap();
    d
}

/// Remove every trace of the accessories of `svc` (a kept lab may hold an earlier run's).
fn fresh(lab: &Lab, svc: &str) {
    for h in lab.hosts() {
        for name in ["db", "cache", "site"] {
            let _ = lab.docker(&h.ip, &["rm", "-f", &format!("{svc}-{name}")]);
            let _ = std::fs::remove_file(h.root.join(format!(".kamal/apps/{svc}/env/accessories/{name}.env")));
        }
        let _ = std::fs::remove_dir_all(h.root.join(format!("{svc}-db")));
        let _ = std::fs::remove_dir_all(h.root.join(format!("{svc}-site")));
        let _ = std::fs::remove_dir_all(h.root.join(format!(".kamal/lock-{svc}")));
        let _ = std::fs::remove_file(h.root.join(format!(".kamal/{svc}-audit.log")));
        let ids = lab.docker(&h.ip, &["ps", "-aq", "--filter", &format!("label=service={svc}")]).stdout;
        for id in ids.split_whitespace() {
            let _ = lab.docker(&h.ip, &["rm", "-f", id]);
        }
    }
}

fn normalize(cmd: &str) -> String {
    let s = cmd.replace("\\n", "\n");
    let s = Regex::new(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]").unwrap().replace_all(&s, "[TIME]").into_owned();
    let s = Regex::new(r#"--target="[0-9a-f]{12}:"#).unwrap().replace_all(&s, "--target=\"ID:").into_owned();
    Regex::new(r#"echo "[A-Za-z0-9+/=\n]+" > \.kamal/lock"#).unwrap().replace_all(&s, "echo \"B64\" > .kamal/lock").into_owned()
}

fn trace(lab: &Lab) -> Vec<BTreeSet<String>> {
    lab.hosts().iter().map(|h| lab.ssh_commands(&h.name).iter().map(|c| normalize(c)).collect()).collect()
}

/// `Accessory <name> Host: <host>` blocks → sorted (name, host, body without the header line
/// of `docker ps` and its volatile columns) from Kamal's or kdeck's stdout.
fn details_blocks(out: &str) -> Vec<(String, String, String)> {
    let head = Regex::new(r"^Accessory (\S+) Host: (\S+)$").unwrap();
    let mut v: Vec<(String, String, String)> = vec![];
    for line in out.lines() {
        let t = line.trim();
        if t.starts_with("INFO [") || t.starts_with("DEBUG [") || t.starts_with("Finished all in") || t.is_empty() || t.starts_with("CONTAINER ID") {
            continue;
        }
        if let Some(c) = head.captures(t) {
            v.push((c[1].to_string(), c[2].to_string(), String::new()));
        } else if let Some((_, _, body)) = v.last_mut() {
            // image, command and name (the id, times and status differ between the two runs)
            let cols: Vec<&str> = t.split_whitespace().collect();
            let name = cols.last().copied().unwrap_or_default();
            body.push_str(&format!("{} {} {name}\n", cols.get(1).copied().unwrap_or_default(), cols.get(2).copied().unwrap_or_default()));
        }
    }
    v.sort();
    v
}

fn container_id(lab: &Lab, host: &str, name: &str) -> String {
    lab.docker(host, &["ps", "-q", "--filter", &format!("name=^{name}$")]).stdout.trim().to_string()
}

fn labels(lab: &Lab, host: &str, name: &str) -> String {
    lab.docker(host, &["inspect", "-f", "{{json .Config.Labels}}", name]).stdout.trim().to_string()
}

fn env_file(lab: &Lab, host: &str, svc: &str, name: &str) -> (String, String) {
    let p = lab.host(host).root.join(format!(".kamal/apps/{svc}/env/accessories/{name}.env"));
    let mode = std::process::Command::new("stat")
        .arg("-c")
        .arg("%a")
        .arg(&p)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    (std::fs::read_to_string(&p).unwrap_or_else(|e| format!("cannot read {}: {e}", p.display())), mode)
}

/// Log lines of a `logs` run: Kamal mixes its INFO lines into the output.
fn log_lines(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("INFO [") && !l.starts_with("DEBUG [") && !l.starts_with("Finished all in"))
        .map(str::to_string)
        .collect()
}

#[test]
fn accessory_boot_reboot_details_logs_interchangeable_with_kamal() {
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "acclab";
    fresh(&lab, svc);
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    let [h1, h2, h3] = [lab.ips(0..1)[0].clone(), lab.ips(1..2)[0].clone(), lab.ips(2..3)[0].clone()];

    // Unknown accessory: Kamal's message, exit 1, no host touched.
    lab.clear_ssh_logs();
    for args in [&["accessory", "boot", "nope"][..], &["accessory", "reboot", "nope"], &["accessory", "details", "nope"], &["accessory", "logs", "nope"]] {
        let r = kdeck(&lab, &dir, args);
        assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
        assert!(r.stderr.contains("No accessory by the name of 'nope' (options: db, cache, and site)"), "{args:?}: {r:?}");
    }
    assert!(trace(&lab).iter().all(BTreeSet::is_empty), "an unknown accessory touched a host: {:?}", trace(&lab));

    // kdeck boots; real Kamal sees the accessories running under the same names.
    ok(kdeck(&lab, &dir, &["proxy", "boot"]), "kdeck proxy boot");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["accessory", "boot", "all"]), "kdeck accessory boot all");
    let kdeck_boot = trace(&lab);
    assert!(kdeck_boot[1].len() == 1, "host 2 has no accessory, only the lock step's mkdir: {:?}", kdeck_boot[1]);
    let kd_env = env_file(&lab, &h1, svc, "db");
    assert_eq!(kd_env, ("DB_PASSWORD=p@ss w\"ord\n".to_string(), "600".to_string()));
    let init_sql = || {
        let p = lab.host(&h1).root.join(format!("{svc}-site/etc/init.sql"));
        let mode = std::process::Command::new("stat")
            .arg("-c")
            .arg("%a")
            .arg(&p)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        (std::fs::read_to_string(&p).unwrap_or_default(), mode)
    };
    let kd_init = init_sql();
    assert_eq!(kd_init, ("-- lab\nALTER USER root IDENTIFIED BY 'p@ss w\"ord';\n".to_string(), "640".to_string()), "rendered ERB file");
    let kd_labels = labels(&lab, &h1, &format!("{svc}-db"));
    assert!(kd_labels.contains(&format!("\"service\":\"{svc}-db\"")) && kd_labels.contains("\"tier\":\"data\""), "{kd_labels}");
    let k = ok(lab.kamal(&dir, &["accessory", "details", "all"]), "kamal accessory details all");
    let kamal_view = details_blocks(&k.stdout);
    let names: Vec<(String, String)> = kamal_view.iter().map(|(n, h, _)| (n.clone(), h.clone())).collect();
    assert_eq!(names, vec![("cache".into(), h3.clone()), ("db".into(), h1.clone()), ("db".into(), h3.clone()), ("site".into(), h1.clone())], "{}", k.stdout);
    assert_eq!(engine_support::version_via_proxy(&h1, &format!("{svc}-site.test")).as_deref(), Some("v1"), "site through kamal-proxy");
    for (n, h, body) in &kamal_view {
        assert!(body.contains(&format!("{svc}-{n}")) && body.contains(&image), "Kamal does not see {svc}-{n} on {h}: {}", k.stdout);
    }
    let d = ok(kdeck(&lab, &dir, &["accessory", "details", "all"]), "kdeck accessory details all");
    assert_eq!(details_blocks(&d.stdout), kamal_view, "kdeck:\n{}\nKamal:\n{}", d.stdout, k.stdout);
    assert!(d.stdout.starts_with(&format!("Accessory db Host: {h1}\nCONTAINER ID")), "{}", d.stdout);

    // Kamal boots the same thing on clean hosts: same commands, same env file, same labels.
    fresh(&lab, svc);
    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["accessory", "boot", "all"]), "kamal accessory boot all");
    let kamal_boot = trace(&lab);
    compare_traces("accessory boot all", &kamal_boot, &kdeck_boot);
    assert_eq!(env_file(&lab, &h1, svc, "db"), kd_env, "env file written by Kamal");
    assert_eq!(init_sql(), kd_init, "ERB file rendered by Kamal");
    assert_eq!(env_file(&lab, &h3, svc, "cache"), ("\n".to_string(), "600".to_string()));
    assert_eq!(labels(&lab, &h1, &format!("{svc}-db")), kd_labels);
    assert!(container_id(&lab, &h2, &format!("{svc}-db")).is_empty());

    // kdeck shows Kamal's accessory and reboots it (new container, same name).
    let d = ok(kdeck(&lab, &dir, &["accessory", "details", "db"]), "kdeck accessory details db");
    assert_eq!(details_blocks(&d.stdout).len(), 2, "{}", d.stdout);
    let before = [container_id(&lab, &h1, &format!("{svc}-db")), container_id(&lab, &h3, &format!("{svc}-db"))];
    assert!(before.iter().all(|id| !id.is_empty()), "{before:?}");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["accessory", "reboot", "db"]), "kdeck accessory reboot db");
    let kdeck_reboot = trace(&lab);
    let after = [container_id(&lab, &h1, &format!("{svc}-db")), container_id(&lab, &h3, &format!("{svc}-db"))];
    for (b, a) in before.iter().zip(&after) {
        assert!(!a.is_empty() && a != b, "not replaced: {before:?} → {after:?}");
    }
    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["accessory", "reboot", "db"]), "kamal accessory reboot db");
    compare_traces("accessory reboot db", &trace(&lab), &kdeck_reboot);
    let audit = std::fs::read_to_string(lab.host(&h3).root.join(format!(".kamal/{svc}-audit.log"))).unwrap_or_default();
    // Kamal's boot, then one reboot by each tool.
    for (line, n) in [("Pull db accessory image", 2), ("Stopped db accessory", 2), ("Remove db accessory container", 2), ("Booted db accessory", 3)] {
        assert_eq!(audit.matches(line).count(), n, "audit line `{line}`:\n{audit}");
    }

    // Logs: Kamal's layout (no header, N lines per host, timestamps unless -T).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let ts = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z worker \S+ v1 job \d+$").unwrap();
    let k = ok(lab.kamal(&dir, &["accessory", "logs", "db", "-n", "1"]), "kamal accessory logs");
    let d = ok(kdeck(&lab, &dir, &["accessory", "logs", "db", "-n", "1"]), "kdeck accessory logs");
    let (kl, dl) = (log_lines(&k.stdout), log_lines(&d.stdout));
    assert_eq!(kl.len(), 2, "Kamal: {}", k.stdout);
    assert_eq!(dl.len(), kl.len(), "kdeck:\n{}\nKamal:\n{}", d.stdout, k.stdout);
    assert!(dl.iter().chain(&kl).all(|l| ts.is_match(l)), "kdeck:\n{}\nKamal:\n{}", d.stdout, k.stdout);
    let d = ok(kdeck(&lab, &dir, &["accessory", "logs", "db", "-n", "2", "-T", "-g", "job"]), "kdeck accessory logs -T -g");
    let dl = log_lines(&d.stdout);
    assert!(!dl.is_empty() && dl.iter().all(|l| l.starts_with("worker ") && l.contains("job")), "{}", d.stdout);

    // A grep without a match fails in both tools (same exit code).
    let k = lab.kamal(&dir, &["accessory", "logs", "db", "-g", "zzz-no-such-line"]);
    let d = kdeck(&lab, &dir, &["accessory", "logs", "db", "-g", "zzz-no-such-line"]);
    assert_eq!((d.code, k.code), (Some(1), Some(1)), "kdeck {d:?}\nKamal {k:?}");

    // -f follows every host of the accessory (Kamal: the first only), lines prefixed by host.
    let mut child = engine_support::kdeck_command(&lab, &dir)
        .args(["accessory", "logs", "db", "-f", "-n", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kdeck logs -f");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let _ = child.kill();
    let out = child.wait_with_output().expect("kdeck logs -f output");
    let text = String::from_utf8_lossy(&out.stdout);
    for h in [&h1, &h3] {
        assert!(text.lines().filter(|l| l.starts_with(&format!("{h}: ")) && l.contains("job")).count() >= 2, "{h} not followed:\n{text}");
    }

    // stop / start / restart / remove: the same commands as Kamal's (on `cache`, host 3).
    for args in
        [&["accessory", "stop", "cache"][..], &["accessory", "start", "cache"], &["accessory", "restart", "cache"], &["accessory", "remove", "cache", "-y"]]
    {
        lab.clear_ssh_logs();
        ok(lab.kamal(&dir, args), &format!("kamal {args:?}"));
        let k = trace(&lab);
        if args[1] == "remove" {
            assert!(container_id(&lab, &h3, &format!("{svc}-cache")).is_empty(), "Kamal removed it");
            ok(kdeck(&lab, &dir, &["accessory", "boot", "cache"]), "kdeck boot cache again");
        }
        lab.clear_ssh_logs();
        ok(kdeck(&lab, &dir, args), &format!("kdeck {args:?}"));
        compare_traces(&args.join(" "), &k, &trace(&lab));
    }
    assert!(all_names(&lab, &h3).iter().all(|n| n != &format!("{svc}-cache")), "kdeck removed it: {:?}", all_names(&lab, &h3));
    assert!(!lab.host(&h3).root.join(format!("{svc}-cache")).exists());

    fresh(&lab, svc);
}

fn all_names(lab: &Lab, host: &str) -> Vec<String> {
    lab.docker(host, &["ps", "-a", "--format", "{{.Names}}"]).stdout.lines().map(str::to_string).collect()
}

#[test]
fn setup_boots_accessories_after_the_proxy() {
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "accsetup";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    // both accessories publish nothing that clashes with the other test's db
    let y = std::fs::read_to_string(dir.join("config/deploy.yml")).unwrap().replace("127.0.0.1:8080:80", "127.0.0.1:8090:80");
    std::fs::write(dir.join("config/deploy.yml"), y).unwrap();
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["setup", "-P", "--version", "v1"]), "kdeck setup");
    let k = ok(lab.kamal(&dir, &["accessory", "details", "all"]), "kamal accessory details all");
    let view = details_blocks(&k.stdout);
    assert_eq!(view.len(), 4, "{}", k.stdout);
    assert!(view.iter().all(|(n, _, body)| body.contains(&format!("{svc}-{n}"))), "{}", k.stdout);
    // Order on the accessory hosts: proxy/network first, the accessory, then the app.
    let h1 = lab.hosts()[0].name.clone();
    let cmds = lab.ssh_commands(&h1);
    let pos = |needle: &str| cmds.iter().position(|c| c.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` on {h1}: {cmds:#?}"));
    assert!(pos("docker network create kamal") < pos(&format!("docker run --name {svc}-db")), "{cmds:#?}");
    assert!(pos(&format!("docker run --name {svc}-db")) < pos(&format!("--name {svc}-web-v1")), "{cmds:#?}");
    // Kamal's setup later skips the existing accessory containers (no second boot).
    let k = ok(lab.kamal(&dir, &["setup", "-P", "--version", "v1"]), "kamal setup");
    assert!(k.stdout.contains("Skipping booting `db`") || k.stderr.contains("Skipping booting `db`"), "{k:?}");
    fresh(&lab, svc);
}

/// Bad input needs no lab: an unknown name (and `logs all`) fails before any connection is
/// made — the host below is unroutable (TEST-NET-1), so a connection attempt would hang or
/// show a connection error instead of Kamal's message.
#[test]
fn unknown_accessory_is_a_usage_error_without_touching_hosts() {
    let _turn = crate::support::lab::turn();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::create_dir_all(d.path().join(".kamal")).unwrap();
    let base = "service: app\nimage: acme/app\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\n";
    std::fs::write(d.path().join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=pw\n").unwrap();
    let run = |args: &[&str]| {
        let t0 = std::time::Instant::now();
        let out = std::process::Command::new(engine_support::kdeck_bin())
            .current_dir(d.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run kdeck");
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{args:?} tried to connect");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    std::fs::write(d.path().join("config/deploy.yml"), base).unwrap();
    let (code, err) = run(&["accessory", "boot", "db"]);
    assert_eq!((code, err.trim()), (Some(1), "ERROR: No accessory by the name of 'db'"));
    std::fs::write(
        d.path().join("config/deploy.yml"),
        format!("{base}accessories:\n  db:\n    image: mysql:8\n    host: 192.0.2.10\n  redis:\n    image: redis:7\n    host: 192.0.2.10\n"),
    )
    .unwrap();
    for args in
        [&["accessory", "reboot", "mysql"][..], &["accessory", "details", "mysql"], &["accessory", "logs", "all"], &["accessory", "remove", "mysql", "-y"]]
    {
        let (code, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("No accessory by the name of '") && err.contains("(options: db and redis)"), "{args:?}: {err}");
    }
    // A missing NAME is a usage error: exit 1, as Kamal.
    let (code, err) = run(&["accessory", "boot"]);
    assert_eq!(code, Some(1), "{err}");
}

/// `accessory exec` in a new container (after the registry login) and with `--reuse` in the
/// running one: the same commands on each of the accessory's hosts as Kamal, the output in
/// `App Host:` blocks.
/// `accessory exec -i` (new container, and `--reuse`): on the accessory's first host, the same
/// docker command and output as real Kamal's (Kamal over the OpenSSH client, kdeck over its own
/// connection), stdin not a terminal.
#[test]
fn accessory_exec_interactive_matches_kamal_new_and_reused() {
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "accexi";
    fresh(&lab, svc);
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    ok(lab.kamal(&dir, &["accessory", "boot", "db"]), "kamal accessory boot db");
    let norm = |c: &str| regex::Regex::new(r"[0-9a-f]{6,}").unwrap().replace_all(c, "HEX").into_owned();
    for args in [&["accessory", "exec", "-i", "db", "echo acc-i-probe"][..], &["accessory", "exec", "-i", "--reuse", "db", "echo acc-i-probe"]] {
        lab.clear_ssh_logs();
        let k = lab.kamal_command_with_openssh(&dir).args(args).output().expect("kamal");
        let kt: Vec<String> = lab.ssh_commands(&lab.ips(0..1)[0]).iter().filter(|c| c.contains("acc-i-probe")).map(|c| norm(c)).collect();
        lab.clear_ssh_logs();
        let d = kdeck(&lab, &dir, args);
        let dt: Vec<String> = lab.ssh_commands(&lab.ips(0..1)[0]).iter().filter(|c| c.contains("acc-i-probe")).map(|c| norm(c)).collect();
        assert_eq!(k.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&k.stdout), String::from_utf8_lossy(&k.stderr));
        assert_eq!(d.code, Some(0), "{}{}", d.stdout, d.stderr);
        assert_eq!(dt, kt, "{args:?}: the command on the first host");
        assert_eq!(kt.len(), 1, "{args:?}: {kt:?}");
        assert!(d.stdout.lines().any(|l| l == "acc-i-probe") && String::from_utf8_lossy(&k.stdout).lines().any(|l| l == "acc-i-probe"), "{}", d.stdout);
        assert!(lab.ssh_commands(&lab.ips(2..3)[0]).iter().all(|c| !c.contains("acc-i-probe")), "only the first host");
    }
    fresh(&lab, svc);
}

/// `accessory upgrade` (Kamal 1 → 2: each accessory rebooted onto the `kamal` network), all at
/// once and `--rolling`: the same commands on every host as real Kamal's, and the accessory runs
/// on the network afterwards.
#[test]
fn accessory_upgrade_matches_kamal_all_and_rolling() {
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "accupg";
    fresh(&lab, svc);
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    // db (hosts 1 and 3, so --rolling has two steps); `site` would need kamal-proxy booted.
    ok(lab.kamal(&dir, &["accessory", "boot", "db"]), "kamal accessory boot db");
    let (h1, h3) = (lab.ips(0..1)[0].clone(), lab.ips(2..3)[0].clone());
    for args in [&["accessory", "upgrade", "db", "-y"][..], &["accessory", "upgrade", "db", "-y", "--rolling"]] {
        lab.clear_ssh_logs();
        ok(lab.kamal(&dir, args), &format!("kamal {args:?}"));
        let k = trace(&lab);
        lab.clear_ssh_logs();
        ok(kdeck(&lab, &dir, args), &format!("kdeck {args:?}"));
        compare_traces(&args.join(" "), &k, &trace(&lab));
        assert!(k[0].iter().any(|c| c.contains("docker run") && c.contains(&format!("{svc}-db"))), "Kamal rebooted db on host 1: {:?}", k[0]);
    }
    for h in [&h1, &h3] {
        let net = lab.docker(h, &["inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", &format!("{svc}-db")]);
        assert!(net.stdout.contains("kamal"), "{h}: db not on the kamal network: {}{}", net.stdout, net.stderr);
    }
    fresh(&lab, svc);
}

#[test]
fn accessory_exec_matches_kamal_new_and_reused() {
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "accexec";
    fresh(&lab, svc);
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    ok(lab.kamal(&dir, &["accessory", "boot", "db"]), "kamal accessory boot db");
    for args in [&["accessory", "exec", "db", "echo acc-probe"][..], &["accessory", "exec", "db", "--reuse", "echo acc-probe"]] {
        lab.clear_ssh_logs();
        let k = ok(lab.kamal(&dir, args), "kamal accessory exec");
        let kt = trace(&lab);
        lab.clear_ssh_logs();
        let d = ok(kdeck(&lab, &dir, args), "kdeck accessory exec");
        let dt = trace(&lab);
        compare_traces(&args.join(" "), &kt, &dt);
        assert!(kt[0].iter().any(|c| c.contains("echo acc-probe")) && kt[1].is_empty(), "db runs on hosts 1 and 3: {kt:?}");
        let probes = |s: &str| s.lines().filter(|l| *l == "acc-probe").count();
        assert_eq!((probes(&k.stdout), probes(&d.stdout)), (2, 2), "{}\n{}", k.stdout, d.stdout);
    }
    let r = kdeck(&lab, &dir, &["accessory", "exec", "nope", "true"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    ok(kdeck(&lab, &dir, &["accessory", "remove", "db", "-y"]), "kdeck accessory remove db");
}

/// `kdeck tunnel` carries TCP sessions to an accessory that publishes no port: two clients at
/// once through the local port reach its httpd over the host's ssh connection.
#[test]
fn tunnel_carries_tcp_sessions_to_an_accessory_that_publishes_no_port() {
    use std::io::{BufRead, Read, Write};
    let _turn = crate::support::lab::turn();
    let Some((lab, _turn)) = acc_lab() else { return };
    let svc = "acctun";
    fresh(&lab, svc);
    let image = lab.image("accdb", "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_app(&lab, tmp.path(), svc, &image);
    ok(kdeck(&lab, &dir, &["accessory", "boot", "cache"]), "kdeck accessory boot cache");
    let mut child = engine_support::kdeck_command(&lab, &dir)
        .args(["tunnel", "cache", "0:80"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kdeck tunnel");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).expect("tunnel's first line");
    let port: u16 = Regex::new(r"^Forwarding 127\.0\.0\.1:(\d+) → accessory cache \(acctun-cache\) port 80 on ")
        .unwrap()
        .captures(&first)
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))[1]
        .parse()
        .unwrap();
    let get = move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the tunnel");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        write!(s, "GET /version HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read through the tunnel");
        out
    };
    let clients: Vec<_> = (0..2).map(|_| std::thread::spawn(get)).collect();
    for c in clients {
        let out = c.join().unwrap();
        assert!(out.starts_with("HTTP/1.") && out.contains(" 200 ") && out.trim_end().ends_with("v1"), "{out}");
    }
    let _ = child.kill();
    let _ = child.wait();
    // Nothing was published on the host for it.
    let ports = lab.docker(&lab.ips(2..3)[0], &["port", &format!("{svc}-cache")]).stdout;
    assert!(ports.trim().is_empty(), "{ports}");
    fresh(&lab, svc);
}
