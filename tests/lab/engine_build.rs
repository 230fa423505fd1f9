//! `kdeck deploy` without `-P`: the image is built locally from a clean clone of the committed
//! tree (uncommitted changes are not in it), with Kamal's tags, `service` label and
//! `builder.args`, pushed to the lab registry and deployed; real Kamal agrees on the result.

use crate::support::engine as engine_support;
use engine_support::*;
use std::process::Command;

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(["-c", "user.email=lab@kdeck.test", "-c", "user.name=Lab Tester"]).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn deploy_builds_pushes_and_boots_the_committed_tree() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "ebuild";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| {
        s.extra_yaml = "builder:\n  arch: amd64\n  args:\n    APP_VERSION: from-build-arg\n".into();
        s.host_header = Some("ebuild.test".into());
    });
    // write_app wrote `builder: arch` already; keep only our builder section.
    let yml = std::fs::read_to_string(dir.join("config/deploy.yml")).unwrap().replacen("builder:\n  arch: amd64\n", "", 1);
    std::fs::write(dir.join("config/deploy.yml"), yml).unwrap();
    let docker_host = lab.build_context(svc, "ctx-default", &dir);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "app with Dockerfile"]);
    let sha = git(&dir, &["rev-parse", "HEAD"]);
    // An uncommitted change must not reach the image (Kamal builds a clean clone).
    let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    std::fs::write(dir.join("Dockerfile"), format!("{df}LABEL uncommitted=yes\n")).unwrap();

    let run = kdeck_command(&lab, &dir).env("DOCKER_HOST", &docker_host).args(["deploy"]).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "kdeck deploy failed\n{out}\n{err}");
    assert!(out.contains("ignoring these uncommitted changes"), "the operator is told: {out}");

    // Running everywhere at the commit's version, serving what the build arg said.
    let hosts = lab.ips(0..3);
    for h in &hosts[..2] {
        assert_eq!(running(&lab, h, svc, "web"), vec![format!("{svc}-web-{sha}")], "{h}");
        assert_eq!(version_via_proxy(h, "ebuild.test").as_deref(), Some("from-build-arg"), "{h}");
    }
    assert_eq!(running(&lab, &hosts[2], svc, "worker"), vec![format!("{svc}-worker-{sha}")]);
    let image = format!("{}/{svc}:{sha}", lab.registry);
    let labels = lab.docker(&lab.hosts()[0].name, &["image", "inspect", &image, "--format", "{{json .Config.Labels}}"]).expect_ok("inspect").stdout;
    assert!(labels.contains(&format!("\"service\":\"{svc}\"")), "{labels}");
    assert!(!labels.contains("uncommitted"), "uncommitted change was built: {labels}");
    // Both tags were pushed: the registry has :latest at the same image.
    let ctl = |args: &[&str]| Command::new("docker").env("DOCKER_HOST", &docker_host).args(args).output().unwrap();
    let latest = ctl(&["manifest", "inspect", "--insecure", &format!("{}/{svc}:latest", lab.registry)]);
    let latest_ok = latest.status.success() || {
        // `docker manifest` may be off in old CLIs: pull by tag instead.
        ctl(&["pull", "-q", &format!("{}/{svc}:latest", lab.registry)]).status.success()
    };
    assert!(latest_ok, "latest tag not pushed: {}", String::from_utf8_lossy(&latest.stderr));

    // Real Kamal sees the same version.
    let k = ok(lab.kamal(&dir, &["app", "version"]), "kamal app version");
    assert!(k.stdout.contains(&sha), "{}", k.stdout);

    // A build that fails: the deploy stops before touching any host, exit 1, docker's output shown.
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nRUN /bin/false-does-not-exist\n").unwrap();
    git(&dir, &["commit", "-qam", "broken Dockerfile"]);
    let r = kdeck_command(&lab, &dir).env("DOCKER_HOST", &docker_host).args(["deploy"]).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
    assert_eq!(r.status.code(), Some(1), "{out}\n{err}");
    assert!(format!("{out}{err}").contains("docker build"), "{out}\n{err}");
    for h in &hosts[..2] {
        assert_eq!(running(&lab, h, svc, "web"), vec![format!("{svc}-web-{sha}")], "{h} still on the good version");
    }
    assert!(!lock_dir_exists(&lab, &hosts[0], svc), "no lock left behind");
    fresh(&lab, svc);
}
