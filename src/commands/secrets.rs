//! `kdeck secrets fetch|extract|print`, with Kamal's output: `fetch` prints the JSON,
//! `extract` the value (`puts`), `print` every secret as `KEY=VALUE`. With `--inline` (used
//! inside secrets files) nothing is printed, as in Kamal.

use crate::cli::{ExtractArgs, FetchArgs, Global, SecretsCommand};
use crate::config::secrets::{extract, fetch_json, FetchRequest, VendorEnv, ACCOUNT_REQUIRED};
use crate::config::Config;
use color_eyre::eyre::{eyre, Result};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub fn run(g: &Global, c: &SecretsCommand) -> Result<ExitCode> {
    match c {
        SecretsCommand::Fetch(a) => fetch(a),
        SecretsCommand::Extract(a) => extract_one(a),
        SecretsCommand::Print => print(g),
    }
}

fn fetch(a: &FetchArgs) -> Result<ExitCode> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir()?;
    let req = FetchRequest { secrets: a.secrets.clone(), account: a.account.clone(), from: a.from.clone() };
    match fetch_json(&a.adapter, &req, VendorEnv { env: &env, cwd: &cwd }).map_err(|e| eyre!(e))? {
        None => {
            crate::outln!("{ACCOUNT_REQUIRED}");
        }
        Some(json) if !a.inline => {
            crate::outln!("{json}");
        }
        Some(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn extract_one(a: &ExtractArgs) -> Result<ExitCode> {
    let value = extract(&a.name, &a.secrets).map_err(|e| eyre!(e))?;
    if !a.inline {
        super::out::out_raw(&value.puts());
    }
    Ok(ExitCode::SUCCESS)
}

fn print(g: &Global) -> Result<ExitCode> {
    let cfg = Config::load(&super::config::load_options(g))?;
    for (k, v) in cfg.secrets().values()? {
        let line = format!("{k}={v}");
        super::out::out_raw(&if line.ends_with('\n') { line } else { line + "\n" });
    }
    Ok(ExitCode::SUCCESS)
}
