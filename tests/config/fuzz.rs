//! A cheap, deterministic fuzzer for the config loader (no cargo-fuzz needed): corpus configs
//! and secrets files are mutated with a seeded RNG (byte flips, YAML/ERB/dotenv tokens, cut and
//! duplicated ranges, random bytes) and loaded, dumped and secret-checked. Nothing may panic.
//! `KDECK_FUZZ_SECS=600 cargo test --release --test config_fuzz -- --nocapture` runs longer.

use kdeck::config::{dump, Config, LoadOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

const TOKENS: &[&str] = &[
    "<%",
    "%>",
    "<%=",
    "-%>",
    "<%-",
    "<%#",
    "<% end %>",
    "<% if true %>",
    "ENV[\"X\"]",
    "ENV.fetch(\"X\")",
    "`echo`",
    "%x(",
    "#{",
    "<<: *a",
    "&a ",
    "*a",
    "*b",
    ": ",
    "- ",
    "\n  ",
    "\n",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "!!str ",
    "!!int ",
    "~",
    "yes",
    "no",
    ":sym",
    "0755",
    "1:30",
    "1e5",
    ".inf",
    "${X}",
    "$(",
    ")",
    "$X",
    "\\",
    "=",
    "export ",
    "#",
    "---\n",
    "...\n",
    "? ",
    "|\n  ",
    ">-\n  ",
    "servers:",
    "hosts:",
    "env:",
    "secret:",
    "tags:",
    "proxy:",
    "ssl: true",
    "host: a",
    "accessories:",
    "aliases:",
    "boot:",
    "limit: 10%",
    "registry:",
    "builder:",
    "arch: amd64",
    "\u{feff}",
    "\t",
    "\r\n",
    "\0",
    "é",
];

fn seeds() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = vec![(
        b"service: app\nimage: a/b\nservers:\n  web:\n    hosts:\n      - 1.2.3.4: [eu]\nregistry:\n  username: u\n  password: [P]\nbuilder:\n  arch: amd64\nenv:\n  secret: [S]\n  tags:\n    eu:\n      A: b\n".to_vec(),
        b"P=x\nS=$P-y\n".to_vec(),
    )];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/kamal-configs");
    if let Ok(rd) = std::fs::read_dir(&corpus) {
        let mut dirs: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            if let Ok(y) = std::fs::read(d.join("config/deploy.yml")) {
                let s = std::fs::read(d.join(".kamal/secrets")).or_else(|_| std::fs::read(d.join(".kamal/secrets-common"))).unwrap_or_default();
                out.push((y, s));
            }
        }
    }
    out
}

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.gen_range(1..8) {
        let pos = if v.is_empty() { 0 } else { rng.gen_range(0..=v.len()) };
        match rng.gen_range(0..6) {
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 | 2 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                v.splice(pos..pos, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let end = (pos + rng.gen_range(0..40)).min(v.len());
                v.drain(pos.min(end)..end);
            }
            4 if !v.is_empty() => {
                let a = rng.gen_range(0..v.len());
                let b = (a + rng.gen_range(0..60)).min(v.len());
                let chunk: Vec<u8> = v[a..b].to_vec();
                v.splice(pos..pos, chunk);
            }
            _ => {
                let n = rng.gen_range(1..8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                v.splice(pos..pos, bytes);
            }
        }
    }
    v
}

fn load_once(dir: &Path, yml: &[u8], overlay: Option<&[u8]>, secrets: &[u8]) {
    let _ = std::fs::create_dir_all(dir.join("config"));
    let _ = std::fs::create_dir_all(dir.join(".kamal"));
    std::fs::write(dir.join("config/deploy.yml"), yml).unwrap();
    std::fs::write(dir.join(".kamal/secrets-common"), secrets).unwrap();
    let dest = overlay.map(|o| {
        std::fs::write(dir.join("config/deploy.fz.yml"), o).unwrap();
        "fz".to_string()
    });
    let mut env = BTreeMap::new();
    env.insert("KDECK_DISABLE_COMMANDS".to_string(), "1".to_string());
    env.insert("X".to_string(), "x".to_string());
    let opts =
        LoadOptions { config_file: "config/deploy.yml".into(), destination: dest, version: Some("v".into()), cwd: Some(dir.to_path_buf()), env: Some(env) };
    if let Ok(cfg) = Config::load(&opts) {
        let _ = dump::kamal_config(&cfg);
        let v = dump::resolved(&cfg, true);
        let _ = kdeck::config::yaml::emit(&v);
        let _ = cfg.check_secrets();
        for r in cfg.roles() {
            for h in r.hosts() {
                let _ = r.env_for(h).clear_args();
            }
            if let Some(p) = r.proxy() {
                let _ = p.deploy_command_args("t");
            }
        }
    }
}

#[test]
fn mutated_configs_never_panic() {
    let secs: u64 = std::env::var("KDECK_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let iterations = if secs > 0 { usize::MAX } else { 1500 };
    let start = std::time::Instant::now();
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(0x006b_6465_636b);
    let dir = tempfile::Builder::new().prefix("kdeck-fuzz-").tempdir_in(std::env::temp_dir()).unwrap();
    let mut n = 0usize;
    while n < iterations {
        if secs > 0 && start.elapsed().as_secs() >= secs {
            break;
        }
        let (y, s) = &seeds[rng.gen_range(0..seeds.len())];
        let yml = mutate(&mut rng, y);
        let sec = mutate(&mut rng, s);
        let oi = rng.gen_range(0..seeds.len());
        let overlay = if rng.gen_bool(0.3) { Some(mutate(&mut rng, &seeds[oi].0)) } else { None };
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_once(dir.path(), &yml, overlay.as_deref(), &sec)));
        if res.is_err() {
            let keep = std::env::temp_dir().join(format!("kdeck-fuzz-crash-{n}"));
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::write(keep.join("deploy.yml"), &yml);
            let _ = std::fs::write(keep.join("secrets"), &sec);
            if let Some(o) = &overlay {
                let _ = std::fs::write(keep.join("deploy.fz.yml"), o);
            }
            panic!("loader panicked on input saved in {}", keep.display());
        }
        n += 1;
    }
    println!("fuzz: {n} mutated inputs, no panic ({}s)", start.elapsed().as_secs());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(42);
    let dir = tempfile::Builder::new().prefix("kdeck-fuzz-bytes-").tempdir_in(std::env::temp_dir()).unwrap();
    for _ in 0..300 {
        let n = rng.gen_range(0..512);
        let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        let sec: Vec<u8> = (0..rng.gen_range(0..128)).map(|_| rng.gen()).collect();
        load_once(dir.path(), &bytes, None, &sec);
    }
}
