//! Stand-ins for the password managers' CLIs (`op`, `bw`, `lpass`, …): one small Python script,
//! linked under each vendor's program name into a per-run `bin/` put first on PATH. It records
//! every call's argv (and `BW_SESSION`, which Bitwarden's session travels in) and answers from
//! the scenario's rules: the first rule whose words start the call's argv, optionally only
//! `once` (then the next matching rule answers). A call no rule answers exits 3.
//!
//! The same scenario is run through real `kamal secrets …` and through `kdeck secrets …` (each
//! in its own directory, so `once` counts are per run) to compare stdout, exit status and the
//! vendor calls.

use std::path::{Path, PathBuf};
use std::process::Command;

const STAND_IN: &str = r#"
import json, os, sys
prog = os.path.basename(sys.argv[0])
argv = [prog] + sys.argv[1:]
state = os.environ["STANDIN_STATE"]
rec = argv + (["BW_SESSION=" + os.environ["BW_SESSION"]] if "BW_SESSION" in os.environ else [])
with open(os.path.join(state, "calls"), "a") as f:
    f.write(json.dumps(rec) + "\n")
with open(os.environ["STANDIN_RULES"]) as f:
    rules = json.load(f)
for i, r in enumerate(rules):
    if argv[:len(r["argv"])] != r["argv"]:
        continue
    if r.get("once"):
        used = os.path.join(state, "used%d" % i)
        if os.path.exists(used):
            continue
        open(used, "w").close()
    sys.stdout.write(r["out"])
    sys.stderr.write(r["err"])
    sys.exit(r["code"])
sys.stderr.write("stand-in: no answer for %r\n" % (argv,))
sys.exit(3)
"#;

/// One answer of a stand-in.
#[derive(Debug, Clone)]
pub struct Rule {
    argv: Vec<String>,
    out: String,
    err: String,
    code: i32,
    once: bool,
}

/// `words` (split on spaces) answered with `out` on stdout, exit 0.
pub fn answer(words: &str, out: &str) -> Rule {
    Rule { argv: words.split(' ').map(String::from).collect(), out: out.into(), err: String::new(), code: 0, once: false }
}

/// An exact argv prefix (words that contain spaces) answered with `out`.
pub fn answer_argv(words: &[&str], out: &str) -> Rule {
    Rule { argv: words.iter().map(|w| w.to_string()).collect(), ..answer("", out) }
}

/// `words` failing with `err` on stderr and exit `code`.
pub fn failure(words: &str, code: i32, err: &str) -> Rule {
    Rule { code, err: err.into(), ..answer(words, "") }
}

impl Rule {
    /// Only the first matching call gets this answer.
    pub fn once(mut self) -> Rule {
        self.once = true;
        self
    }
}

/// The vendor programs that exist, their answers and extra environment.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub programs: Vec<&'static str>,
    pub rules: Vec<Rule>,
    pub env: Vec<(String, String)>,
}

impl Scenario {
    pub fn new(programs: &[&'static str], rules: Vec<Rule>) -> Scenario {
        Scenario { programs: programs.to_vec(), rules, env: vec![] }
    }
    pub fn env(mut self, k: &str, v: &str) -> Scenario {
        self.env.push((k.into(), v.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Kamal,
    Kdeck,
}

/// What one run gave.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Each vendor call's argv (program name first), in order.
    pub calls: Vec<Vec<String>>,
    /// kdeck's tracing file (empty for kamal).
    pub log: String,
}

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Put the scenario's stand-ins (in `dir/bin`, state and rules in `dir`) first on `c`'s PATH.
pub fn with_stand_ins(c: &mut Command, s: &Scenario, dir: &Path) {
    let bin = dir.join("bin");
    let state = dir.join("state");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let script = dir.join("stand-in");
    std::fs::write(&script, format!("#!{}\n{STAND_IN}", python())).unwrap();
    make_executable(&script);
    for p in &s.programs {
        std::os::unix::fs::symlink(&script, bin.join(p)).unwrap();
    }
    let rules: Vec<serde_json::Value> =
        s.rules.iter().map(|r| serde_json::json!({"argv": r.argv, "out": r.out, "err": r.err, "code": r.code, "once": r.once})).collect();
    let rules_file = dir.join("rules.json");
    std::fs::write(&rules_file, serde_json::to_string(&rules).unwrap()).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    c.env("PATH", path).env("STANDIN_STATE", &state).env("STANDIN_RULES", &rules_file);
    c.env_remove("BW_SESSION").env_remove("DOPPLER_TOKEN").envs(s.env.iter().cloned());
}

/// Run `kamal secrets ARGS…` or `kdeck secrets ARGS…` with the scenario's stand-ins first on
/// PATH, in `app` (an app directory) or a fresh empty one.
pub fn run(tool: Tool, s: &Scenario, args: &[String], app: Option<&Path>) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd: PathBuf = app.map_or_else(|| dir.path().join("app"), Path::to_path_buf);
    std::fs::create_dir_all(&cwd).unwrap();
    let log = dir.path().join("kdeck.log");
    let mut c = match tool {
        Tool::Kamal => Command::new(kamal_program()),
        Tool::Kdeck => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kdeck"));
            c.arg("--log-file").arg(&log).env("KDECK_LOG", "debug");
            c
        }
    };
    c.arg("secrets").args(args).current_dir(&cwd);
    with_stand_ins(&mut c, s, dir.path());
    let out = c.output().unwrap_or_else(|e| panic!("cannot run {tool:?} (real kamal is needed: scripts/install-deps installs it): {e}"));
    let calls = std::fs::read_to_string(dir.path().join("state/calls"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("stand-in call record"))
        .collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        calls,
        log: std::fs::read_to_string(&log).unwrap_or_default(),
    }
}

/// Real kamal. A pyenv shim would put its Python's `bin/` (which may hold a real `aws`) ahead
/// of the stand-ins on PATH, so the script the shim runs is called directly.
fn kamal_program() -> &'static Path {
    static P: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let shell = |cmd: &str| {
            Command::new("sh").arg("-c").arg(cmd).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let Some(found) = shell("command -v kamal") else { return PathBuf::from("kamal") };
        let shim = std::fs::read_to_string(&found).is_ok_and(|t| t.contains("pyenv") && t.contains("exec"));
        match shim.then(|| shell("pyenv which kamal")).flatten() {
            Some(real) => PathBuf::from(real),
            None => PathBuf::from(found),
        }
    })
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm).unwrap();
}

/// One invocation to compare: its name, scenario, arguments after `secrets`, and for a failing
/// one a word kdeck's error must contain.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub scenario: Scenario,
    pub args: Vec<String>,
    pub error_names: Option<String>,
}

pub fn case(name: &str, scenario: &Scenario, args: &[&str]) -> Case {
    Case { name: name.into(), scenario: scenario.clone(), args: args.iter().map(|s| s.to_string()).collect(), error_names: None }
}

impl Case {
    /// The run fails (in both); kdeck's error must contain `word`.
    pub fn fails_naming(mut self, word: &str) -> Case {
        self.error_names = Some(word.into());
        self
    }
}

/// Run every case through real kamal and kdeck (all at once, threads) and compare: same exit
/// status, same vendor calls, same stdout when kamal succeeds; a failure is kdeck's error on
/// stderr (Kamal prints `ERROR (…)` to stdout). No secret value (`S3CRET…`) ever reaches
/// kdeck's stderr or its log. Returns every difference found, and how many runs were compared.
pub fn compare_with_kamal(cases: &[Case], app: Option<&Path>) -> (Vec<String>, usize) {
    let results: Vec<(Run, Run)> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|c| {
                sc.spawn(move || {
                    let k = sc.spawn(move || run(Tool::Kamal, &c.scenario, &c.args, app));
                    let d = run(Tool::Kdeck, &c.scenario, &c.args, app);
                    (k.join().expect("kamal run"), d)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("case thread")).collect()
    });
    let mut problems = vec![];
    for (c, (k, d)) in cases.iter().zip(&results) {
        let mut p = vec![];
        if k.code != d.code {
            p.push(format!("exit status: kamal {} kdeck {}", k.code, d.code));
        }
        if k.calls != d.calls {
            p.push(format!("vendor calls:\n  kamal {:?}\n  kdeck {:?}", k.calls, d.calls));
        }
        match &c.error_names {
            None if k.code != 0 => p.push(format!("kamal failed: {}{}", k.stdout, k.stderr)),
            None if k.stdout != d.stdout => p.push(format!("stdout:\n  kamal {:?}\n  kdeck {:?}", k.stdout, d.stdout)),
            None => {}
            Some(word) => {
                if k.code == 0 || !k.stdout.contains("ERROR (") {
                    p.push(format!("kamal did not fail: {:?}", k.stdout));
                }
                if !d.stdout.is_empty() || !d.stderr.contains(word.as_str()) {
                    p.push(format!("kdeck's error should be on stderr and name {word:?}: stdout {:?} stderr {:?}", d.stdout, d.stderr));
                }
            }
        }
        if d.stderr.contains("S3CRET") || d.log.contains("S3CRET") {
            p.push(format!("a secret value in kdeck's stderr or log: {:?}", d.stderr));
        }
        if !p.is_empty() {
            problems.push(format!("{} (secrets {}):\n{}", c.name, c.args.join(" "), p.join("\n")));
        }
    }
    (problems, cases.len() * 2)
}

/// Fail with every difference, or report how many runs agreed.
pub fn assert_same_as_kamal(cases: &[Case], app: Option<&Path>) {
    let (problems, runs) = compare_with_kamal(cases, app);
    assert!(problems.is_empty(), "kdeck differs from real kamal:\n\n{}", problems.join("\n\n"));
    eprintln!("{runs} runs ({} invocations through kamal and kdeck) identical", runs / 2);
}
