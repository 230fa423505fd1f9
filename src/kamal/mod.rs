//! kamal: Kamal 2.11's on-host semantics shared by every action — names, labels, the exact
//! command strings (as Kamal's `lib/kamal/commands/*.rb` build them), lock details, audit lines, env files, hooks.
//! Everything here is pure; the `deploy` module runs these strings on hosts.

pub mod accessory;
pub mod app;
pub mod audit;
pub mod audit_runs;
pub mod cmd;
pub mod envfile;
pub mod from_config;
pub mod hooks;
pub mod lock;
pub mod proxy_log;
pub mod ruby;

pub use app::{AppSpec, BootLimit, BuildCache, BuildOptions, ProxySpec, Registry, RoleSpec};

use rand::Rng;

/// `n` random lowercase hex chars (Kamal's `SecureRandom.hex(n/2)`).
pub fn random_hex(n: usize) -> String {
    let mut r = rand::thread_rng();
    (0..n).map(|_| std::char::from_digit(r.gen_range(0..16), 16).unwrap_or('0')).collect()
}

/// Strip `<prefix>-` from a container name (shell `${line#<prefix>-}`).
pub fn version_from_name<'a>(prefix: &str, name: &'a str) -> &'a str {
    name.strip_prefix(prefix).and_then(|s| s.strip_prefix('-')).unwrap_or(name)
}

#[cfg(test)]
mod trace_tests;
