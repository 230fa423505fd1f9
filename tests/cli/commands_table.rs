//! README's table of Kamal 2.11 commands is true: every command real `kamal` lists has a row,
//! every row is a Kamal command, and a row's status says whether `kdeck` parses the command.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const GROUP: &str = "<group>";

fn kamal(args: &[&str]) -> String {
    let out = Command::new("kamal").args(args).output().unwrap_or_else(|e| panic!("real kamal is needed (scripts/install-deps installs it): {e}"));
    assert!(out.status.success(), "kamal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command words of a Thor command list (`  kamal app boot [NAME]  # …` → `app boot`).
fn listed(help: &str, prefix: &[&str]) -> Vec<String> {
    help.lines()
        .filter_map(|l| l.trim_start().strip_prefix("kamal "))
        .map(|l| l.split('#').next().unwrap_or("").split_whitespace().take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_')).collect::<Vec<_>>())
        .filter(|w| w.len() == prefix.len() + 1 && w.starts_with(prefix))
        .map(|w| w.join(" "))
        .collect()
}

/// Kamal's commands: the top-level ones that are not groups, and each group's subcommands
/// (a group's `help` and `tree` as the `<group>` rows).
fn kamal_commands() -> (BTreeSet<String>, Vec<String>) {
    let mut cmds = BTreeSet::new();
    let mut groups = vec![];
    for top in listed(&kamal(&["help"]), &[]) {
        let subs = listed(&kamal(&["help", &top]), &[&top]);
        if subs.is_empty() {
            cmds.insert(top);
            continue;
        }
        for s in subs {
            let sub = s.rsplit(' ').next().unwrap_or("").to_string();
            cmds.insert(if sub == "help" || sub == "tree" { format!("{GROUP} {sub}") } else { s });
        }
        groups.push(top);
    }
    (cmds, groups)
}

/// README's rows: (command words without `kamal`, status).
fn readme_rows() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let start = readme.find("<!-- kamal-commands:start -->").expect("table start marker");
    let end = readme.find("<!-- kamal-commands:end -->").expect("table end marker");
    readme[start..end]
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let cmd = cells.get(1)?.strip_prefix("`kamal ")?.strip_suffix('`')?;
            Some((cmd.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

/// Whether kdeck parses the command (`--help` of it; `help` rows run as they are).
fn kdeck_parses(words: &[&str]) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args: Vec<&str> = words.to_vec();
    if words.last() != Some(&"help") {
        args.push("--help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
        .arg("--log-file")
        .arg(dir.path().join("kdeck.log"))
        .args(&args)
        .current_dir(dir.path())
        .output()
        .expect("run kdeck");
    out.status.success()
}

#[test]
fn readme_command_table_has_a_row_for_every_kamal_command_and_no_other() {
    let (kamal, groups) = kamal_commands();
    assert!(kamal.contains("deploy") && kamal.contains("app boot") && groups.len() >= 5, "kamal's list was not read: {kamal:?}");
    let rows: BTreeSet<String> = readme_rows().into_iter().map(|(c, _)| c).collect();
    let missing: Vec<&String> = kamal.difference(&rows).collect();
    let extra: Vec<&String> = rows.difference(&kamal).collect();
    assert!(missing.is_empty(), "Kamal commands without a README row: {missing:?}");
    assert!(extra.is_empty(), "README rows that are not Kamal 2.11 commands: {extra:?}");
}

#[test]
fn readme_command_table_status_matches_what_kdeck_parses() {
    let (_, groups) = kamal_commands();
    let rows = readme_rows();
    assert!(rows.len() > 40, "the table was not read: {rows:?}");
    // `<group>` rows stand for each group kdeck has (one with a row marked same/differs).
    let claimed_status = |s: &str| s == "same" || s == "differs";
    let groups: Vec<&String> = groups.iter().filter(|g| rows.iter().any(|(c, s)| c.starts_with(&format!("{g} ")) && claimed_status(s))).collect();
    assert!(groups.len() >= 5, "{groups:?}");
    let mut wrong = vec![];
    for (cmd, status) in &rows {
        let claimed = match status.as_str() {
            "same" | "differs" => true,
            "planned" | "missing" => false,
            other => panic!("row `kamal {cmd}`: unknown status {other:?}"),
        };
        let expanded: Vec<String> = if cmd.starts_with(GROUP) { groups.iter().map(|g| cmd.replacen(GROUP, g, 1)).collect() } else { vec![cmd.clone()] };
        for c in expanded {
            let words: Vec<&str> = c.split(' ').collect();
            if kdeck_parses(&words) != claimed {
                wrong.push(format!("kamal {c}: README says {status}, kdeck {}", if claimed { "does not parse it" } else { "parses it" }));
            }
        }
    }
    assert!(wrong.is_empty(), "README table rows that are not true:\n{}", wrong.join("\n"));
}
