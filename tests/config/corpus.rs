//! Conformance corpus: every case and run of `../shared/corpus/kamal-configs` (or
//! `$KDECK_CORPUS`), loaded in-process from a temp copy outside any git tree with the case's
//! env, compared with what Kamal 2.11 printed (`expected/config*.yml`, `resolved*.yml`).
//! Prints `corpus: N/M runs match`; fails below 100%.

use crate::support::config as config_support;

use config_support::{copy_dir, diff, drop_keys, norm, parse_norm};
use kdeck::config::{dump, Config, ConfigError, ErrorKind, LoadOptions, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("KDECK_CORPUS") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/kamal-configs");
    p.exists().then_some(p)
}

struct Run {
    case: String,
    dest: Option<String>,
}

fn runs(dir: &Path) -> Vec<Run> {
    let mut cases: Vec<String> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('_') && !n.starts_with('.'))
        .collect();
    cases.sort();
    let mut out = Vec::new();
    for c in cases {
        let cd = dir.join(&c);
        out.push(Run { case: c.clone(), dest: None });
        let dests: Vec<String> = if let Ok(s) = std::fs::read_to_string(cd.join("DESTINATIONS")) {
            s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
        } else {
            let cf = config_file(&cd);
            let stem = cf.file_stem().unwrap().to_string_lossy().to_string();
            let parent = cd.join(cf.parent().unwrap());
            let mut d: Vec<String> = std::fs::read_dir(&parent)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .filter_map(|n| n.strip_prefix(&format!("{stem}.")).and_then(|r| r.strip_suffix(".yml")).map(String::from))
                        .filter(|d| !d.contains('.'))
                        .collect()
                })
                .unwrap_or_default();
            d.sort();
            d
        };
        for d in dests {
            out.push(Run { case: c.clone(), dest: Some(d) });
        }
    }
    out
}

fn config_file(case_dir: &Path) -> PathBuf {
    std::fs::read_to_string(case_dir.join("CONFIG_FILE")).map(|s| PathBuf::from(s.trim())).unwrap_or_else(|_| PathBuf::from("config/deploy.yml"))
}

fn case_env(case_dir: &Path, scratch: &Path, home: &Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut path = String::new();
    if let Ok(s) = std::fs::read_to_string(case_dir.join("PATH_PREPEND")) {
        for l in s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            path.push_str(&scratch.join(l).display().to_string());
            path.push(':');
        }
    }
    path.push_str("/usr/local/bin:/usr/bin:/bin");
    env.insert("PATH".into(), path);
    env.insert("HOME".into(), home.display().to_string());
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("LC_ALL".into(), "C.UTF-8".into());
    env.insert("TERM".into(), "dumb".into());
    if let Ok(s) = std::fs::read_to_string(case_dir.join("ENV")) {
        for l in s.lines() {
            if l.trim_start().starts_with('#') || l.trim().is_empty() {
                continue;
            }
            if let Some((k, v)) = l.split_once('=') {
                env.insert(k.to_string(), v.to_string());
            }
        }
    }
    env
}

/// The `ERROR (Class): message` line of a refused run.
fn expected_error(case_dir: &Path, dest: Option<&str>) -> (String, String) {
    let suffix = dest.map(|d| format!(".{d}")).unwrap_or_default();
    let out = std::fs::read_to_string(case_dir.join(format!("expected/config{suffix}.yml"))).unwrap_or_default();
    for l in out.lines() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("ERROR (") {
            if let Some((class, msg)) = rest.split_once("): ") {
                return (class.to_string(), msg.to_string());
            }
        }
    }
    // Uncaught exceptions: use the resolved dump's error.
    let res = std::fs::read_to_string(case_dir.join(format!("expected/resolved{suffix}.yml"))).unwrap_or_default();
    if let Ok(v) = parse_norm(&res) {
        if let Some(Value::Map(e)) = v.as_map().and_then(|m| m.get("error")) {
            return (e.get("class").map(Value::to_rstring).unwrap_or_default(), e.get("message").map(Value::to_rstring).unwrap_or_default());
        }
    }
    (String::new(), String::new())
}

/// Does our error name the same key / condition as Kamal's?
fn error_matches(class: &str, msg: &str, e: &ConfigError) -> Result<(), String> {
    let ours = e.kamal_message();
    let ok = match class {
        "Kamal::ConfigurationError" => {
            let path = msg.split_once(": ").map(|(p, _)| p).filter(|p| !p.contains(' '));
            match path {
                Some(p) => e.key.as_deref() == Some(p),
                None => ours == msg || ours.starts_with(msg),
            }
        }
        "ArgumentError" if msg.contains("specify a destination") => e.kind == ErrorKind::DestinationRequired,
        "RuntimeError" if msg.contains("Configuration file not found") => e.kind == ErrorKind::MissingFile,
        c if c.starts_with("Psych::") => e.kind == ErrorKind::Yaml,
        "KeyError" => e.kind == ErrorKind::Erb && ours.contains(msg),
        "Errno::ENOENT" => e.kind == ErrorKind::Erb && ours.contains(msg),
        // Kamal crashes inside ERB that needs installed gems; we refuse it as unsupported ERB.
        "Gem::MissingSpecError" => e.kind == ErrorKind::UnsupportedErb,
        // Kamal crashes on a non-string service name; we refuse it as an invalid service name.
        "NoMethodError" if msg.contains("=~") => ours.contains("Service name"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("refused with a different error: want {class}: {msg}\n      got  {:?}: {}", e.kind, e))
    }
}

const RESOLVED_KEYS: &[&str] = &[
    "kamal_version",
    "destination",
    "raw_merged",
    "accepted",
    "secrets",
    "summary",
    "registry",
    "roles",
    "accessories",
    "aliases",
    "boot",
    "builder",
    "ssh",
    "sshkit",
    "env_tags",
];

fn check_run(dir: &Path, run: &Run, scratch_root: &Path) -> Result<(), String> {
    let case_dir = dir.join(&run.case);
    let scratch = scratch_root.join(format!("{}{}", run.case, run.dest.as_deref().map(|d| format!("--{d}")).unwrap_or_default()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let work = scratch.join(&run.case);
    copy_dir(&case_dir, &work);
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let env = case_env(&case_dir, &work, &home);
    let opts = LoadOptions {
        config_file: config_file(&case_dir),
        destination: run.dest.clone(),
        version: Some("corpus-v1".into()),
        cwd: Some(work.clone()),
        env: Some(env),
    };
    let suffix = run.dest.as_deref().map(|d| format!(".{d}")).unwrap_or_default();
    let exit: i32 = std::fs::read_to_string(case_dir.join(format!("expected/config{suffix}.exit"))).map_err(|e| e.to_string())?.trim().parse().unwrap_or(1);
    let volatile: Vec<String> = std::fs::read_to_string(case_dir.join("VOLATILE"))
        .map(|s| s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let loaded = Config::load(&opts);
    if exit != 0 {
        let (class, msg) = expected_error(&case_dir, run.dest.as_deref());
        match loaded {
            Ok(_) => return Err(format!("accepted, but Kamal refused: {class}: {msg}")),
            Err(e) => error_matches(&class, &msg, &e)?,
        }
        // Kamal's dump still has the merged raw config when validation refused it.
        let res_src = std::fs::read_to_string(case_dir.join(format!("expected/resolved{suffix}.yml"))).unwrap_or_default();
        if let Ok(want) = parse_norm(&res_src) {
            let mut want_raw = want.as_map().and_then(|m| m.get("raw_merged")).cloned().unwrap_or(Value::Nil);
            drop_keys(&mut want_raw, &volatile);
            let is_err = want_raw.as_map().is_some_and(|m| m.get("__error__").is_some());
            if !want_raw.is_nil() && !is_err {
                let got = kdeck::config::Config::load_raw(&opts).map_err(|e| format!("raw config refused: {e}"))?;
                let mut got = norm(&Value::Map(got));
                drop_keys(&mut got, &volatile);
                if let Some(d) = diff(&want_raw, &got, "raw_merged") {
                    return Err(d);
                }
            }
        }
        return Ok(());
    }
    let cfg = loaded.map_err(|e| format!("refused, but Kamal accepted: {e}"))?;
    // 1. `kamal config` output.
    let want_src = std::fs::read_to_string(case_dir.join(format!("expected/config{suffix}.yml"))).map_err(|e| e.to_string())?;
    let mut want = parse_norm(&want_src).map_err(|e| format!("expected config unreadable: {e}"))?;
    let mut got = norm(&dump::kamal_config_with(&cfg, true).map_err(|e| e.to_string())?);
    drop_keys(&mut want, &volatile);
    drop_keys(&mut got, &volatile);
    if let Some(d) = diff(&want, &got, "config") {
        return Err(d);
    }
    // 2. The resolved model.
    let res_src = std::fs::read_to_string(case_dir.join(format!("expected/resolved{suffix}.yml"))).map_err(|e| e.to_string())?;
    let want = parse_norm(&res_src).map_err(|e| format!("expected resolved unreadable: {e}"))?;
    let got = norm(&dump::resolved(&cfg, true));
    for k in RESOLVED_KEYS {
        let mut w = want.as_map().and_then(|m| m.get(k)).cloned().unwrap_or(Value::Nil);
        let mut g = got.as_map().and_then(|m| m.get(k)).cloned().unwrap_or(Value::Nil);
        drop_keys(&mut w, &volatile);
        drop_keys(&mut g, &volatile);
        if let Some(d) = diff(&w, &g, &format!("resolved/{k}")) {
            return Err(d);
        }
    }
    Ok(())
}

#[test]
fn corpus() {
    let Some(dir) = corpus_dir() else {
        if std::env::var_os("CI").is_some() {
            panic!("config corpus not found (../shared/corpus/kamal-configs or $KDECK_CORPUS)");
        }
        println!("corpus: skipped (../shared/corpus/kamal-configs not found; set KDECK_CORPUS)");
        return;
    };
    let runs = runs(&dir);
    let scratch = tempfile::Builder::new().prefix("kdeck-corpus-").tempdir_in(std::env::temp_dir()).expect("tempdir");
    let filter = std::env::var("KDECK_CORPUS_CASE").ok();
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[Run]> = runs.chunks(runs.len().div_ceil(4).max(1)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let dir = &dir;
                let scratch = scratch.path();
                let filter = filter.clone();
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter(|r| filter.as_deref().is_none_or(|f| r.case == f))
                        .map(|r| {
                            let name = format!("{}{}", r.case, r.dest.as_deref().map(|d| format!(" -d {d}")).unwrap_or_default());
                            let res =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_run(dir, r, scratch))).unwrap_or_else(|_| Err("PANIC".into()));
                            (name, res)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let total = results.len();
    let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    for (name, r) in &results {
        if let Err(e) = r {
            println!("MISMATCH {name}: {e}");
        }
    }
    println!("corpus: {ok}/{total} runs match");
    assert_eq!(ok, total, "corpus: {ok}/{total} runs match");
}
