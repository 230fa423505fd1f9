//! Shared helpers of the config conformance tests: semantic YAML comparison (Ruby symbol
//! keys compared without their colon, Ruby object tags by their fields) with a minimal diff.

#![allow(dead_code)]

use kdeck::config::{yaml, Map, Value};
use std::path::Path;

/// Parse YAML like Psych and normalise: symbol keys → string keys (recursively).
pub fn parse_norm(src: &str) -> Result<Value, String> {
    let v = yaml::parse(src).map_err(|e| format!("{} at line {}", e.message, e.line))?;
    Ok(norm(&v))
}

pub fn norm(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(Map(m
            .iter()
            .map(|(k, v)| {
                let k = match k {
                    Value::Sym(s) => Value::Str(s.clone()),
                    other => other.clone(),
                };
                (k, norm(v))
            })
            .collect())),
        Value::Seq(s) => Value::Seq(s.iter().map(norm).collect()),
        other => other.clone(),
    }
}

/// Remove keys named in `volatile` anywhere in the tree.
pub fn drop_keys(v: &mut Value, volatile: &[String]) {
    match v {
        Value::Map(m) => {
            m.0.retain(|(k, _)| !matches!(k, Value::Str(s) if volatile.contains(s)));
            for (_, x) in m.0.iter_mut() {
                drop_keys(x, volatile);
            }
        }
        Value::Seq(s) => {
            for x in s.iter_mut() {
                drop_keys(x, volatile);
            }
        }
        _ => {}
    }
}

fn is_error(v: &Value) -> bool {
    matches!(v, Value::Map(m) if m.len() == 1 && m.get("__error__").is_some())
}

/// First difference between `want` and `got` (map key order ignored, list order kept),
/// as a short path + values message. `{__error__: …}` matches any `{__error__: …}`.
pub fn diff(want: &Value, got: &Value, path: &str) -> Option<String> {
    if is_error(want) && is_error(got) {
        return None;
    }
    match (want, got) {
        (Value::Map(a), Value::Map(b)) => {
            for (k, av) in a.iter() {
                let p = format!("{path}/{}", k.to_rstring());
                match b.get_key(k) {
                    None => {
                        if av.is_nil() {
                            continue;
                        }
                        return Some(format!("{p}: missing (want {})", short(av)));
                    }
                    Some(bv) => {
                        if let Some(d) = diff(av, bv, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            for (k, bv) in b.iter() {
                if a.get_key(k).is_none() && !bv.is_nil() {
                    return Some(format!("{path}/{}: unexpected (got {})", k.to_rstring(), short(bv)));
                }
            }
            None
        }
        (Value::Seq(a), Value::Seq(b)) => {
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                if let Some(d) = diff(x, y, &format!("{path}/{i}")) {
                    return Some(d);
                }
            }
            if a.len() != b.len() {
                return Some(format!("{path}: want {} items, got {} ({} vs {})", a.len(), b.len(), short(want), short(got)));
            }
            None
        }
        (Value::Float(a), Value::Float(b)) if a.is_nan() && b.is_nan() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: want {} got {}", short(a), short(b))),
    }
}

pub fn short(v: &Value) -> String {
    let s = v.inspect();
    if s.len() > 160 {
        format!("{}…", &s[..s.char_indices().take(160).last().map(|(i, _)| i).unwrap_or(0)])
    } else {
        s
    }
}

/// `cp -a` a directory (keeps executable bits).
pub fn copy_dir(src: &Path, dst: &Path) {
    let st = std::process::Command::new("cp").arg("-a").arg(src).arg(dst).status().expect("cp");
    assert!(st.success(), "cp -a {} {}", src.display(), dst.display());
}

/// The real `kamal` (2.11) on PATH, the reference of the config tests.
pub fn kamal_bin() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("kamal")).find(|p| p.is_file())
}

/// The environment real Kamal runs with in the config tests (and kdeck beside it).
pub fn base_env(home: &Path) -> std::collections::BTreeMap<String, String> {
    let mut e = std::collections::BTreeMap::new();
    e.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
    e.insert("HOME".into(), home.display().to_string());
    e.insert("LANG".into(), "C.UTF-8".into());
    e.insert("LC_ALL".into(), "C.UTF-8".into());
    e
}
