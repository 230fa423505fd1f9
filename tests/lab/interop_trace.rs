//! kdeck sends the same docker operations to each host as Kamal 2.11 for deploy, redeploy and
//! rollback, `app exec`, `proxy reboot` with `proxy: run:` and `upgrade` (plain and `--rolling`) (modulo random suffixes, timestamps, versions and order inside a step). Both run on
//! the same lab app; the hosts' sshd logs every command string.

use crate::support::engine as engine_support;
use engine_support::*;

#[test]
fn interop_trace_deploy_redeploy_rollback_match_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "etrace";
    fresh(&lab, svc);
    for v in ["v1", "v2", "v3", "v4", "v5"] {
        lab.image(svc, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");

    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v2"]), "kamal deploy v2");
    let k = trace(&lab, "v2", "v1");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v3"]), "kdeck deploy v3");
    let d = trace(&lab, "v3", "v2");
    compare_traces("deploy", &k, &d);
    assert!(k[0].iter().any(|c| c.contains("kamal-proxy deploy")), "the trace has no proxy deploy: {k:?}");

    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["redeploy", "-P", "--version", "v4"]), "kamal redeploy v4");
    let k = trace(&lab, "v4", "v3");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["redeploy", "-P", "--version", "v5"]), "kdeck redeploy v5");
    let d = trace(&lab, "v5", "v4");
    compare_traces("redeploy", &k, &d);

    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["rollback", "v4"]), "kamal rollback v4");
    let k = trace(&lab, "v4", "v5");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["rollback", "v5"]), "kdeck rollback v5");
    let d = trace(&lab, "v5", "v4");
    compare_traces("rollback", &k, &d);
    assert!(d[0].iter().any(|c| c.starts_with("docker rename etrace-web-VER etrace-web-VER_replaced_HEX16")), "{:?}", d[0]);
}

/// `app exec` in a new container and with `--reuse`: the same login, audit line (with the role
/// only when reusing) and docker command per host as Kamal, the version asked of the primary
/// host once. The dashboard's exec is the same engine call.
#[test]
fn interop_trace_app_exec_matches_kamal() {
    let _turn = crate::support::lab::turn();
    // Alone on the lab: the trace is every command the hosts saw.
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etexec";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    for args in [&["app", "exec", "echo exec-probe"][..], &["app", "exec", "--reuse", "echo exec-probe"][..]] {
        lab.clear_ssh_logs();
        let k = ok(lab.kamal(&dir, args), "kamal app exec");
        let kt = trace(&lab, "v1", "v0");
        lab.clear_ssh_logs();
        let d = ok(kdeck(&lab, &dir, args), "kdeck app exec");
        let dt = trace(&lab, "v1", "v0");
        compare_traces(&args.join(" "), &kt, &dt);
        assert!(kt[0].iter().any(|c| c.contains("echo exec-probe")), "the trace has no exec: {kt:?}");
        for out in [&k.stdout, &d.stdout] {
            assert!(out.contains("exec-probe"), "{out}");
        }
    }
}

/// `proxy reboot` of a config with `proxy: run:`: kamal-proxy is run from that section (ports,
/// metrics port, debug, log size, docker options), the same `docker run` on each host as Kamal's,
/// not from the host's `.kamal/proxy/options`.
#[test]
fn interop_trace_proxy_run_section_boots_kamal_proxy_like_kamal() {
    let _turn = crate::support::lab::turn();
    // Alone on the lab: the proxy goes down and the trace is every command the hosts saw.
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etprun";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| {
        s.proxy_extra = "  run:\n    metrics_port: 9090\n    debug: true\n    log_max_size: 20m\n    options:\n      label: kdeck.proxy-run=1\n".into();
    });
    // proxy boot (the network, then start the proxy or run it from proxy.run), both tools.
    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["proxy", "boot"]), "kamal proxy boot");
    let k = trace(&lab, "v1", "v0");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["proxy", "boot"]), "kdeck proxy boot");
    let d = trace(&lab, "v1", "v0");
    compare_traces("proxy boot with proxy.run", &k, &d);
    assert!(
        d[0].iter().any(|c| c.starts_with("docker container start kamal-proxy || docker run --name kamal-proxy") && c.contains("--expose=9090")),
        "{:?}",
        d[0]
    );
    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &["proxy", "reboot", "-y"]), "kamal proxy reboot");
    let k = trace(&lab, "v1", "v0");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &["proxy", "reboot", "-y"]), "kdeck proxy reboot");
    let d = trace(&lab, "v1", "v0");
    compare_traces("proxy reboot with proxy.run", &k, &d);
    let run = d[0].iter().find(|c| c.contains("docker run --name kamal-proxy")).unwrap_or_else(|| panic!("no proxy run: {:?}", d[0]));
    for part in ["--expose=9090", "--log-opt max-size=20m", "--label \"kdeck.proxy-run=1\"", "kamal-proxy run --debug --metrics-port \"9090\""] {
        assert!(run.contains(part), "{part} missing from {run}");
    }
    assert!(!run.contains(".kamal/proxy/options"), "booted from the boot files: {run}");
    let label = lab.docker(&lab.hosts()[0].ip, &["inspect", "kamal-proxy", "--format", "{{index .Config.Labels \"kdeck.proxy-run\"}}"]);
    assert_eq!(label.stdout.trim(), "1", "the running kamal-proxy is not the one proxy.run describes");
    // Back to the lab's default boot for the tests after this one, host after host (--rolling):
    // the reboot hooks run around each host, as Kamal's.
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let hooks = dir.join(".kamal/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let log = tmp.path().join("hooks.log");
    for hook in ["pre-proxy-reboot", "post-proxy-reboot"] {
        let script = format!("#!/bin/sh\necho \"{hook} $KAMAL_HOSTS\" >> {}\n", log.display());
        std::fs::write(hooks.join(hook), script).unwrap();
        std::process::Command::new("chmod").arg("+x").arg(hooks.join(hook)).status().unwrap();
    }
    ok(kdeck(&lab, &dir, &["proxy", "reboot", "--rolling", "-y"]), "kdeck proxy reboot --rolling (default)");
    let proxy_hosts = lab.ips(0..2);
    let want: Vec<String> = proxy_hosts.iter().flat_map(|h| [format!("pre-proxy-reboot {h}"), format!("post-proxy-reboot {h}")]).collect();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().collect::<Vec<_>>(), want);
}

/// `upgrade -y` (and `--rolling`) on a deployed Kamal 2 app: each host gets the same commands as
/// from real Kamal 2.11, and the upgrade steps in the same order. A running container of the
/// lab's kamal-proxy image keeps it from `docker image prune` (the lab has no Docker Hub).
#[test]
fn interop_trace_upgrade_matches_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etupg";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    for h in lab.hosts() {
        let _ = lab.docker(&h.ip, &["rm", "-f", "kdeck-keep-proxy-image"]);
        ok(lab.docker(&h.ip, &["run", "-d", "--name", "kdeck-keep-proxy-image", "--network", "none", "basecamp/kamal-proxy:v0.9.2"]), "keep the proxy image");
    }
    let steps = [
        "Rebooted proxy",
        "docker container stop traefik",
        "docker container stop kamal-proxy",
        "title=kamal-proxy",
        "docker network create kamal",
        "docker run --detach",
        "Pruned containers",
    ];
    // Per host, the upgrade steps in the order the host saw them (first occurrence of each).
    let order = |lab: &Lab| -> Vec<Vec<&str>> {
        lab.hosts()
            .iter()
            .map(|h| {
                let c = lab.ssh_commands(&h.name);
                let mut seen: Vec<(usize, &str)> = steps.iter().filter_map(|s| c.iter().position(|x| x.contains(s)).map(|p| (p, *s))).collect();
                seen.sort();
                seen.into_iter().map(|(_, s)| s).collect()
            })
            .collect()
    };
    for args in [&["upgrade", "-y", "--version", "v1"][..], &["upgrade", "-y", "--rolling", "--version", "v1"][..]] {
        lab.clear_ssh_logs();
        ok(lab.kamal(&dir, args), "kamal upgrade");
        let k = trace(&lab, "v1", "v0");
        let ko = order(&lab);
        lab.clear_ssh_logs();
        ok(kdeck(&lab, &dir, args), "kdeck upgrade");
        let d = trace(&lab, "v1", "v0");
        compare_traces(&args.join(" "), &k, &d);
        assert_eq!(ko, order(&lab), "{args:?}: upgrade steps in another order per host");
        assert!(ko.iter().all(|h| h.len() == steps.len()), "{args:?}: a step is missing from Kamal's trace: {ko:?}");
        assert!(d[0].iter().any(|c| c.contains("docker container stop traefik")), "{:?}", d[0]);
    }
    for h in lab.hosts() {
        let _ = lab.docker(&h.ip, &["rm", "-f", "kdeck-keep-proxy-image"]);
    }
}
