//! The commands that need no deploy.yml: `kdeck init`, `kdeck docs [SECTION]`, `kdeck version`.

use crate::cli::{DocsArgs, InitArgs};
use crate::config::schema;
use color_eyre::eyre::{eyre, Result, WrapErr};
use std::path::Path;
use std::process::ExitCode;

/// kdeck's own config stub (parses with kdeck's loader and with `kamal config`).
pub const DEPLOY_STUB: &str = include_str!("templates/deploy.yml");
/// kdeck's own `.kamal/secrets` template (no secret values in it).
pub const SECRETS_STUB: &str = include_str!("templates/secrets");

/// The hooks Kamal 2.11 runs, and when, for the `.kamal/hooks/*.sample` files.
pub const HOOKS: &[(&str, &str)] = &[
    ("docker-setup", "once Docker is installed on the hosts, during `setup`"),
    ("pre-connect", "before the first connection to the hosts"),
    ("pre-build", "before the image is built and pushed"),
    ("pre-deploy", "after the image is pushed, before any container is booted"),
    ("pre-app-boot", "before the app containers of a batch of hosts boot"),
    ("post-app-boot", "after the app containers of a batch of hosts booted"),
    ("post-deploy", "once a deploy, redeploy or rollback finished (KAMAL_RUNTIME is set)"),
    ("pre-proxy-reboot", "before kamal-proxy is rebooted on a group of hosts"),
    ("post-proxy-reboot", "after kamal-proxy was rebooted on a group of hosts"),
];

/// The text of one sample hook.
pub fn hook_sample(name: &str, when: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Sample {name} hook, written by `kdeck init`. Runs {when}.\n\
         # To use it, drop the .sample suffix (and keep the file executable). A non-zero exit stops\n\
         # the command that runs it.\n\
         #\n\
         # It runs on this machine, from the app directory, with these variables set:\n\
         #   KAMAL_RECORDED_AT   when it runs (UTC)\n\
         #   KAMAL_PERFORMER     who runs it (git user.email or the login name)\n\
         #   KAMAL_VERSION       the version being deployed\n\
         #   KAMAL_SERVICE       the service name\n\
         #   KAMAL_HOSTS         the hosts in scope, comma separated\n\
         #   KAMAL_COMMAND       the command (deploy, proxy, ...); KAMAL_SUBCOMMAND its subcommand\n\
         #   KAMAL_DESTINATION, KAMAL_ROLES  when -d / -r are given\n\n\
         echo \"{name}: $KAMAL_COMMAND of $KAMAL_SERVICE $KAMAL_VERSION on $KAMAL_HOSTS\"\n"
    )
}

/// `kdeck init`, as Kamal's: an existing config/deploy.yml is left alone (a message, exit 0),
/// the secrets file and the hooks directory are only written when absent. Paths are relative
/// to the current directory (`-c` is not read, as in Kamal).
pub fn init(args: &InitArgs) -> Result<ExitCode> {
    init_in(Path::new("."), args)
}

fn init_in(root: &Path, args: &InitArgs) -> Result<ExitCode> {
    let deploy = root.join("config/deploy.yml");
    if deploy.exists() {
        crate::outln!("Config file already exists in config/deploy.yml (remove first to create a new one)");
    } else {
        write_new(&deploy, DEPLOY_STUB, false)?;
        crate::outln!("Created configuration file in config/deploy.yml");
    }
    let secrets = root.join(".kamal/secrets");
    if !secrets.exists() {
        write_new(&secrets, SECRETS_STUB, false)?;
        crate::outln!("Created .kamal/secrets file");
    }
    let hooks = root.join(".kamal/hooks");
    if !hooks.exists() {
        for (name, when) in HOOKS {
            write_new(&hooks.join(format!("{name}.sample")), &hook_sample(name, when), true)?;
        }
        crate::outln!("Created sample hooks in .kamal/hooks");
    }
    if args.bundle {
        return bundle(root);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_new(path: &Path, text: &str, executable: bool) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).wrap_err_with(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).wrap_err_with(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

/// `--bundle`, as Kamal's: add the kamal gem to the Gemfile and its `bin/kamal` binstub.
fn bundle(root: &Path) -> Result<ExitCode> {
    if root.join("bin/kamal").exists() {
        crate::outln!("Binstub already exists in bin/kamal (remove first to create a new one)");
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("Adding Kamal to Gemfile and bundle...");
    for args in [["add", "kamal"], ["binstubs", "kamal"]] {
        let status = std::process::Command::new("bundle").args(args).current_dir(root).status().wrap_err("running bundle (is Bundler installed?)")?;
        if !status.success() {
            return Err(eyre!("`bundle {}` failed ({status})", args.join(" ")));
        }
    }
    crate::outln!("Created binstub file in bin/kamal");
    Ok(ExitCode::SUCCESS)
}

/// `kdeck docs [SECTION]`: generated from the schema the validator reads. An unknown section
/// is an error listing the sections (Kamal prints "No documentation found" and exits 0).
pub fn docs(args: &DocsArgs) -> Result<ExitCode> {
    let text = match args.section.as_deref() {
        None => schema::render_all(),
        Some(name) => match schema::section(&name.to_lowercase()) {
            Some(s) => schema::render(s),
            None => {
                let names: Vec<&str> = schema::SECTIONS.iter().map(|s| s.name).collect();
                return Err(eyre!("No documentation found for {name}; sections: {}", names.join(", ")));
            }
        },
    };
    crate::app::out::out_raw(&text);
    Ok(ExitCode::SUCCESS)
}

/// `kdeck version`: kdeck's version and the Kamal release whose behaviour it follows.
pub fn version() -> Result<ExitCode> {
    crate::outln!("{}", version_line());
    Ok(ExitCode::SUCCESS)
}

pub fn version_line() -> String {
    format!("kdeck {} (compatible with Kamal {})", env!("CARGO_PKG_VERSION"), crate::config::model::KAMAL_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_stub_secrets_and_executable_hook_samples() {
        let dir = tempfile::tempdir().expect("tempdir");
        init_in(dir.path(), &InitArgs::default()).expect("init");
        assert_eq!(std::fs::read_to_string(dir.path().join("config/deploy.yml")).expect("stub"), DEPLOY_STUB);
        assert!(dir.path().join(".kamal/secrets").exists());
        for (name, _) in HOOKS {
            let p = dir.path().join(format!(".kamal/hooks/{name}.sample"));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(std::fs::metadata(&p).expect("sample").permissions().mode() & 0o111, 0o111, "{name}");
            }
        }
    }

    #[test]
    fn init_leaves_an_existing_config_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
        std::fs::write(dir.path().join("config/deploy.yml"), "service: mine\n").expect("write");
        assert_eq!(init_in(dir.path(), &InitArgs::default()).expect("init"), ExitCode::SUCCESS);
        assert_eq!(std::fs::read_to_string(dir.path().join("config/deploy.yml")).expect("read"), "service: mine\n");
    }

    #[test]
    fn init_stub_loads_with_kdecks_config_loader() {
        let dir = tempfile::tempdir().expect("tempdir");
        init_in(dir.path(), &InitArgs::default()).expect("init");
        let env = std::collections::BTreeMap::from([("KAMAL_REGISTRY_PASSWORD".to_string(), "pw".to_string())]);
        let opts = crate::config::LoadOptions {
            config_file: "config/deploy.yml".into(),
            cwd: Some(dir.path().to_path_buf()),
            env: Some(env),
            version: Some("abc".into()),
            ..Default::default()
        };
        let cfg = crate::config::Config::load(&opts).expect("the stub loads");
        assert_eq!(cfg.service(), "my-app");
    }

    #[test]
    fn docs_of_an_unknown_section_is_an_error_naming_the_sections() {
        let e = docs(&DocsArgs { section: Some("nope".into()) }).expect_err("unknown section");
        assert!(e.to_string().contains("proxy"), "{e}");
    }
}
