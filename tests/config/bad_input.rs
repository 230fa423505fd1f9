//! Bad input through the real `kdeck` binary: each case must exit 1 with a one-paragraph
//! error naming the file and the key, no panic and no backtrace (unless -v).

use std::path::Path;
use std::process::Command;

const GOOD: &str = "service: app\nimage: acme/app\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\nenv:\n  secret:\n    - DB_PASSWORD\n";

fn app(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("kdeck-bad-").tempdir_in(std::env::temp_dir()).unwrap();
    for (p, data) in files {
        let f = d.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, data).unwrap();
    }
    d
}

fn kdeck(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let log = dir.join("kdeck.log");
    let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
        .args(args)
        .arg("--log-file")
        .arg(&log)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("VERSION")
        .output()
        .expect("run kdeck");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Exit 1, the error names `file` and every `needles` item, one paragraph, no panic/backtrace.
fn assert_refused(dir: &Path, args: &[&str], file: &str, needles: &[&str]) {
    let (code, out, err) = kdeck(dir, args);
    assert_eq!(code, 1, "exit code for {args:?}: stdout={out} stderr={err}");
    assert!(err.contains(file), "error should name {file}: {err}");
    for n in needles {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(!err.contains("Backtrace") && !err.contains("Location:"), "backtrace without -v: {err}");
    assert!(err.trim().lines().count() <= 2, "one paragraph expected: {err}");
    assert!(!err.contains("s3cret"), "secret value leaked: {err}");
}

#[test]
fn empty_file() {
    let d = app(&[("config/deploy.yml", b"")]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["empty"]);
}

#[test]
fn invalid_yaml() {
    let d = app(&[("config/deploy.yml", b"service: app\nimage: [unclosed\n  servers: x: y\n")]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["YAML", "line"]);
}

#[test]
fn wrong_type() {
    let d = app(&[("config/deploy.yml", GOOD.replace("  web:\n    - 192.0.2.10\n", "  web: 5\n").as_bytes())]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["servers/web", "should be an array or a hash"]);
}

#[test]
fn unknown_key() {
    let d = app(&[("config/deploy.yml", format!("{GOOD}proxy:\n  bogus: 1\n").as_bytes())]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["proxy", "unknown key: bogus"]);
}

#[test]
fn kamal1_config_gets_upgrade_hint() {
    let d = app(&[("config/deploy.yml", format!("{GOOD}traefik:\n  args: {{}}\n").as_bytes())]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["unknown key: traefik", "Kamal 1"]);
}

#[test]
fn missing_destination_file() {
    let d = app(&[("config/deploy.yml", GOOD.as_bytes())]);
    assert_refused(d.path(), &["config", "-d", "nope", "--version", "v1"], "config/deploy.nope.yml", &["not found"]);
}

#[test]
fn missing_secrets_file() {
    let d = app(&[("config/deploy.yml", GOOD.as_bytes())]);
    assert_refused(
        d.path(),
        &["config", "--resolved", "--version", "v1"],
        ".kamal/secrets",
        &["registry/password", "KAMAL_REGISTRY_PASSWORD", "no secret files"],
    );
}

#[test]
fn undefined_secret() {
    let d = app(&[("config/deploy.yml", GOOD.as_bytes()), (".kamal/secrets", b"KAMAL_REGISTRY_PASSWORD=s3cret\n")]);
    assert_refused(
        d.path(),
        &["config", "--resolved", "--version", "v1"],
        ".kamal/secrets",
        &["servers/web/env/secret/DB_PASSWORD", "Secret 'DB_PASSWORD' not found"],
    );
}

#[test]
fn failing_command_in_secrets() {
    let d = app(&[("config/deploy.yml", GOOD.as_bytes()), (".kamal/secrets", b"KAMAL_REGISTRY_PASSWORD=s3cret\nDB_PASSWORD=$(kdeck-no-such-command arg)\n")]);
    assert_refused(d.path(), &["config", "--resolved", "--version", "v1"], ".kamal/secrets", &["DB_PASSWORD", "kdeck-no-such-command"]);
}

#[test]
fn unsupported_erb() {
    let d = app(&[("config/deploy.yml", format!("{GOOD}asset_path: <%= Gem::Specification.find_by_name('x').gem_dir %>\n").as_bytes())]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["unsupported ERB at config/deploy.yml:15"]);
}

#[test]
fn binary_garbage() {
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push((x & 0xff) as u8);
    }
    let d = app(&[("config/deploy.yml", &garbage)]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &[]);
}

#[test]
fn good_config_prints_without_secrets() {
    let d = app(&[("config/deploy.yml", GOOD.as_bytes()), (".kamal/secrets", b"KAMAL_REGISTRY_PASSWORD=s3cret\nDB_PASSWORD=s3cret\n")]);
    let (code, out, err) = kdeck(d.path(), &["config", "--version", "v1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(":primary_host: 192.0.2.10"), "{out}");
    let (code, out, err) = kdeck(d.path(), &["config", "--resolved", "--version", "v1"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("s3cret") && out.contains("[REDACTED]"), "{out}");
    let (code, out, _) = kdeck(d.path(), &["config", "--resolved", "--show-secrets", "--version", "v1"]);
    assert_eq!(code, 0);
    assert!(out.contains("s3cret"));
}

#[test]
fn accessory_tags_without_role_hash() {
    // Kamal gives this accessory a nil host (and fails at deploy); kdeck refuses it up front.
    let cfg = format!("{GOOD}accessories:\n  db:\n    image: mysql\n    tags: [eu]\n").replace("  web:\n    - 192.0.2.10\n", "  - 192.0.2.10: eu\n");
    let d = app(&[("config/deploy.yml", cfg.as_bytes())]);
    assert_refused(d.path(), &["config", "--version", "v1"], "config/deploy.yml", &["accessories/db", "tag"]);
}
