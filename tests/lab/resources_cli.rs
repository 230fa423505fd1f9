//! `kdeck details --resources` (table and `--json`) end to end: real binary, an app deployed
//! with real Kamal on lab hosts, config read from the app dir.

use crate::support::lab;

use std::process::Command;

const SVC: &str = "kcli";

#[test]
fn details_resources_table_and_json() {
    let _turn = crate::support::lab::turn();
    let Some(l) = lab::Lab::up("fleet", 5, 2) else { return };
    let (h1, h2) = (l.hosts[0].ip.clone(), l.hosts[1].ip.clone());
    for v in ["v1", "v2"] {
        l.image(SVC, v, "ok");
    }
    let dir = tempfile::tempdir().unwrap();
    let app = l.write_app(dir.path(), &lab::AppSpec::new(SVC, std::slice::from_ref(&h1), std::slice::from_ref(&h2)));
    for v in ["v1", "v2"] {
        l.kamal(&app, &["deploy", "-P", "--version", v]).expect_ok(&format!("kamal deploy {v}"));
    }
    let run = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kdeck"));
        c.current_dir(&app).env("HOME", &l.home).args(["details", "--resources"]);
        if json {
            c.arg("--json");
        }
        let o = c.output().expect("run kdeck");
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (code, out, err) = run(false);
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    for want in [h1.as_str(), h2.as_str(), "DOCKER DISK USE", "CONTAINERS", "WARNINGS", "PRUNE PREVIEW", &format!("{SVC}-web-v2"), &format!("{SVC}-worker-v2")]
    {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    println!("{out}");
    let (code, out, err) = run(true);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(v["service"], SVC);
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    for h in hosts {
        assert!(h["mem_total"].as_u64().unwrap() > 0, "{h}");
        assert!(h["disks"].as_array().is_some_and(|d| !d.is_empty()), "{h}");
        let running: Vec<_> = h["containers"].as_array().unwrap().iter().filter(|c| c["state"] == "running").collect();
        assert_eq!(running.len(), 1, "{h}");
    }
    assert_eq!(v["prune_preview"].as_array().unwrap().len(), 2);
    l.kamal(&app, &["remove", "-y"]);
}
