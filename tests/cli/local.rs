//! `kdeck init`, `kdeck docs`, `kdeck version` through the real binary, without a deploy.yml;
//! the stub `init` writes is read by kdeck's loader and by real `kamal config`.

use kdeck::config::{schema, yaml, Map, Value};
use std::path::Path;
use std::process::Command;

fn kdeck(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
        .args(args)
        .arg("--log-file")
        .arg(dir.join("kdeck.log"))
        .current_dir(dir)
        .env("KAMAL_REGISTRY_PASSWORD", "pw")
        .output()
        .expect("run kdeck");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn init_stub_is_read_by_kdeck_and_by_real_kamal_config() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = kdeck(d.path(), &["init"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Created configuration file in config/deploy.yml"), "{out}");
    let (code, out, err) = kdeck(d.path(), &["config", "--version", "v1"]);
    assert_eq!(code, 0, "kdeck config of the stub: {out}{err}");
    let k = Command::new("kamal")
        .args(["config", "--version", "v1"])
        .current_dir(d.path())
        .env("KAMAL_REGISTRY_PASSWORD", "pw")
        .output()
        .expect("real kamal is needed (scripts/install-deps installs it)");
    let kout = String::from_utf8_lossy(&k.stdout);
    assert!(k.status.success() && kout.contains(":service_with_version: my-app-v1"), "kamal config of the stub: {kout}{}", String::from_utf8_lossy(&k.stderr));
    assert_eq!(out, kout, "kdeck config and kamal config of the stub differ");
}

#[test]
fn init_refuses_to_replace_a_config_and_still_writes_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::write(d.path().join("config/deploy.yml"), "service: mine\n").unwrap();
    let (code, out, _) = kdeck(d.path(), &["init"]);
    assert_eq!(code, 0, "Kamal exits 0 here too");
    assert!(out.contains("Config file already exists in config/deploy.yml (remove first to create a new one)"), "{out}");
    assert_eq!(std::fs::read_to_string(d.path().join("config/deploy.yml")).unwrap(), "service: mine\n");
    assert!(d.path().join(".kamal/secrets").exists() && d.path().join(".kamal/hooks/pre-deploy.sample").exists());
    let secrets = std::fs::read_to_string(d.path().join(".kamal/secrets")).unwrap();
    assert!(secrets.contains("KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD"), "{secrets}");
}

#[test]
fn init_bundle_leaves_an_existing_binstub_alone() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("bin")).unwrap();
    std::fs::write(d.path().join("bin/kamal"), "#!/bin/sh\n").unwrap();
    let (code, out, err) = kdeck(d.path(), &["init", "--bundle"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Binstub already exists in bin/kamal"), "{out}");
}

#[test]
fn docs_prints_every_key_the_validator_knows() {
    let d = tempfile::tempdir().unwrap();
    for s in schema::SECTIONS {
        let (code, out, err) = kdeck(d.path(), &["docs", s.name]);
        assert_eq!(code, 0, "{err}");
        for path in schema::key_paths(s) {
            let key = path.rsplit('/').next().unwrap();
            let depth = path.matches('/').count();
            let line = format!("\n  {}{key} ", "  ".repeat(depth));
            assert!(out.contains(&line), "`kdeck docs {}` lacks {path}:\n{out}", s.name);
        }
    }
    let (code, all, _) = kdeck(d.path(), &["docs"]);
    assert_eq!(code, 0);
    assert!(schema::SECTIONS.iter().all(|s| all.contains(&format!("\n{}\n", s.name)) || all.starts_with(&format!("{}\n", s.name))), "{all}");
}

/// The other way: each documented key, set in a config, is not refused as unknown, and a key
/// that is not documented is.
#[test]
fn every_documented_key_is_accepted_by_the_loader_and_an_undocumented_one_is_not() {
    let places = [
        ("configuration", ""),
        ("proxy", "proxy"),
        ("builder", "builder"),
        ("ssh", "ssh"),
        ("sshkit", "sshkit"),
        ("boot", "boot"),
        ("logging", "logging"),
        ("registry", "registry"),
        ("env", "env"),
        ("role", "servers/web"),
        ("accessory", "accessories/db"),
    ];
    let mut refused = vec![];
    for (name, at) in places {
        let s = schema::section(name).unwrap_or_else(|| panic!("section {name}"));
        for d in schema::key_docs(s) {
            let value = match d.example.as_str() {
                "s" => "x",
                "1" => "1",
                "true" => "true",
                "[s]" => "[x]",
                "{k: s}" => "{k: x}",
                // Hash-valued: its own keys are rows of their own.
                _ => continue,
            };
            let full = if at.is_empty() { d.path.clone() } else { format!("{at}/{}", d.path) };
            if let Some(e) = load_with(&full, value).filter(|e| e.contains("unknown key")) {
                refused.push(format!("{full}: {e}"));
            }
        }
    }
    assert!(refused.is_empty(), "documented keys refused as unknown:\n{}", refused.join("\n"));
    let e = load_with("proxy/not_a_key", "x").expect("an undocumented key is refused");
    assert!(e.contains("unknown key"), "{e}");
}

const BASE: &str = "service: app\nimage: acme/app\nservers:\n  web:\n    hosts:\n      - 192.0.2.10\nregistry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\naccessories:\n  db:\n    image: mysql\n    host: 192.0.2.10\n";

/// `value` set at `path` (a/b/c) in `v`, the hashes on the way made when absent.
fn set(v: &mut Value, path: &[&str], value: Value) {
    let Value::Map(m) = v else { panic!("not a hash at {path:?}") };
    if path.len() == 1 {
        m.insert(Value::str(path[0]), value);
        return;
    }
    if m.get(path[0]).is_none_or(|x| x.as_map().is_none()) {
        m.insert(Value::str(path[0]), Value::Map(Map::new()));
    }
    let next = m.0.iter_mut().find(|(k, _)| k.as_str() == Some(path[0])).map(|(_, v)| v).expect("just inserted");
    set(next, &path[1..], value);
}

/// Load a small valid config with `path` (a/b/c) set to `value` (YAML); the error, if any.
fn load_with(path: &str, value: &str) -> Option<String> {
    let mut v = yaml::parse(BASE).expect("base config");
    set(&mut v, &path.split('/').collect::<Vec<_>>(), yaml::parse(value).expect("value"));
    let text = yaml::emit(&v);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
    std::fs::write(dir.path().join("config/deploy.yml"), &text).expect("write");
    let env = std::collections::BTreeMap::from([("KAMAL_REGISTRY_PASSWORD".to_string(), "pw".to_string())]);
    let opts = kdeck::config::LoadOptions {
        config_file: "config/deploy.yml".into(),
        cwd: Some(dir.path().to_path_buf()),
        env: Some(env),
        version: Some("v1".into()),
        destination: None,
    };
    kdeck::config::Config::load(&opts).err().map(|e| format!("{e}\n{text}"))
}

#[test]
fn docs_of_an_unknown_section_fails_listing_the_sections() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = kdeck(d.path(), &["docs", "nope"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("No documentation found for nope") && err.contains("configuration, role, accessory"), "{err}");
}

#[test]
fn version_prints_kdecks_version_and_the_kamal_version_it_follows() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, _) = kdeck(d.path(), &["version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("kdeck {} (compatible with Kamal 2.11.0)", env!("CARGO_PKG_VERSION")));
}
