//! `proxy boot_config set|get|reset` (deprecated in Kamal 2.11 in favour of `proxy: run:`, kept
//! for the hosts that still boot kamal-proxy from `.kamal/proxy/*`): the same files written,
//! read and removed on every proxy host, in Kamal's order per host.

use super::context::Ctx;
use crate::cli::BootConfigArgs;
use crate::config::proxy_run;
use crate::deploy::remote::{upload, ExecOutput};
use crate::kamal::cmd;
use crate::kamal::ruby::escape_shell_value;
use color_eyre::eyre::{eyre, Result};
use futures::future::join_all;
use std::process::ExitCode;

const DEPRECATED: &str = "The proxy boot_config command is deprecated - set the config in the deploy YAML at proxy/run instead";

/// What `set` writes: each boot file's content, or `None` to remove it (the default).
fn files_to_set(b: &BootConfigArgs) -> [(&'static str, Option<String>); 4] {
    let options = proxy_run::boot_options(!b.no_publish, &b.publish_host_ip, b.http_port, b.https_port, &b.log_max_size, b.metrics_port, &b.docker_options);
    let options = (options != proxy_run::default_boot_options()).then(|| options.join(" "));
    let repo = b.repository.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "basecamp".into());
    let image = [b.registry.clone().filter(|r| !r.is_empty()), Some(repo), Some("kamal-proxy".into())].into_iter().flatten().collect::<Vec<_>>().join("/");
    let image = (image != cmd::PROXY_IMAGE).then_some(image);
    let mut run = vec![];
    if b.debug {
        run.push("--debug".to_string());
    }
    if let Some(p) = b.metrics_port {
        run.push(format!("--metrics-port {}", escape_shell_value(&p.to_string())));
    }
    let run_command = (!run.is_empty()).then(|| format!("kamal-proxy run {}", run.join(" ")));
    [("options", options), ("image", image), ("image_version", b.image_version.clone()), ("run_command", run_command)]
}

pub async fn run(ctx: &Ctx, b: &BootConfigArgs) -> Result<ExitCode> {
    crate::outln!("{DEPRECATED}");
    let hosts = ctx.app.proxy_hosts();
    let files = files_to_set(b);
    let per_host = hosts.iter().map(|h| {
        let files = &files;
        async move {
            let r = ctx.remotes.get(h).ok_or_else(|| eyre!("no connection to {h}"))?;
            let mut shown = None;
            match b.subcommand.as_str() {
                "set" => {
                    ok(h, r.exec(&cmd::proxy_ensure_directory()).await?)?;
                    for (name, content) in files {
                        match content {
                            Some(c) => drop(ok(h, upload(r.as_ref(), &cmd::proxy_boot_file(name), c.as_bytes(), 0o644).await?)?),
                            None => drop(r.exec(&cmd::proxy_reset_boot_file(name)).await?),
                        }
                    }
                }
                "get" => shown = Some(ok(h, r.exec(&cmd::proxy_boot_config()).await?)?.stdout.trim().to_string()),
                _ => {
                    for name in cmd::PROXY_BOOT_FILES {
                        r.exec(&cmd::proxy_reset_boot_file(name)).await?;
                    }
                }
            }
            Ok::<_, color_eyre::Report>((h.clone(), shown))
        }
    });
    for res in join_all(per_host).await {
        if let (h, Some(line)) = res? {
            crate::outln!("Host {h}: {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ok(host: &str, out: ExecOutput) -> Result<ExecOutput> {
    if out.ok() {
        Ok(out)
    } else {
        Err(eyre!("{}", crate::deploy::runner::exec_failure(host, &out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> BootConfigArgs {
        #[derive(Parser)]
        struct W {
            #[command(flatten)]
            b: BootConfigArgs,
        }
        let mut v = vec!["w", "set"];
        v.extend(extra);
        W::parse_from(v).b
    }

    #[test]
    fn set_with_defaults_removes_every_boot_file() {
        assert!(files_to_set(&args(&[])).iter().all(|(_, c)| c.is_none()));
    }

    #[test]
    fn set_writes_kamals_options_image_and_run_command() {
        let f = files_to_set(&args(&["--http-port", "8080", "--metrics-port", "9090", "--debug", "--registry", "reg:5000", "--docker-options", "label=a=b"]));
        assert_eq!(f[0].1.as_deref(), Some("--publish 8080:80 --publish 443:443 --log-opt max-size=10m --expose=9090 --label=a=b"));
        assert_eq!(f[1].1.as_deref(), Some("reg:5000/basecamp/kamal-proxy"));
        assert_eq!(f[2].1, None);
        assert_eq!(f[3].1.as_deref(), Some("kamal-proxy run --debug --metrics-port \"9090\""));
        let f = files_to_set(&args(&["--no-publish", "--log-max-size", ""]));
        assert_eq!(f[0].1.as_deref(), Some(""));
    }
}
