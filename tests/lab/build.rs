//! `kdeck build pull` sends each host the same commands as `kamal build pull` (login, mirror
//! probe, audit line, forced image removal, pull, service-label check), and `kdeck build push`
//! builds the committed tree and pushes it to the lab registry, where `build pull` finds it.

use crate::support::engine as engine_support;
use engine_support::*;
use regex::Regex;
use std::collections::BTreeSet;
use std::process::Command;

fn trace(lab: &Lab, ver: &str) -> Vec<BTreeSet<String>> {
    let time = Regex::new(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]").unwrap();
    lab.hosts().iter().map(|h| lab.ssh_commands(&h.name).iter().map(|c| time.replace_all(c, "[TIME]").replace(ver, "VER")).collect()).collect()
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(["-c", "user.email=lab@kdeck.test", "-c", "user.name=Lab Tester"]).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn build_pull_sends_each_host_the_same_commands_as_kamal() {
    let _turn = crate::support::lab::turn();
    // Alone on the lab: the trace is every command the hosts saw.
    let Some(lab) = lab_exclusive() else { return };
    let svc = "ebpull";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    lab.clear_ssh_logs();
    let k = ok(lab.kamal(&dir, &["build", "pull", "--version", "v1"]), "kamal build pull");
    let kt = trace(&lab, "v1");
    lab.clear_ssh_logs();
    let d = ok(kdeck(&lab, &dir, &["build", "pull", "--version", "v2"]), "kdeck build pull");
    let dt = trace(&lab, "v2");
    compare_traces("build pull", &kt, &dt);
    assert_eq!(kt.len(), 3);
    for (i, host) in dt.iter().enumerate() {
        assert!(host.iter().any(|c| c == &format!("docker pull {}/{svc}:VER", lab.registry)), "klab{} has no pull: {host:?}", i + 1);
        assert!(host.iter().any(|c| c.contains("Pulled image with version VER")), "klab{} has no audit line: {host:?}", i + 1);
    }
    // Every host has the image now, with its service label; neither tool printed the password.
    for h in lab.hosts() {
        let label = lab.docker(&h.ip, &["image", "inspect", &format!("{}/{svc}:v2", lab.registry), "--format", "{{.Config.Labels.service}}"]);
        assert_eq!(label.stdout.trim(), svc, "{}", h.name);
    }
    for out in [&k.stdout, &d.stdout, &d.stderr] {
        assert!(!out.contains("lab-registry-pass"), "{out}");
    }
    // A version the registry does not have: exit 1, as Kamal.
    let r = kdeck(&lab, &dir, &["build", "pull", "--version", "no-such-version"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    fresh(&lab, svc);
}

#[test]
fn build_push_builds_the_committed_tree_into_the_lab_registry() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "ebpush";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    // The lab's `builder:` section, with a build arg.
    let yml = std::fs::read_to_string(dir.join("config/deploy.yml")).unwrap();
    let yml = yml.replacen("builder:\n  arch: amd64\n", "builder:\n  arch: amd64\n  args:\n    APP_VERSION: from-build-push\n", 1);
    std::fs::write(dir.join("config/deploy.yml"), yml).unwrap();
    let docker_host = lab.build_context(svc, "ctx-default", &dir);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "app with Dockerfile"]);
    let sha = git(&dir, &["rev-parse", "HEAD"]);
    let run = kdeck_command(&lab, &dir).env("DOCKER_HOST", &docker_host).args(["build", "push"]).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "kdeck build push failed\n{out}\n{err}");
    // This machine has no buildx plugin: the fallback says so.
    let buildx = Command::new("docker").args(["buildx", "version"]).output().is_ok_and(|o| o.status.success());
    assert_eq!(out.contains("Docker buildx plugin is not installed locally"), !buildx, "{out}");
    assert!(!out.contains("lab-registry-pass") && !err.contains("lab-registry-pass"), "{out}\n{err}");
    // The registry has it: `build pull` puts it on every host, labelled and built with the arg.
    ok(kdeck(&lab, &dir, &["build", "pull"]), "kdeck build pull of the pushed version");
    let image = format!("{}/{svc}:{sha}", lab.registry);
    for h in lab.hosts() {
        let env = lab.docker(&h.ip, &["image", "inspect", &image, "--format", "{{.Config.Labels.service}} {{json .Config.Env}}"]).expect_ok("inspect");
        assert!(env.stdout.starts_with(&format!("{svc} ")), "{}: {}", h.name, env.stdout);
        assert!(env.stdout.contains("APP_VERSION=from-build-push"), "builder.args not built in: {}", env.stdout);
    }
    let latest = lab.docker(&lab.hosts()[0].ip, &["pull", "-q", &format!("{}/{svc}:latest", lab.registry)]);
    assert!(latest.ok, "the latest tag was not pushed: {}", latest.stderr);
    fresh(&lab, svc);
}
