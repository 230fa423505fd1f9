//! Kamal's `aliases:`: `kdeck NAME ARGS…`, where deploy.yml has `aliases: { NAME: COMMAND }`,
//! runs `kdeck COMMAND ARGS…` — the command split like a shell line, then the arguments given
//! (Kamal: `Shellwords.split(command) + ARGV[1..]`). The config is the one `-c`/`-d` name.

use std::path::PathBuf;

/// The value of `-x V`, `--long V` or `--long=V` in `args` (the last one given wins).
fn option_value(args: &[String], short: &str, longs: &[&str]) -> Option<String> {
    let mut found = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == short || longs.contains(&a.as_str()) {
            found = it.next().cloned();
        } else if let Some(v) = longs.iter().find_map(|l| a.strip_prefix(&format!("{l}="))) {
            found = Some(v.to_string());
        }
    }
    found
}

/// `args` (the program first) with the alias `name` replaced by its command; `None` when the
/// config cannot be read or has no such alias.
pub fn expand(args: &[String], name: &str) -> Option<Vec<String>> {
    let config_file = option_value(args, "-c", &["--config-file", "--config_file"]).unwrap_or_else(|| "config/deploy.yml".into());
    let destination = option_value(args, "-d", &["--destination"]);
    let opts = crate::config::LoadOptions { config_file: PathBuf::from(config_file), destination, ..Default::default() };
    let config = crate::config::Config::load(&opts).ok()?;
    let command = config.aliases().into_iter().find(|(n, _)| n == name).map(|(_, c)| c)?;
    let words = shell_words::split(&command).ok()?;
    let at = args.iter().skip(1).position(|a| a == name)? + 1;
    Some(args[..at].iter().cloned().chain(words).chain(args[at + 1..].iter().cloned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(aliases: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("config")).unwrap();
        let yml = format!(
            "service: app\nimage: acme/app\nservers:\n  - 192.0.2.10\nregistry:\n  server: localhost:5555\nbuilder:\n  arch: amd64\naliases:\n{aliases}"
        );
        std::fs::write(d.path().join("config/deploy.yml"), yml).unwrap();
        d
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn an_alias_becomes_its_command_followed_by_the_arguments_given() {
        let d = app("  console: app exec -i --reuse \"bin/rails console\"\n  shell: console\n");
        let cfg = d.path().join("config/deploy.yml").display().to_string();
        let got = expand(&s(&["kdeck", "-c", &cfg, "console", "-r", "web"]), "console").unwrap();
        assert_eq!(got, s(&["kdeck", "-c", &cfg, "app", "exec", "-i", "--reuse", "bin/rails console", "-r", "web"]));
        assert_eq!(expand(&s(&["kdeck", "-c", &cfg, "nope"]), "nope"), None);
        assert_eq!(expand(&s(&["kdeck", "--config-file=/nonexistent.yml", "console"]), "console"), None);
    }
}
