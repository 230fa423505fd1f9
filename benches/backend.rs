//! Backend benchmark on the lab (`cargo bench --bench backend`): connect+auth per host,
//! latency of list/inspect over the SSH-forwarded docker socket vs the docker CLI over exec,
//! and the connections/channels used. Prints a markdown table (copied into the README).

#[path = "../tests/support/lab.rs"]
mod lab;

use kdeck::docker::{cli, DockerHost, LabelFilter};
use kdeck::ssh::{ClientOptions, HostSpec, Session, SshOptions};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const SVC: &str = "kdeckbench";

fn spec(lab: &lab::Lab, ip: &str) -> HostSpec {
    let kamal = SshOptions { keys: vec![lab.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..SshOptions::default() };
    let client = ClientOptions { known_hosts: lab.known_hosts.clone(), default_keys: vec![], use_agent: false, ..ClientOptions::default() };
    HostSpec::resolve_with(ip, &kamal, &client, None)
}

struct Summary {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    mean: Duration,
}

fn summarize(mut v: Vec<Duration>) -> Summary {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    Summary { p50: at(0.5), p95: at(0.95), p99: at(0.99), mean }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn row(name: &str, n: usize, s: &Summary) {
    println!("| {name} | {n} | {} | {} | {} | {} |", ms(s.p50), ms(s.p95), ms(s.p99), ms(s.mean));
}

async fn time_n<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    v
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(lab) = lab::Lab::up("backend", 2, 3) else { return };
    let image = lab.image(SVC, "v1", "ok");
    let ips = lab.ips(0..3);
    for ip in &ips {
        let _ = lab.docker(ip, &["rm", "-f", "kdeckbench-web-v1"]);
        lab.docker(ip, &["run", "-d", "--name", "kdeckbench-web-v1", "--label", "service=kdeckbench", "--label", "role=web", "--label", "destination", &image])
            .expect_ok("run bench container");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        println!("| measurement | n | p50 ms | p95 ms | p99 ms | mean ms |");
        println!("|---|---|---|---|---|---|");
        for ip in &ips {
            let v = time_n(10, || async {
                let s = Session::new(spec(&lab, ip));
                s.connected().await.unwrap();
            })
            .await;
            row(&format!("connect + host key + auth ({ip})"), 10, &summarize(v));
        }
        let v = time_n(10, || async {
            let s = Session::new(spec(&lab, &ips[2]).tap_proxy(spec(&lab, &ips[0])));
            s.connected().await.unwrap();
        })
        .await;
        row("connect via ProxyJump (klab1 → klab3)", 10, &summarize(v));

        let session = Session::new(spec(&lab, &ips[0]));
        session.connected().await.unwrap();
        let d = DockerHost::new(&session);
        let f = LabelFilter::service(SVC);
        let n = 200;
        let v = time_n(n, || async {
            assert_eq!(d.containers(&f).await.unwrap().len(), 1);
        })
        .await;
        row("list containers (bollard over direct-streamlocal)", n, &summarize(v));
        let v = time_n(n, || async {
            d.inspect("kdeckbench-web-v1").await.unwrap();
        })
        .await;
        row("inspect container (bollard over direct-streamlocal)", n, &summarize(v));
        let n_cli = 50;
        let v = time_n(n_cli, || async {
            assert_eq!(cli::containers(&session, &f).await.unwrap().len(), 1);
        })
        .await;
        row("list containers (docker ps --format '{{json .}}' over exec)", n_cli, &summarize(v));
        let v = time_n(n_cli, || async {
            cli::inspect(&session, "kdeckbench-web-v1").await.unwrap();
        })
        .await;
        row("inspect container (docker inspect over exec)", n_cli, &summarize(v));
        let v = time_n(n_cli, || async {
            session.exec("true").await.unwrap();
        })
        .await;
        row("bare exec `true` (channel open + exec + exit status)", n_cli, &summarize(v));

        // sshd sets TCP_NODELAY on a connection once a pty session ran on it: measure again.
        let mut pty = session.exec_stream_pty("true").await.unwrap();
        while pty.next().await.is_some() {}
        let v = time_n(n, || async {
            assert_eq!(d.containers(&f).await.unwrap().len(), 1);
        })
        .await;
        row("list containers (bollard), after one pty session on the connection", n, &summarize(v));
        let v = time_n(n, || async {
            d.inspect("kdeckbench-web-v1").await.unwrap();
        })
        .await;
        row("inspect container (bollard), after one pty session on the connection", n, &summarize(v));

        // Many requests at once over the one connection.
        let t = Instant::now();
        let jobs = (0..100).map(|_| d.containers(&f));
        let res = futures::future::join_all(jobs).await;
        assert!(res.iter().all(|r| r.is_ok()));
        println!("| 100 concurrent list requests, wall time | 1 | {} | | | |", ms(t.elapsed()));

        let st = session.stats();
        println!();
        println!(
            "Connection use for the klab1 session above: {} SSH connection(s), {} exec channels, {} direct-streamlocal channels, {} refused opens retried.",
            st.connects.load(Ordering::Relaxed),
            st.exec_channels.load(Ordering::Relaxed),
            st.stream_channels.load(Ordering::Relaxed),
            st.open_retries.load(Ordering::Relaxed)
        );
    });
    for ip in &ips {
        let _ = lab.docker(ip, &["rm", "-f", "kdeckbench-web-v1"]);
    }
}

trait TapProxy {
    fn tap_proxy(self, jump: HostSpec) -> Self;
}

impl TapProxy for HostSpec {
    fn tap_proxy(mut self, jump: HostSpec) -> Self {
        self.proxy = Some(Box::new(jump));
        self
    }
}
