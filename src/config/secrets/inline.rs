//! `$(kamal secrets fetch|extract …)` (or `kdeck secrets …`) inside a secrets file: Kamal runs
//! these in its own process with `--inline` instead of through a shell; so does kdeck, with the
//! same adapters as `kdeck secrets fetch`. Options are read the way Thor reads them: anywhere
//! among the arguments, `--name value` or `--name=value`; an unknown option is an argument.

use super::adapters::FetchRequest;
use super::kamal_cli::{extract, fetch_json, inline_json};
use super::vendor::{SecretsError, VendorEnv};

/// Kamal's test: the command starts with `kamal`, then `secrets` and a space (`kdeck` too).
pub fn is_kamal_secrets(cmd: &str) -> bool {
    let t = cmd.trim_start();
    let Some(rest) = t.strip_prefix("kamal").or_else(|| t.strip_prefix("kdeck")) else { return false };
    let Some(rest) = rest.trim_start().strip_prefix("secrets") else { return false };
    rest.starts_with(char::is_whitespace)
}

/// The options a `kamal secrets` command line gives, and its other arguments.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    adapter: Option<String>,
    account: Option<String>,
    from: Option<String>,
    args: Vec<String>,
}

/// Kamal's global options that take a value (read and ignored here).
const GLOBAL_WITH_VALUE: &[&str] = &["-c", "--config-file", "--config_file", "-d", "--destination", "-h", "--hosts", "-r", "--roles", "--version"];
/// Boolean options (the hidden `--inline` among them).
const BOOLEAN: &[&str] = &["--inline", "--no-inline", "-v", "--verbose", "-q", "--quiet", "-p", "--primary", "-H", "--skip-hooks", "--skip_hooks"];

fn parse(words: &[String]) -> Parsed {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let (name, inline_value) = match w.split_once('=') {
            Some((n, v)) if n.starts_with('-') => (n, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let slot = match name {
            "-a" | "--adapter" => Some(&mut p.adapter),
            "--account" => Some(&mut p.account),
            "--from" => Some(&mut p.from),
            _ => None,
        };
        let takes_value = slot.is_some() || GLOBAL_WITH_VALUE.contains(&name);
        if takes_value {
            let value = match inline_value {
                Some(v) => Some(v),
                None if i + 1 < words.len() => {
                    i += 1;
                    Some(words[i].clone())
                }
                None => None,
            };
            if let Some(slot) = slot {
                *slot = value;
            }
        } else if !BOOLEAN.contains(&name) {
            p.args.push(w.clone());
        }
        i += 1;
    }
    p
}

/// Run `kamal secrets fetch|extract …` in-process; the text `$(…)` is replaced by.
pub fn run_inline(cmd: &str, at: VendorEnv) -> Result<String, SecretsError> {
    let words = shell_words::split(cmd).map_err(|e| SecretsError::Usage(format!("cannot split the secrets command: {e}")))?;
    let sub = words.get(2).map(String::as_str).unwrap_or("");
    let p = parse(words.get(3..).unwrap_or(&[]));
    match sub {
        "fetch" => {
            let adapter = p.adapter.ok_or_else(|| SecretsError::Usage("secrets fetch: --adapter is required".into()))?;
            let req = FetchRequest { secrets: p.args, account: p.account, from: p.from };
            match fetch_json(&adapter, &req, at)? {
                Some(json) => Ok(chomp(inline_json(&json))),
                None => Err(SecretsError::Usage(format!("secrets fetch --adapter {adapter}: --account is required"))),
            }
        }
        "extract" => {
            let [name, json] = p.args.as_slice() else {
                return Err(SecretsError::Usage(format!("secrets extract takes NAME and SECRETS ({} arguments given)", p.args.len())));
            };
            match extract(name, json)? {
                super::json::Json::Str(s) => Ok(chomp(s)),
                _ => Err(SecretsError::Usage(format!("secrets extract: {name} is not a string"))),
            }
        }
        other => Err(SecretsError::Usage(format!("`secrets {other}` cannot run inside a secrets file (only fetch and extract)"))),
    }
}

/// Ruby's `chomp`: one trailing `\r\n`, `\n` or `\r`.
fn chomp(s: String) -> String {
    s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n')).or_else(|| s.strip_suffix('\r')).map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap()
    }

    #[test]
    fn options_anywhere_and_unknown_ones_are_arguments() {
        let p = parse(&words("A --from=v/app -a 1password B --account me --inline -d prod --bogus C"));
        assert_eq!(p, Parsed { adapter: Some("1password".into()), account: Some("me".into()), from: Some("v/app".into()), args: words("A B --bogus C") });
    }

    #[test]
    fn recognises_kamal_and_kdeck_secrets_commands() {
        assert!(is_kamal_secrets("  kamal secrets fetch"));
        assert!(is_kamal_secrets("kdeck  secrets\textract"));
        assert!(!is_kamal_secrets("kamal secretsfetch"));
        assert!(!is_kamal_secrets("echo kamal secrets fetch"));
    }

    #[test]
    fn inline_test_adapter_and_extract_round_trip() {
        let env = std::collections::BTreeMap::new();
        let at = VendorEnv { env: &env, cwd: std::path::Path::new("/") };
        let s = run_inline("kamal secrets fetch --adapter test --account a --from v/app 'K 1' K2", at).unwrap();
        assert_eq!(s, "\\{\\\"v/app/K\\ 1\\\":\\\"1\\ K/ppa/v\\\",\\\"v/app/K2\\\":\\\"2K/ppa/v\\\"\\}");
        assert_eq!(run_inline(&format!("kamal secrets extract 'K 1' {s}"), at).unwrap(), "1 K/ppa/v");
        assert!(run_inline("kamal secrets fetch --adapter test K", at).is_err(), "account required");
        assert!(run_inline("kamal secrets print", at).is_err());
    }
}
