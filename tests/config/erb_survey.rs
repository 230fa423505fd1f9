//! How much of the ERB that public Kamal configs use kdeck evaluates: every tag of a survey of
//! public `config/deploy*.yml` files (`erb_survey.tsv`), rendered per file (its tags in order,
//! so blocks and local variables work) by kdeck and by the Ruby inside real Kamal 2.11, twice:
//! with every ENV variable the file names set, and with none set (defaults, `KeyError`s). A
//! file counts when both runs give the same text or the same exception. The README states the
//! share this test measures; the test fails if it drops below that.

use super::erb_constructs::{fixture_dir, kdeck_render, ruby_render, same};
use crate::support::config::kamal_bin;
use std::collections::BTreeMap;

/// What the README states (files of 48, tags of 269).
const FILES_AT_LEAST: usize = 46;
const TAGS_AT_LEAST: usize = 259;

struct SurveyFile {
    name: String,
    tags: Vec<String>,
}

fn survey() -> Vec<SurveyFile> {
    let text = include_str!("erb_survey.tsv");
    let mut files: Vec<SurveyFile> = Vec::new();
    for l in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut cols = l.splitn(3, '\t');
        let (repo, path, tag) = (cols.next().unwrap(), cols.next().expect("path"), cols.next().expect("tag"));
        let name = format!("{repo}/{path}");
        let tag = tag.replace("\\n", "\n");
        match files.last_mut() {
            Some(f) if f.name == name => f.tags.push(tag),
            _ => files.push(SurveyFile { name, tags: vec![tag] }),
        }
    }
    files
}

/// The ENV names a template mentions (`ENV["X"]`, `ENV['X']`, `ENV.fetch("X"…)`).
fn env_names(src: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"ENV(?:\.fetch\(\s*|\[\s*)["']([A-Za-z0-9_]+)["']"#).unwrap();
    let mut names: Vec<String> = re.captures_iter(src).map(|c| c[1].to_string()).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn public_config_erb_renders_as_kamals_ruby_does() {
    let Some(bin) = kamal_bin() else {
        assert!(std::env::var_os("CI").is_none(), "`kamal` (2.11) is not on PATH; scripts/install-deps installs it");
        return;
    };
    let files = survey();
    let dir = fixture_dir();
    for f in [".node-version", ".redis-password"] {
        std::fs::write(dir.path().join(f), "fixture\n").unwrap();
    }
    let git = |args: &[&str]| std::process::Command::new("git").args(args).current_dir(dir.path()).output().expect("git");
    git(&["init", "-q"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "fixture"]);
    let mut cases: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for f in &files {
        let src = f.tags.join("\n");
        let set: BTreeMap<String, String> = env_names(&src).into_iter().map(|n| (n.clone(), format!("value-of-{}", n.to_lowercase()))).collect();
        cases.push((src.clone(), set));
        cases.push((src, BTreeMap::new()));
    }
    let ruby = ruby_render(&bin, dir.path(), &cases);
    let (mut files_ok, mut tags_ok, mut report) = (0, 0, Vec::new());
    for (i, f) in files.iter().enumerate() {
        let runs = [2 * i, 2 * i + 1];
        let diffs: Vec<String> = runs
            .iter()
            .filter_map(|&j| {
                let k = kdeck_render(dir.path(), &cases[j].0, &cases[j].1);
                (!same(&ruby[j], &k)).then(|| format!("ruby {:?}\n      kdeck {k:?}", ruby[j]))
            })
            .collect();
        if diffs.is_empty() {
            files_ok += 1;
            tags_ok += f.tags.len();
        } else {
            report.push(format!("  {} ({} tags):\n      {}", f.name, f.tags.len(), diffs[0]));
        }
    }
    let tags: usize = files.iter().map(|f| f.tags.len()).sum();
    println!("erb survey: {files_ok}/{} files, {tags_ok}/{tags} tags rendered as Kamal's Ruby does", files.len());
    for r in &report {
        println!("{r}");
    }
    assert!(
        files_ok >= FILES_AT_LEAST && tags_ok >= TAGS_AT_LEAST,
        "the README says {FILES_AT_LEAST} files / {TAGS_AT_LEAST} tags; now {files_ok} / {tags_ok}:\n{}",
        report.join("\n")
    );
}
