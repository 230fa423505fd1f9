//! Fuzz the configuration loader: the input bytes are split into deploy.yml, a destination
//! overlay and a secrets file; loading (ERB, YAML, merge, validation, secrets, dumps) must
//! never panic. Commands (ERB backticks, secrets `$(…)`) are switched off.
#![no_main]

use kdeck::config::{dump, Config, LoadOptions};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.splitn(3, |b| *b == 0xff).collect();
    let dir = tempfile_dir();
    let _ = std::fs::create_dir_all(dir.join("config"));
    let _ = std::fs::create_dir_all(dir.join(".kamal"));
    let _ = std::fs::write(dir.join("config/deploy.yml"), parts[0]);
    let dest = parts.get(1).map(|p| {
        let _ = std::fs::write(dir.join("config/deploy.fz.yml"), p);
        "fz".to_string()
    });
    if let Some(s) = parts.get(2) {
        let _ = std::fs::write(dir.join(".kamal/secrets-common"), s);
    }
    let mut env = BTreeMap::new();
    env.insert("KDECK_DISABLE_COMMANDS".to_string(), "1".to_string());
    let opts = LoadOptions { config_file: "config/deploy.yml".into(), destination: dest, version: Some("v".into()), cwd: Some(dir.clone()), env: Some(env) };
    if let Ok(cfg) = Config::load(&opts) {
        let _ = dump::kamal_config(&cfg);
        let _ = dump::resolved(&cfg, true);
        let _ = cfg.check_secrets();
    }
});

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kdeck-fuzz-{}", std::process::id()));
    d
}
