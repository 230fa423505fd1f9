//! ssh backend acceptance on the lab (3 hosts, lab name `backend`, net 2, shared by the tests
//! of this binary): parallel connect, exec/stream/upload, host key refusal (unknown, changed),
//! accept-new, hashed known_hosts, unreachable within the connect timeout while others work,
//! ProxyJump (Kamal's `ssh.proxy` and `~/.ssh/config`).

use crate::support::lab;

use kdeck::fleet::model::ConnState;
use kdeck::ssh::{ClientOptions, ExecEvent, HostKeyPolicy, HostSpec, Pool, Session, SshError, SshOptions};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const OTHER_KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

fn lab() -> Option<&'static lab::Lab> {
    lab::Lab::shared("backend", 2, 3)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn client(known_hosts: &Path) -> ClientOptions {
    ClientOptions {
        known_hosts: known_hosts.to_path_buf(),
        connect_timeout: Duration::from_secs(3),
        keepalive_interval: Duration::from_secs(2),
        keepalive_max: 2,
        default_keys: vec![],
        use_agent: false,
        max_backoff: Duration::from_secs(2),
        ..ClientOptions::default()
    }
}

fn kamal_ssh(lab: &lab::Lab) -> SshOptions {
    SshOptions { user: Some("root".into()), keys: vec![lab.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..SshOptions::default() }
}

fn spec(lab: &lab::Lab, ip: &str, known_hosts: &Path) -> HostSpec {
    HostSpec::resolve_with(ip, &kamal_ssh(lab), &client(known_hosts), None)
}

fn session(lab: &lab::Lab, host: usize) -> Session {
    Session::new(spec(lab, &lab.ips(0..3)[host], &lab.known_hosts))
}

#[test]
fn connect_all_hosts_in_parallel_one_connection_each() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let ips = lab.ips(0..3);
        let pool = Pool::new(kamal_ssh(lab), client(&lab.known_hosts)).unwrap();
        let t0 = Instant::now();
        let sessions: Vec<Session> = ips.iter().map(|ip| pool.get(ip)).collect();
        let results = futures::future::join_all(sessions.iter().map(|s| s.connected())).await;
        for (ip, r) in ips.iter().zip(&results) {
            assert!(r.is_ok(), "{ip}: {r:?}");
        }
        println!("connected to {} hosts in {:?}", ips.len(), t0.elapsed());
        for (i, s) in sessions.iter().enumerate() {
            assert_eq!(*s.state().borrow(), ConnState::Up);
            let out = pool.get(&ips[i]).exec("hostname").await.unwrap();
            assert_eq!(out.stdout.trim(), lab.hosts()[i].name, "{}", s.host());
            assert_eq!(s.stats().connects.load(Ordering::Relaxed), 1, "one connection per host, shared");
        }
    });
}

#[test]
fn exec_output_status_and_stream() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let s = session(lab, 0);
        let out = s.exec("echo out; echo err >&2; exit 3").await.unwrap();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.status), ("out\n", "err\n", 3));
        let mut st = s.exec_stream("for i in 1 2 3; do echo line$i; sleep 0.1; done; echo bad >&2").await.unwrap();
        let mut got = vec![];
        while let Some(e) = st.next().await {
            got.push(e);
        }
        use ExecEvent::*;
        assert_eq!(got, vec![Stdout("line1".into()), Stdout("line2".into()), Stdout("line3".into()), Stderr("bad".into()), Exit(0)]);
        let out = s.exec_with_input("cat | wc -c", b"12345").await.unwrap();
        assert_eq!(out.stdout.trim(), "5");
    });
}

#[test]
fn many_concurrent_execs_bounded_by_semaphore() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let mut sp = spec(lab, &lab.ips(0..1)[0], &lab.known_hosts);
        sp.client.max_sessions = 4;
        let s = Session::new(sp);
        let t0 = Instant::now();
        let jobs = (0..40).map(|i| {
            let s = s.clone();
            async move { s.exec(&format!("sleep 0.2; echo {i}")).await }
        });
        let outs = futures::future::join_all(jobs).await;
        for (i, o) in outs.into_iter().enumerate() {
            assert_eq!(o.unwrap().stdout.trim(), i.to_string());
        }
        // 40 × 0.2 s through 4 slots cannot finish faster than 10 rounds.
        assert!(t0.elapsed() >= Duration::from_millis(2000), "semaphore bounds concurrency: {:?}", t0.elapsed());
        assert_eq!(s.stats().exec_channels.load(Ordering::Relaxed), 40);
    });
}

#[test]
fn upload_scp_t_mode_0600() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let ip = lab.ips(0..1)[0].clone();
        let s = session(lab, 0);
        s.exec("mkdir -p /root/kdeck-backend-test").await.unwrap();
        let body = b"SECRET_A=1\nB=two words\n".repeat(1000);
        s.upload("/root/kdeck-backend-test/app.env", &body, 0o600).await.unwrap();
        let out = s.exec("stat -c %a /root/kdeck-backend-test/app.env; cat /root/kdeck-backend-test/app.env").await.unwrap();
        let (mode, content) = out.stdout.split_once('\n').unwrap();
        assert_eq!(mode, "600");
        assert_eq!(content.as_bytes(), &body[..]);
        assert!(lab.ssh_commands(&ip).iter().any(|c| c == "scp -t /root/kdeck-backend-test/app.env"), "upload went through scp -t");
        let err = s.upload("/nonexistent-dir/x/app.env", b"x", 0o600).await.unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x/app.env"), "{err}");
        s.exec("rm -rf /root/kdeck-backend-test").await.unwrap();
    });
}

#[test]
fn hashed_known_hosts_accepted() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let hs = Session::new(spec(lab, &lab.ips(1..2)[0], &lab.known_hosts_hashed));
        hs.connected().await.expect("hashed known_hosts entry matches");
    });
}

#[test]
fn unknown_host_key_refused_with_keyscan_hint() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let ip = lab.ips(1..2)[0].clone();
        let empty = tmp.path().join("known_hosts_empty");
        std::fs::write(&empty, "").unwrap();
        let us = Session::new(spec(lab, &ip, &empty));
        let err = us.connected().await.unwrap_err();
        assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("ssh-keyscan -H {ip} >> {}", empty.display())), "{msg}");
        assert!(matches!(&*us.state().borrow(), ConnState::Down { reason } if reason.contains("not known")));
        assert_eq!(std::fs::read_to_string(&empty).unwrap(), "", "strict policy writes nothing");
        // A refusal is not retried by itself; after fixing known_hosts, reconnect() does.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(matches!(&*us.state().borrow(), ConnState::Down { .. }));
        std::fs::write(&empty, std::fs::read_to_string(&lab.known_hosts).unwrap()).unwrap();
        us.reconnect();
        tokio::time::timeout(Duration::from_secs(10), us.wait_up()).await.expect("reconnect after fixing known_hosts");
    });
}

/// The dashboard's `T`: the key the host offered is written to known_hosts (the session knew
/// it from the refusal), the host is dialled again and comes up; a second session accepts it.
#[test]
fn trusting_the_offered_host_key_records_it_and_reconnects() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let ip = lab.ips(1..2)[0].clone();
        let empty = tmp.path().join("known_hosts_trust");
        std::fs::write(&empty, "").unwrap();
        let us = Session::new(spec(lab, &ip, &empty));
        assert!(us.connected().await.is_err());
        let offered = us.offered_host_key().expect("the refusal names the offered key");
        let fp = us.trust_offered_host_key().expect("trust");
        assert!(offered.ends_with(&fp), "{offered} / {fp}");
        tokio::time::timeout(Duration::from_secs(10), us.wait_up()).await.expect("up after trusting");
        assert!(us.offered_host_key().is_none());
        let recorded = std::fs::read_to_string(&empty).unwrap();
        assert_eq!(recorded.lines().count(), 1, "{recorded}");
        let again = Session::new(spec(lab, &ip, &empty));
        again.connected().await.expect("a new session accepts the recorded key");
        assert!(us.trust_offered_host_key().is_err(), "nothing left to trust");
    });
}

#[test]
fn changed_host_key_refused_loudly() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let ip = lab.ips(2..3)[0].clone();
        let changed = tmp.path().join("known_hosts_changed");
        std::fs::write(&changed, format!("# lab\n{ip} ssh-ed25519 {OTHER_KEY}\n")).unwrap();
        let mut cspec = spec(lab, &ip, &changed);
        cspec.client.host_key_policy = HostKeyPolicy::AcceptNew; // even accept-new must refuse a change
        let cs = Session::new(cspec);
        let err = cs.connected().await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SshError::HostKeyChanged { line: 2, .. }), "{msg}");
        assert!(msg.contains("HAS CHANGED") && msg.contains(&changed.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("ssh-keygen -R {ip}")), "{msg}");
        assert!(std::fs::read_to_string(&changed).unwrap().lines().count() == 2, "nothing recorded");
    });
}

#[test]
fn accept_new_records_unknown_host() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let ip = lab.ips(2..3)[0].clone();
        let fresh = tmp.path().join("sub/known_hosts_new");
        let mut aspec = spec(lab, &ip, &fresh);
        aspec.client.host_key_policy = HostKeyPolicy::AcceptNew;
        let a = Session::new(aspec);
        a.connected().await.unwrap();
        let recorded = std::fs::read_to_string(&fresh).unwrap();
        assert!(recorded.starts_with(&format!("{ip} ssh-ed25519 ")), "{recorded}");
        let again = Session::new(spec(lab, &ip, &fresh));
        again.connected().await.expect("recorded key is now known");
    });
}

#[test]
fn unreachable_within_connect_timeout_while_others_work() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let dead_ip = format!("10.77.{}.99", lab.net);
        let mut dspec = spec(lab, &dead_ip, &lab.known_hosts);
        dspec.client.connect_timeout = Duration::from_secs(2);
        let live = session(lab, 1);
        live.connected().await.unwrap();
        let t0 = Instant::now();
        let dead = Session::new(dspec);
        let (dead_r, live_r) = tokio::join!(dead.connected(), live.exec("echo alive"));
        let took = t0.elapsed();
        let err = dead_r.unwrap_err();
        assert!(matches!(err, SshError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("unreachable"), "{err}");
        assert!(took < Duration::from_millis(3500), "reported after {took:?}");
        assert_eq!(live_r.unwrap().stdout.trim(), "alive");
        assert!(matches!(&*dead.state().borrow(), ConnState::Down { reason } if reason.contains("unreachable")));
        println!("unreachable reported after {took:?}");
    });
}

#[test]
fn proxy_jump_via_kamal_ssh_proxy() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let ips = lab.ips(0..3);
        let kamal = SshOptions { proxy: Some(format!("root@{}", ips[0])), ..kamal_ssh(lab) };
        let jspec = HostSpec::resolve_with(&ips[2], &kamal, &client(&lab.known_hosts), None);
        assert_eq!(jspec.proxy.as_ref().unwrap().hostname, ips[0]);
        let j = Session::new(jspec);
        let out = j.exec("hostname; echo $SSH_CONNECTION").await.unwrap();
        let mut l = out.stdout.lines();
        assert_eq!(l.next(), Some(lab.hosts()[2].name.as_str()));
        let conn_line = l.next().unwrap_or_default().to_string();
        assert!(conn_line.starts_with(&format!("{} ", ips[0])), "target saw the jump host as client: {conn_line}");
        // docker over the jumped connection too
        let v = kdeck::docker::transport::docker_over_ssh(j.clone()).version().await.unwrap();
        assert!(v.api_version.is_some());
    });
}

#[test]
fn proxy_command_via_kamal_ssh_proxy_command() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        let ips = lab.ips(0..3);
        // OpenSSH as the proxy command (what operators write for a bastion): through host 1.
        let cmd = format!("ssh -F {} -W %h:%p {}", lab.ssh_config.display(), lab.hosts()[0].name);
        let kamal = SshOptions { proxy_command: Some(cmd), ..kamal_ssh(lab) };
        let cspec = HostSpec::resolve_with(&ips[2], &kamal, &client(&lab.known_hosts), None);
        assert!(cspec.describe().contains("via proxy command"), "{}", cspec.describe());
        let c = Session::new(cspec);
        let out = c.exec("hostname; echo $SSH_CONNECTION").await.unwrap();
        let mut l = out.stdout.lines();
        assert_eq!(l.next(), Some(lab.hosts()[2].name.as_str()));
        assert!(l.next().unwrap_or_default().starts_with(&format!("{} ", ips[0])), "target saw the proxy host as client: {}", out.stdout);
        // The same connection carries Docker too.
        assert!(kdeck::docker::transport::docker_over_ssh(c.clone()).version().await.unwrap().api_version.is_some());

        // A proxy command that fails says why (its stderr), naming the command.
        let kamal = SshOptions { proxy_command: Some("echo no route to bastion.example >&2; exit 1".into()), ..kamal_ssh(lab) };
        let bad = Session::new(HostSpec::resolve_with(&ips[1], &kamal, &client(&lab.known_hosts), None));
        let err = bad.exec("true").await.unwrap_err().to_string();
        assert!(err.contains("no route to bastion.example") && err.contains("proxy command"), "{err}");
        // Unknown % tokens are refused before anything runs.
        let kamal = SshOptions { proxy_command: Some("nc %x %p".into()), ..kamal_ssh(lab) };
        let bad = Session::new(HostSpec::resolve_with(&ips[1], &kamal, &client(&lab.known_hosts), None));
        let err = bad.exec("true").await.unwrap_err().to_string();
        assert!(err.contains("unknown token %x"), "{err}");
    });
}

#[test]
fn proxy_jump_from_ssh_config() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let ips = lab.ips(0..3);
        let cfg_path = tmp.path().join("ssh_config");
        std::fs::write(&cfg_path, format!("Host target3\n  HostName {}\n  ProxyJump root@{}\n", ips[2], ips[1])).unwrap();
        let kamal = SshOptions { config_files: Some(vec![cfg_path]), ..kamal_ssh(lab) };
        let cspec = HostSpec::resolve("target3", &kamal, &client(&lab.known_hosts)).unwrap();
        let c = Session::new(cspec);
        let out = c.exec("hostname; echo $SSH_CONNECTION").await.unwrap();
        let mut l = out.stdout.lines();
        assert_eq!(l.next(), Some(lab.hosts()[2].name.as_str()));
        assert!(l.next().unwrap_or_default().starts_with(&format!("{} ", ips[1])), "{}", out.stdout);
    });
}

struct CountingPrompt(std::sync::atomic::AtomicUsize, &'static str);

impl kdeck::ssh::PassphrasePrompt for CountingPrompt {
    fn passphrase(&self, _: &Path) -> Option<String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Some(self.1.to_string())
    }
}

#[test]
fn encrypted_key_asks_passphrase_once_or_fails_headless() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_enc");
    std::fs::copy(&lab.ssh_key, &key).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "s3cret pass", "-f"])
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen -p");
    rt().block_on(async {
        let ip = lab.ips(0..1)[0].clone();
        let kamal = SshOptions { keys: vec![key.clone()], ..kamal_ssh(lab) };
        // Headless (default NoPrompt): a clear failure naming the key.
        let s = Session::new(HostSpec::resolve_with(&ip, &kamal, &client(&lab.known_hosts), None));
        let err = s.connected().await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("encrypted") && msg.contains(&key.display().to_string()) && msg.contains("ssh-add"), "{msg}");
        assert!(!msg.contains("s3cret"));
        // With a prompt: asked once, then the decrypted key is reused by other hosts.
        let prompt = std::sync::Arc::new(CountingPrompt(Default::default(), "s3cret pass"));
        let mut c = client(&lab.known_hosts);
        c.prompt = prompt.clone();
        for ip in lab.ips(0..3) {
            Session::new(HostSpec::resolve_with(&ip, &kamal, &c, None)).connected().await.unwrap();
        }
        assert_eq!(prompt.0.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn ssh_agent_keys_are_used() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let added = std::process::Command::new("ssh-add").arg("-q").arg(&lab.ssh_key).env("SSH_AUTH_SOCK", &sock).status().unwrap();
    let result = rt().block_on(async {
        let kamal = SshOptions { keys: vec![], keys_only: false, ..kamal_ssh(lab) };
        let mut c = client(&lab.known_hosts);
        c.use_agent = true;
        c.agent_socket = Some(sock.clone());
        let s = Session::new(HostSpec::resolve_with(&lab.ips(1..2)[0], &kamal, &c, None));
        s.connected().await
    });
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(added.success(), "ssh-add");
    result.expect("authenticated with the agent's key");
}

#[test]
fn channel_open_refusals_are_retried() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    rt().block_on(async {
        // The lab's sshd allows 100 sessions per connection; ask for more at once without our
        // own bound: sshd refuses the surplus opens, the session retries them with backoff.
        let mut sp = spec(lab, &lab.ips(2..3)[0], &lab.known_hosts);
        sp.client.max_sessions = 130;
        let s = Session::new(sp);
        s.connected().await.unwrap();
        let jobs = (0..120).map(|i| {
            let s = s.clone();
            async move { s.exec(&format!("sleep 1; echo {i}")).await }
        });
        let outs = futures::future::join_all(jobs).await;
        for (i, o) in outs.into_iter().enumerate() {
            assert_eq!(o.unwrap().stdout.trim(), i.to_string());
        }
        let retries = s.stats().open_retries.load(Ordering::Relaxed);
        println!("refused opens retried: {retries}");
        assert!(retries > 0, "sshd refused nothing?");
    });
}
