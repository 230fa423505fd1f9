//! Every command real Kamal 2.11 has (`kamal help`, `kamal GROUP help`) is a kdeck command,
//! and every option Kamal lists for it (`kamal help CMD` / `kamal GROUP help CMD`: long name and
//! short letter) is one of kdeck's for the same command (`kdeck … --help`). Commands kdeck does
//! not have yet are listed here, exactly: adding one makes this test fail until it is removed
//! from the list.

use std::collections::BTreeSet;
use std::process::Command;

/// Kamal 2.11 commands kdeck does not have yet (none left).
const NOT_YET: &[&str] = &[];

fn run(bin: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin).args(args).current_dir(std::env::temp_dir()).output().unwrap_or_else(|e| panic!("{bin} {args:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `  kamal NAME …  # …` lines of a help listing → NAME (help and tree left out).
fn listed(help: &str, prefix: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| l.trim_start().strip_prefix(prefix))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|n| !matches!(*n, "help" | "tree"))
        .map(String::from)
        .collect()
}

/// Every Kamal command as its words (`["deploy"]`, `["app", "maintenance"]`).
fn kamal_commands() -> Vec<Vec<String>> {
    let (_, top) = run("kamal", &["help"]);
    let mut out = vec![];
    for name in listed(&top, "kamal ") {
        let (_, sub) = run("kamal", &[&name, "help"]);
        let subs = listed(&sub, &format!("kamal {name} "));
        if subs.is_empty() {
            out.push(vec![name]);
        } else {
            out.extend(subs.into_iter().map(|s| vec![name.clone(), s]));
        }
    }
    out
}

/// The options of a Kamal command: (long name, short letter) from its help's Options section.
fn kamal_options(words: &[String]) -> Vec<(String, Option<char>)> {
    let args: Vec<&str> = match words {
        [one] => vec!["help", one],
        [group, sub] => vec![group, "help", sub],
        _ => unreachable!(),
    };
    let (_, help) = run("kamal", &args);
    let re = regex::Regex::new(r"^\s+(?:-(\w), )?\[?--([a-z0-9_-]+)").unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .filter_map(|l| re.captures(l))
        .map(|c| (c[2].to_string(), c.get(1).and_then(|m| m.as_str().chars().next())))
        .collect()
}

#[test]
fn every_kamal_command_and_option_is_a_kdeck_one() {
    let commands = kamal_commands();
    assert!(commands.len() > 60, "kamal help listed only {commands:?}");
    let kdeck = env!("CARGO_BIN_EXE_kdeck");
    // One process per command; four at a time.
    let results: Vec<(String, Result<Vec<String>, ()>)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<Vec<String>>> = commands.chunks(commands.len().div_ceil(4)).map(<[_]>::to_vec).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|words| {
                            let name = words.join(" ");
                            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
                            args.push("--help");
                            let (ok, help) = run(kdeck, &args);
                            if !ok || !help.contains("Usage: kdeck") {
                                return (name, Err(()));
                            }
                            let missing = kamal_options(&words)
                                .into_iter()
                                .filter(|(long, short)| {
                                    let long_ok = help.contains(&format!("--{}", long.replace('_', "-")));
                                    let short_ok = short.is_none_or(|c| help.contains(&format!("-{c},")) || help.contains(&format!("-{c} ")));
                                    !(long_ok && short_ok)
                                })
                                .map(|(long, short)| format!("--{long}{}", short.map(|c| format!(" (-{c})")).unwrap_or_default()))
                                .collect();
                            (name, Ok(missing))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let absent: BTreeSet<String> = results.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| n.clone()).collect();
    let want: BTreeSet<String> = NOT_YET.iter().map(|s| s.to_string()).collect();
    assert_eq!(absent, want, "kdeck lacks these Kamal commands (left) / the list names commands kdeck now has (right)");
    let flags: Vec<String> = results.iter().filter_map(|(n, r)| r.as_ref().ok().filter(|m| !m.is_empty()).map(|m| format!("{n}: {}", m.join(", ")))).collect();
    assert!(flags.is_empty(), "Kamal options kdeck does not list:\n{}", flags.join("\n"));
}
