//! The lab itself: up is idempotent, hosts answer over SSH and Docker, down leaves nothing.
use crate::support::lab;

use std::path::Path;
use std::process::Command;

fn sh(cmd: &str) -> String {
    let o = Command::new("bash").arg("-c").arg(cmd).output().expect("bash");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn lab_up_is_idempotent_and_down_leaves_nothing() {
    let _turn = crate::support::lab::turn();
    // own name and net (11) so it never tears down a lab another test binary uses
    let name = "labcycle";
    let Some(l) = lab::Lab::up(name, 11, 2) else { return };
    assert_eq!(l.hosts().len(), 2);
    assert_eq!(l.hosts()[1].ip, "10.77.11.12");
    assert_eq!(l.registry, "10.77.11.1:5000");

    // every host: sshd by key (checked against the lab known_hosts), own hostname, own /root,
    // dockerd reachable from inside (over SSH) and from the harness socket
    for h in l.hosts() {
        let r = l.ssh(&h.ip, "hostname; echo $HOME; docker info --format '{{.Name}} {{.Driver}}'").expect_ok("ssh");
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines[0], h.name);
        assert_eq!(lines[1], "/root");
        assert!(lines[2].starts_with(&h.name), "{}", r.stdout);
        l.docker(&h.name, &["version"]).expect_ok("docker version");
    }
    // ~/.kamal is per host
    l.ssh("klab1", "mkdir -p .kamal && touch .kamal/only-on-klab1").expect_ok("touch");
    assert!(l.hosts()[0].root.join(".kamal/only-on-klab1").exists());
    assert!(!l.hosts()[1].root.join(".kamal/only-on-klab1").exists());
    // the ForceCommand logger recorded the exact string
    assert!(l.ssh_commands("klab1").iter().any(|c| c == "mkdir -p .kamal && touch .kamal/only-on-klab1"));
    assert!(l.ssh_log("klab1").contains("END\trc=0"));
    // hashed known_hosts works for OpenSSH too
    let r = Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", l.known_hosts_hashed.display()))
        .arg("-i")
        .arg(&l.ssh_key)
        .arg("root@10.77.11.12")
        .arg("echo hashed-ok")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "hashed-ok", "{}", String::from_utf8_lossy(&r.stderr));

    // legacy scp (remote `scp -t`, what Kamal's net-scp uses) and sftp work through the logger
    let src = l.dir.join("scp-probe.txt");
    std::fs::write(&src, "scp-probe\n").unwrap();
    let r = Command::new("scp").arg("-O").arg("-q").arg("-F").arg(&l.ssh_config).arg(&src).arg("klab1:scp-probe.txt").output().unwrap();
    assert!(r.status.success(), "scp -O: {}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(std::fs::read_to_string(l.hosts()[0].root.join("scp-probe.txt")).unwrap(), "scp-probe\n");
    assert!(l.ssh_commands("klab1").iter().any(|c| c == "scp -t scp-probe.txt"), "{:?}", l.ssh_commands("klab1"));
    let r = Command::new("scp").arg("-q").arg("-F").arg(&l.ssh_config).arg(&src).arg("klab2:sftp-probe.txt").output().unwrap();
    assert!(r.status.success(), "scp over sftp: {}", String::from_utf8_lossy(&r.stderr));
    assert!(l.hosts()[1].root.join("sftp-probe.txt").exists());

    // direct-streamlocal to the host's docker socket (forwarding is not a session: not logged)
    let fwd = l.dir.join("fwd.sock");
    let mut child = Command::new("ssh")
        .arg("-F")
        .arg(&l.ssh_config)
        .arg("-N")
        .arg("-o")
        .arg("ExitOnForwardFailure=yes")
        .arg("-L")
        .arg(format!("{}:/var/run/docker.sock", fwd.display()))
        .arg("klab2")
        .spawn()
        .unwrap();
    let mut engine_name = String::new();
    for _ in 0..50 {
        if fwd.exists() {
            let o =
                Command::new("/usr/bin/docker").arg("-H").arg(format!("unix://{}", fwd.display())).args(["info", "--format", "{{.Name}}"]).output().unwrap();
            engine_name = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(engine_name, "klab2", "docker over a forwarded /var/run/docker.sock");

    // an app container so that cgroups, overlay mounts and the kamal network exist at teardown
    let image = l.image("cycleapp", "v1", "ok");
    l.ssh("klab2", &format!("docker network create kamal && docker run -d --name cycle-web --network kamal -p 80:80 {image}")).expect_ok("docker run");
    // host-to-host over the bridge, and the harness reaching the published port
    let mut ok = false;
    for _ in 0..50 {
        let r = l.ssh("klab1", "busybox wget -qO- http://10.77.11.12/version");
        if r.ok && r.stdout.trim() == "v1" {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "klab1 could not reach the app on klab2");

    // idempotent: a second up is a no-op returning the same lab
    let t = std::time::Instant::now();
    let again = lab::lab_sh(&["up", "--name", name, "--net", "11", "--hosts", "2"]).expect_ok("second up");
    assert_eq!(again.stdout.trim(), l.dir.join("lab.json").display().to_string());
    assert!(t.elapsed().as_secs() < 5, "second up was not fast: {:?}", t.elapsed());
    let sock_pid = sh("cat /tmp/kdeck-lab/labcycle/hosts/klab1/dockerd.pid");

    // collect what must disappear
    let mut pids: Vec<String> = Vec::new();
    for h in l.hosts() {
        pids.extend(sh(&format!("ip netns pids {}", h.netns)).split_whitespace().map(str::to_string));
    }
    pids.push(sh("cat /tmp/kdeck-lab/labcycle/registry/registry.pid").trim().to_string());
    assert!(pids.contains(&sock_pid.trim().to_string()));
    assert!(pids.len() > 4, "expected sshd, dockerd, containerd, app processes: {pids:?}");

    lab::lab_sh(&["down", "--name", name]).expect_ok("down");
    lab::lab_sh(&["down", "--name", name]).expect_ok("second down");

    for p in &pids {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists() || sh(&format!("cat /proc/{p}/stat 2>/dev/null")).contains(" Z "),
            "process {p} survived: {}",
            sh(&format!("cat /proc/{p}/cmdline | tr '\\0' ' '"))
        );
    }
    assert_eq!(sh("ip netns list | grep kdlab-labcycle- || true"), "");
    assert_eq!(sh("ip -br link | grep -E '^(kd11h|kdbr11)' || true"), "");
    assert_eq!(sh("grep /tmp/kdeck-lab/labcycle /proc/self/mounts || true"), "");
    assert_eq!(sh("ls -d /sys/fs/cgroup/*/kdeck-lab-labcycle-* /sys/fs/cgroup/kdeck-lab-labcycle-* 2>/dev/null || true"), "");
    assert_eq!(sh("iptables -S FORWARD 2>/dev/null | grep kdbr11 || true"), "");
    assert!(!Path::new("/tmp/kdeck-lab/labcycle").exists());
    drop(l); // down again via Drop: still fine
}
