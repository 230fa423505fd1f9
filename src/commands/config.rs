//! `kdeck config`: the same data as `kamal config` (YAML), or with `--resolved` the full
//! resolved model. Secret values only with `--show-secrets`.

use crate::cli::{ConfigArgs, Global};
use crate::config::{dump, yaml, Config, LoadOptions};
use std::process::ExitCode;

pub fn load_options(g: &Global) -> LoadOptions {
    LoadOptions { config_file: g.config_file.clone(), destination: g.destination.clone(), version: g.version.clone(), cwd: None, env: None }
}

pub fn run(g: &Global, args: &ConfigArgs) -> color_eyre::Result<ExitCode> {
    let cfg = Config::load(&load_options(g))?;
    if args.resolved || args.show_secrets {
        // Missing secrets are reported up front, naming the key and the secrets file.
        cfg.check_secrets()?;
    }
    let v = if args.resolved { dump::resolved(&cfg, args.show_secrets) } else { dump::kamal_config_with(&cfg, args.show_secrets)? };
    super::out::out_raw(&yaml::emit(&v));
    Ok(ExitCode::SUCCESS)
}
