//! The Ruby that real configs put inside `<% %>`, rendered by kdeck and by the Ruby inside real
//! Kamal 2.11 (`ERB.new(src, trim_mode: "-").result`, as Kamal renders deploy.yml): the same
//! text, or the same exception class and message. One construct per case.

use crate::support::config::{base_env, kamal_bin};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Injected into kamal with `RUBYOPT=-r`: renders every case of a list, then exits.
const RUBY_RENDER: &str = r##"
if ENV["KDECK_ERB_LIST"]
  # What Kamal has loaded when it renders deploy.yml (ActiveSupport's core extensions too).
  require "kamal"
  require "erb"
  require "json"
  require "yaml"
  list, out_file = ENV.delete("KDECK_ERB_LIST"), ENV.delete("KDECK_ERB_OUT")
  ENV.delete("RUBYOPT")
  base = ENV.to_h
  results = JSON.parse(File.read(list)).map do |c|
    ENV.replace(base.merge(c["env"]))
    Dir.chdir(c["dir"]) do
      if c["yaml"]
        { "ok" => YAML.unsafe_load(c["src"]).inspect }
      else
        { "ok" => ERB.new(c["src"], trim_mode: "-").result }
      end
    rescue Exception => e
      { "err" => "#{e.class}: #{e.message}" }
    end
  end
  File.write(out_file, JSON.dump(results))
  exit! 0
end
"##;

/// (name, template, env)
type Case = (&'static str, &'static str, &'static [(&'static str, &'static str)]);
const CASES: &[Case] = &[
    ("env_index", r#"<%= ENV["A"] %>"#, &[("A", "1")]),
    ("env_fetch_default", r#"<%= ENV.fetch("NOPE", "d") %>"#, &[]),
    ("env_fetch_missing_is_a_key_error", r#"<%= ENV.fetch("NOPE") %>"#, &[]),
    ("env_fetch_block", r#"<%= ENV.fetch("NOPE") { "blk" } %>"#, &[]),
    ("or_default", r#"<%= ENV["NOPE"] || "fallback" %>"#, &[]),
    ("raise_unless_set", "<% raise \"NOPE must be set\" unless ENV[\"NOPE\"] %>\nservice: x\n", &[]),
    ("raise_unless_passes_when_set", "<% raise \"A must be set\" unless ENV[\"A\"] %>\nservice: x\n", &[("A", "1")]),
    ("raise_class_and_message_if", r#"<% raise ArgumentError, "bad #{ENV["A"]}" if ENV["A"] == "1" %>"#, &[("A", "1")]),
    ("fail_with_parens", r#"<% fail("nope") if true %>"#, &[]),
    ("raise_in_output_tag", r#"<%= raise "boom" %>"#, &[]),
    ("modifier_if_and_unless_on_output", r#"<%= "yes" if ENV["A"] %>|<%= "no" unless ENV["A"] %>"#, &[("A", "1")]),
    ("modifier_on_assignment", r#"<% x = "set" if ENV["A"] %><%= x %>"#, &[("A", "1")]),
    ("percent_format_one_argument", r#"<%= "%s.example.com" % ENV["A"] %>"#, &[("A", "web1")]),
    ("percent_format_array", r#"<%= "%s-%03d|%-4s|%4s|%+d" % ["web", 7, "ab", "cd", 5] %>"#, &[]),
    ("percent_format_bases_and_floats", r#"<%= "%x %X %o %b %#x %.2f %e" % [255, 255, 8, 5, 255, 3, 12345] %>"#, &[]),
    ("percent_format_integer_from_string", r#"<%= "%d" % ENV["A"] %>"#, &[("A", "42")]),
    ("percent_format_bad_integer", r#"<%= "%d" % ENV["A"] %>"#, &[("A", "abc")]),
    ("percent_format_too_few_arguments", r#"<%= "%s %s" % ["a"] %>"#, &[]),
    ("percent_modulo", "<%= 17 % 5 %>|<%= -7 % 3 %>", &[]),
    ("format_and_sprintf", r#"<%= format("%05d", 42) %>|<%= sprintf("%s/%s", "a", "b") %>"#, &[]),
    ("ternary", r#"<%= ENV["A"] == "1" ? "one" : "other" %>"#, &[("A", "2")]),
    ("if_else_block", "<% if ENV[\"A\"] == \"1\" -%>\na: 1\n<% else -%>\nb: 2\n<% end -%>\n", &[("A", "1")]),
    ("unless_block", "<% unless ENV[\"NOPE\"] -%>\nnone\n<% end -%>\n", &[]),
    ("each_over_split_env", "<% ENV.fetch(\"HOSTS\", \"h1,h2\").split(\",\").each do |h| -%>\n  - <%= h %>\n<% end -%>\n", &[]),
    ("file_read_strip", r#"<%= File.read(".ruby-version").strip %>"#, &[]),
    ("file_read_missing_is_enoent", r#"<%= File.read(".nope").strip %>"#, &[]),
    ("backticks_strip", "<%= `echo hi`.strip %>", &[]),
    ("dotenv_load", r#"<% require "dotenv"; Dotenv.load(".env") %><%= ENV["FROM_DOTENV"] %>"#, &[]),
    ("interpolation", r##"<%= "#{ENV["A"]}-x" %>"##, &[("A", "1")]),
    ("begin_rescue_swallows_a_raise", r#"<% begin; raise "x"; rescue; end %>ok"#, &[]),
    ("comment_tag", "<%# a comment %>x", &[]),
    ("float_literals_formatted", r#"<%= "%.2f|%08.3f|%s" % [1.005, -4.56789, 2.5] %>"#, &[]),
    ("ruby_version_is_kamals", "<%= RUBY_VERSION %>|<%= [1, \"a\", nil] %>", &[]),
    (
        "string_prefix_suffix_and_tr",
        r#"<%= "ruby-3.3".delete_prefix("ruby-") %>|<%= "a.yml".delete_suffix(".yml") %>|<%= "pr-12 x".tr("- ", "_") %>|<%= "abc".tr("a-c", "A-C") %>"#,
        &[],
    ),
    ("expand_path_of_home", r#"<%= File.expand_path("~/.ssh/id") %>"#, &[]),
    ("present_and_blank_from_active_support", r#"<%= "x".present? %>|<%= "".blank? %>|<%= nil.present? %>"#, &[]),
    ("to_json_as_the_json_gem", r#"<%= "a<b>&\"c\"".to_json %>|<%= ["x", 1, nil, true].to_json %>|<%= ENV["A"].to_json %>"#, &[("A", "pr \u{2028} title")]),
    ("string_methods", r#"<%= "A,B".downcase.split(",").join(" ") %>"#, &[]),
];

/// (name, document): YAML corners where Psych differs from a YAML 1.2 reader.
const YAML_CASES: &[(&str, &str)] = &[
    ("merge_key_plain_overwrites_earlier_keys", "b: &b {k: 1, j: 1}\nx:\n  k: 0\n  <<: *b\n  z: 3\n"),
    ("merge_key_double_quoted_still_merges", "b: &b {k: 1}\nx:\n  \"<<\": *b\n  j: 2\n"),
    ("merge_key_single_quoted_still_merges", "b: &b {k: 1}\nx:\n  '<<': *b\n"),
    ("merge_key_tagged_str_is_a_plain_key", "b: &b {k: 1}\nx:\n  !!str <<: *b\n"),
    ("merge_key_sequence_first_wins", "a: &a {k: 1}\nb: &b {k: 2, j: 1}\nc:\n  <<: [*a, *b]\n"),
    ("merge_key_with_a_scalar_is_a_key", "x:\n  <<: 1\n"),
    ("yaml11_booleans", "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: TRUE\n"),
    ("nulls", "a: ~\nb: null\nc:\nd: Null\ne: ''\n"),
    ("integers", "a: 0o17\nb: 017\nc: 0x1F\nd: 1_000\ne: 1,000\nf: 0b101\ng: +5\nh: -0\n"),
    ("sexagesimal", "a: 1:30\nb: 190:20:30\nc: 8080:80\n"),
    ("floats", "a: 1.5\nb: 1e3\nc: .5\nd: 1.0e+3\ne: .inf\nf: -.Inf\ng: 1_0.5\n"),
    ("symbols", "a: :sym\nb: \":quoted\"\nc: :\"with space\"\n"),
    ("keys_of_other_types", "1: a\n\"1\": b\n:s: c\ntrue: d\n"),
    ("explicit_tags", "a: !!int \"3\"\nb: !!str 3\nc: !!float 1\nd: !!str yes\n"),
    ("scalar_anchor_and_alias", "a: &x hello\nb: *x\nc: [*x, *x]\n"),
    ("block_scalars", "a: |\n  one\n  two\nb: >-\n  folded\n  line\n"),
];

/// Renders `(template, env)` pairs with the Ruby inside real Kamal, in `dir` (or, with `yaml`,
/// loads each as Psych does and inspects the result); one result each: `Ok(text)` or
/// `Err("Class: message")`.
pub fn ruby_render_mode(bin: &Path, dir: &Path, cases: &[(String, BTreeMap<String, String>)], yaml: bool) -> Vec<Result<String, String>> {
    let work = tempfile::tempdir().expect("tempdir");
    let (script, list, out) = (work.path().join("render.rb"), work.path().join("list.json"), work.path().join("out.json"));
    std::fs::write(&script, RUBY_RENDER).unwrap();
    let items: Vec<Json> = cases.iter().map(|(src, env)| serde_json::json!({ "src": src, "env": env, "dir": dir, "yaml": yaml })).collect();
    std::fs::write(&list, serde_json::to_string(&items).unwrap()).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("version").current_dir(dir).env_clear().envs(base_env(dir));
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", format!("/usr/local/bin:/usr/bin:/bin:{}", p.to_string_lossy()));
    }
    cmd.env("RUBYOPT", format!("-r{}", script.display())).env("KDECK_ERB_LIST", &list).env("KDECK_ERB_OUT", &out);
    let o = cmd.output().expect("run kamal");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("kamal wrote no results ({e}): {}", String::from_utf8_lossy(&o.stderr)));
    let parsed: Vec<Json> = serde_json::from_str(&text).expect("results json");
    parsed
        .into_iter()
        .map(|r| match (r.get("ok").and_then(Json::as_str), r.get("err").and_then(Json::as_str)) {
            (Some(t), _) => Ok(t.to_string()),
            (_, Some(e)) => Err(e.to_string()),
            _ => panic!("bad result {r}"),
        })
        .collect()
}

/// [`ruby_render_mode`] for ERB templates.
pub fn ruby_render(bin: &Path, dir: &Path, cases: &[(String, BTreeMap<String, String>)]) -> Vec<Result<String, String>> {
    ruby_render_mode(bin, dir, cases, false)
}

/// kdeck's rendering, with the same environment and directory.
pub fn kdeck_render(dir: &Path, src: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut env = base_env(dir).into_iter().chain(env.clone()).collect();
    let mut ctx = kdeck::config::erb::ErbContext { env: &mut env, cwd: dir, dir: dir.join("config"), file: PathBuf::from("config/deploy.yml") };
    kdeck::config::erb::render(src, &mut ctx).map_err(|e| e.to_string())
}

/// The fixture app dir: the files the cases read.
pub fn fixture_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::write(d.path().join(".ruby-version"), "3.3.7\n").unwrap();
    std::fs::write(d.path().join(".env"), "FROM_DOTENV=yes\n").unwrap();
    d
}

/// Whether kdeck's answer is Ruby's: the same text, or an error naming the same exception.
pub fn same(ruby: &Result<String, String>, kdeck: &Result<String, String>) -> bool {
    match (ruby, kdeck) {
        (Ok(a), Ok(b)) => a == b,
        (Err(class_msg), Err(k)) => k.contains(&format!("ERB failed: {class_msg}")),
        _ => false,
    }
}

#[test]
fn erb_constructs_render_as_kamals_ruby_does() {
    let Some(bin) = kamal_bin() else {
        assert!(std::env::var_os("CI").is_none(), "`kamal` (2.11) is not on PATH; scripts/install-deps installs it");
        println!("erb constructs: skipped (`kamal` not on PATH)");
        return;
    };
    let dir = fixture_dir();
    let cases: Vec<(String, BTreeMap<String, String>)> =
        CASES.iter().map(|(_, src, env)| (src.to_string(), env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())).collect();
    let ruby = ruby_render(&bin, dir.path(), &cases);
    let mut bad = Vec::new();
    for ((name, ..), ((src, env), r)) in CASES.iter().zip(cases.iter().zip(&ruby)) {
        let k = kdeck_render(dir.path(), src, env);
        if !same(r, &k) {
            bad.push(format!("{name}: ruby {r:?}\n   kdeck {k:?}"));
        }
    }
    assert!(bad.is_empty(), "{} of {} constructs differ from Ruby's ERB:\n{}", bad.len(), CASES.len(), bad.join("\n"));
}

#[test]
fn yaml_corners_load_as_psych_does() {
    let Some(bin) = kamal_bin() else {
        assert!(std::env::var_os("CI").is_none(), "`kamal` (2.11) is not on PATH; scripts/install-deps installs it");
        return;
    };
    let dir = fixture_dir();
    let cases: Vec<(String, BTreeMap<String, String>)> = YAML_CASES.iter().map(|(_, src)| (src.to_string(), BTreeMap::new())).collect();
    let ruby = ruby_render_mode(&bin, dir.path(), &cases, true);
    let mut bad = Vec::new();
    for ((name, src), r) in YAML_CASES.iter().zip(&ruby) {
        let k = kdeck::config::yaml::parse(src).map(|v| v.inspect()).map_err(|e| e.message);
        if r.as_ref().ok() != k.as_ref().ok() {
            bad.push(format!("{name}: psych {r:?}\n   kdeck {k:?}"));
        }
    }
    assert!(bad.is_empty(), "{} of {} YAML documents load differently from Psych:\n{}", bad.len(), YAML_CASES.len(), bad.join("\n"));
}
