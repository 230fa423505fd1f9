//! Differential test against the real `kamal` binary (Kamal 2.11): 200+ generated configs
//! (seeded RNG, deterministic) with roles, destinations, anchors/merge keys, ERB, secrets with
//! command substitution, YAML 1.1 booleans, per-host tags and some invalid input. For each,
//! one `kamal` process (with a small Ruby dump injected through RUBYOPT) prints
//! `Configuration#to_h` (what `kamal config` prints) plus a resolved view; kdeck must accept
//! exactly the same configs, print the same data and resolve the same env/proxy/boot values.
//! Without `kamal` on PATH: fails in CI (`CI` set), skips elsewhere.

use crate::support::config as config_support;

use config_support::{base_env, diff, kamal_bin, norm, parse_norm};
use kdeck::config::{dump, Config, LoadOptions, Map, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: usize = 210;
const CONCURRENCY: usize = 3;

/// Injected into kamal: builds the configuration like `kamal config` and prints both views.
const RUBY_DUMP: &str = r##"
if ENV["KDECK_DIFF_DUMP"] == "1"
  ENV.delete("RUBYOPT")
  require "kamal"
  require "yaml"
  def kd_clean(o)
    case o
    when Kamal::Utils::Sensitive then o.unredacted.to_s
    when Hash then o.each_with_object({}) { |(k, v), h| h[k.is_a?(Symbol) ? k.to_s : k] = kd_clean(v) }
    when Array then o.map { |v| kd_clean(v) }
    when Net::SSH::Proxy::Jump then { "jump_proxies" => o.jump_proxies }
    when Net::SSH::Proxy::Command then { "command_line_template" => o.command_line_template }
    else o
    end
  end
  def kd_safe
    kd_clean(yield)
  rescue Exception => e
    { "__error__" => "#{e.class}: #{e.message}" }
  end
  def kd_dump(dest)
    out = {}
    begin
      c = Kamal::Configuration.create_from(config_file: Pathname.new(File.expand_path("config/deploy.yml")), destination: dest, version: "diff-v1")
    rescue Exception => e
      out["accepted"] = false
      out["error"] = { "class" => e.class.name, "message" => e.message }
      return out
    end
    out["accepted"] = true
    out["config"] = kd_clean(c.to_h)
    out["secrets"] = kd_safe { c.secrets.to_h }
    out["boot"] = { "limit" => kd_safe { c.boot.limit }, "wait" => kd_safe { c.boot.wait } }
    out["roles"] = c.roles.map do |r|
      {
        "name" => r.name.to_s,
        "hosts" => r.hosts,
        "running_proxy" => r.running_proxy?,
        "cmd" => r.cmd,
        "option_args" => r.option_args,
        "labels" => r.labels,
        "logging_args" => r.logging_args,
        "env_by_host" => r.hosts.to_h { |h| [h, { "clear" => kd_safe { r.env(h).clear }, "secret_keys" => kd_safe { r.env(h).secret_keys }, "resolved" => kd_safe { r.env(h).to_h } }] },
        "env_tags_by_host" => r.hosts.to_h { |h| [h, r.env_tags(h).map(&:name)] },
        "proxy" => (r.running_proxy? ? { "deploy_options" => kd_safe { r.proxy.deploy_options }, "hosts" => kd_safe { r.proxy.hosts } } : nil)
      }
    end
    out["accessories"] = c.accessories.map { |a| { "name" => a.name.to_s, "hosts" => kd_safe { a.hosts }, "service_name" => a.service_name } }
    out["aliases"] = kd_safe { c.aliases.transform_values(&:command) }
    kd_clean(out)
  end
  base_env = ENV.to_h
  File.readlines(ENV.fetch("KDECK_DIFF_LIST"), chomp: true).each do |dir|
    next if dir.empty?
    ENV.replace(base_env)
    File.readlines(File.join(dir, "kdeck_env"), chomp: true).each do |l|
      k, v = l.split("=", 2)
      ENV[k] = v if k && !k.empty?
    end
    dest = File.exist?(File.join(dir, "kdeck_dest")) ? File.read(File.join(dir, "kdeck_dest")).strip : nil
    Dir.chdir(dir) do
      res = begin
        kd_dump(dest)
      rescue Exception => e
        { "accepted" => false, "error" => { "class" => e.class.name, "message" => e.message } }
      end
      File.write(File.join(dir, "kamal_out.yml"), res.to_yaml)
    end
  end
  exit! 0
end
"##;

// ------------------------------------------------------------------ generator

struct Gen {
    rng: StdRng,
}

impl Gen {
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.rng.gen_range(0..xs.len())]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }
    fn n(&mut self, lo: usize, hi: usize) -> usize {
        self.rng.gen_range(lo..=hi)
    }
}

struct Case {
    files: Vec<(String, String)>,
    env: Vec<(String, String)>,
    dest: Option<String>,
}

fn host(i: usize) -> String {
    format!("192.0.2.{}", 10 + i)
}

fn generate(seed: u64) -> Case {
    let mut g = Gen { rng: StdRng::seed_from_u64(seed) };
    let mut y = String::new();
    let mut env: Vec<(String, String)> = vec![("KDECK_SVC".into(), format!("app{seed}"))];
    let tags = ["eu", "us", "canary"];
    let bools_t = ["true", "yes", "on", "True"];
    let bools_f = ["false", "no", "off"];
    let use_erb = g.chance(0.4);
    let use_anchor = g.chance(0.35);
    if use_anchor {
        y.push_str("x-common: &common\n  cmd: bin/common\n  options:\n    memory: 1g\n");
        y.push_str("x-env: &shared_env\n  SHARED: \"1\"\n  LOG_LEVEL: from-anchor\n");
    }
    if g.chance(0.1) {
        y.push_str("primary_role: jobs\n");
    }
    if use_erb {
        y.push_str("service: <%= ENV[\"KDECK_SVC\"] %>\n");
    } else if g.chance(0.03) {
        y.push_str("service: Bad Name\n");
    } else {
        let _ = writeln!(y, "service: svc{seed}");
    }
    let _ = writeln!(y, "image: acme/img{}", g.n(0, 9));
    // servers
    let list_form = g.chance(0.3);
    let mut roles: Vec<String> = Vec::new();
    let mut hi = 0;
    if list_form {
        y.push_str("servers:\n");
        for _ in 0..g.n(1, 3) {
            if g.chance(0.3) {
                let _ = writeln!(y, "  - {}: {}", host(hi), g.pick(&tags));
            } else {
                let _ = writeln!(y, "  - {}", host(hi));
            }
            hi += 1;
        }
        roles.push("web".into());
    } else {
        y.push_str("servers:\n");
        let names = ["web", "jobs", "cron", "admin"];
        let nroles = g.n(1, 3);
        for (ri, name) in names.iter().take(nroles).enumerate() {
            roles.push(name.to_string());
            if ri > 0 && g.chance(0.2) {
                // A role given as a plain host list.
                let _ = writeln!(y, "  {name}:\n    - {}", host(hi));
                hi += 1;
                continue;
            }
            let _ = writeln!(y, "  {name}:");
            if ri > 0 && use_anchor && g.chance(0.6) {
                y.push_str("    <<: *common\n");
            }
            y.push_str("    hosts:\n");
            let nh = if g.chance(0.02) { 0 } else { g.n(1, 3) };
            for _ in 0..nh {
                let r = g.n(0, 9);
                if r < 2 {
                    let _ = writeln!(y, "      - {}: [{}, {}]", host(hi), g.pick(&tags), g.pick(&tags));
                } else if r < 4 {
                    let _ = writeln!(y, "      - {}: {}", host(hi), g.pick(&tags));
                } else if r == 4 && g.chance(0.1) {
                    let _ = writeln!(y, "      - {}: a\n        {}: b", host(hi), host(hi + 50));
                } else {
                    let _ = writeln!(y, "      - {}", host(hi));
                }
                hi += 1;
            }
            if ri > 0 && g.chance(0.3) {
                let _ = writeln!(y, "    cmd: bin/{name}");
            }
            if g.chance(0.3) {
                let _ = writeln!(y, "    env:\n      clear:\n        ROLE_{}: \"{}\"", name.to_uppercase(), g.n(0, 99));
                if g.chance(0.4) {
                    y.push_str("      secret:\n        - ROLE_SECRET\n");
                }
            }
            if ri > 0 && g.chance(0.3) {
                let _ = writeln!(y, "    proxy: {}", g.pick(&bools_t));
            } else if ri == 0 && g.chance(0.1) {
                let _ = writeln!(y, "    proxy: {}", g.pick(&bools_f));
            }
            if g.chance(0.15) {
                let _ = writeln!(y, "    labels:\n      team: t{}", g.n(0, 5));
            }
            if g.chance(0.1) {
                let _ = writeln!(y, "    options:\n      cpus: {}", g.n(1, 4));
            }
        }
        if g.chance(0.1) {
            y.push_str("allow_empty_roles: true\n");
        }
    }
    // env with tags
    y.push_str("env:\n  clear:\n");
    if use_anchor && g.chance(0.5) {
        y.push_str("    <<: *shared_env\n");
    }
    let _ = writeln!(y, "    LOG_LEVEL: {}", g.pick(&["info", "yes", "off", "0755", "1:30", "1.5", ":sym", "'quoted'", "info", "debug"]));
    if use_erb {
        y.push_str("    FROM_ERB: <%= ENV.fetch(\"KDECK_MAYBE\", \"dflt\") %>\n");
        if g.chance(0.5) {
            env.push(("KDECK_MAYBE".into(), "set".into()));
        }
        y.push_str("<% if ENV[\"KDECK_FLAG\"] == \"1\" -%>\n    FLAG_ON: \"1\"\n<% else -%>\n    FLAG_ON: \"0\"\n<% end -%>\n");
        if g.chance(0.5) {
            env.push(("KDECK_FLAG".into(), "1".into()));
        }
    }
    y.push_str("  secret:\n    - DB_PASSWORD\n");
    if g.chance(0.3) {
        y.push_str("    - DB_URL:DATABASE_URL\n");
    }
    if g.chance(0.5) {
        y.push_str("  tags:\n    eu:\n      REGION: eu-west\n    canary:\n      clear:\n        LOG_LEVEL: debug\n      secret:\n        - CANARY_TOKEN\n");
    }
    // registry
    let reg = g.n(0, 9);
    if reg == 0 {
        y.push_str("registry:\n  server: localhost:5555\n");
    } else {
        y.push_str("registry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\n");
        if g.chance(0.3) {
            y.push_str("  server: ghcr.io\n");
        }
    }
    y.push_str("builder:\n  arch: amd64\n");
    // proxy
    if g.chance(0.5) {
        y.push_str("proxy:\n");
        if g.chance(0.6) {
            let _ = writeln!(y, "  app_port: {}", g.pick(&["3000", "8080", "80"]));
        } else if g.chance(0.9) {
            y.push_str("  ssl_redirect: false\n");
        }
        if g.chance(0.3) {
            y.push_str("  host: app.example.com\n");
            if g.chance(0.3) {
                let _ = writeln!(y, "  ssl: {}", g.pick(&bools_t));
            }
        } else if g.chance(0.1) {
            y.push_str("  ssl: true\n");
        }
        if g.chance(0.3) {
            let _ = writeln!(y, "  healthcheck:\n    path: /up\n    interval: {}", g.n(1, 5));
        }
        if g.chance(0.2) {
            let _ = writeln!(y, "  buffering:\n    requests: {}\n    max_request_body: {}", g.pick(&bools_f), g.n(1000, 9999));
        }
        if g.chance(0.2) {
            y.push_str("  response_timeout: 10\n  forward_headers: true\n");
        }
        if g.chance(0.15) {
            y.push_str("  path_prefix: /api,/v2\n  strip_path_prefix: false\n");
        }
        if g.chance(0.1) {
            y.push_str("  logging:\n    request_headers: [X-Request-ID]\n    response_headers: [X-Runtime]\n");
        }
    }
    if g.chance(0.3) {
        let _ = writeln!(y, "boot:\n  limit: {}\n  wait: {}", g.pick(&["25%", "50%", "1", "3", "10%"]), g.n(1, 5));
    }
    if g.chance(0.2) {
        let _ = writeln!(y, "ssh:\n  user: {}\n  port: {}", g.pick(&["app", "deploy"]), g.pick(&["22", "2222"]));
        if g.chance(0.5) {
            y.push_str("  proxy: bastion.example.com\n");
        }
        if g.chance(0.3) {
            y.push_str("  keys_only: true\n  keys: [\"~/.ssh/id\"]\n");
        } else if g.chance(0.2) {
            y.push_str("  proxy_command: ssh -W %h:%p jump\n  log_level: debug\n");
        }
    }
    if g.chance(0.25) {
        y.push_str("accessories:\n  db:\n    image: mysql:8.0\n");
        match g.n(0, 6) {
            0 => {
                let _ = writeln!(y, "    host: {}", host(0));
            }
            1 => y.push_str("    roles:\n      - web\n"),
            // (`tags` with `servers` as a plain list: Kamal yields a nil host; kdeck refuses — see README.)
            2 if !list_form => y.push_str("    tags:\n      - eu\n"),
            4 if list_form => y.push_str("    tag: eu\n"),
            3 => {
                let _ = writeln!(y, "    hosts:\n      - {}\n      - {}", host(1), host(90));
            }
            5 | 6 => y.push_str("    role: web\n"),
            _ => {}
        }
        if g.chance(0.3) {
            y.push_str("    port: 3306\n    env:\n      clear:\n        MYSQL_DB: app\n");
        }
    }
    if g.chance(0.15) {
        y.push_str("aliases:\n  shell: app exec -i bash\n");
        if g.chance(0.15) {
            y.push_str("  Bad: deploy\n");
        } else if g.chance(0.3) {
            y.push_str("  answer: 42\n");
        }
    }
    if g.chance(0.15) {
        let _ = writeln!(y, "readiness_delay: {}\ndeploy_timeout: {}\nretain_containers: {}", g.n(1, 20), g.n(10, 60), g.n(1, 9));
    }
    if g.chance(0.05) {
        y.push_str("healthcheck:\n  path: /up\n");
    }
    if g.chance(0.04) {
        y.push_str("unknown_key: 1\n");
    }
    match g.n(0, 60) {
        0 => y.push_str("minimum_version: <%= ENV.fetch(\"KDECK_NOPE\") %>\n"),
        1 => y.push_str("asset_path: *undefined_anchor\n"),
        2 => y.push_str("asset_path: <%= `kdeck-no-such-command` %>\n"),
        3 => y.push_str("asset_path: \"<%= `kdeck-no-such-command 2>/dev/null` %>x\"\n"),
        4 => y.push_str("minimum_version: 9.0.0\n"),
        5 => y.push_str("retain_containers: 0\n"),
        6 => y.push_str("hooks_output: loud\n"),
        _ => {}
    }
    if g.chance(0.04) {
        y.push_str("volumes: not-a-list\n");
    }
    if g.chance(0.1) {
        y.push_str("logging:\n  driver: json-file\n  options:\n    max-size: 50m\n");
    }
    let mut files = vec![("config/deploy.yml".to_string(), y)];
    // destination overlay
    let mut dest = None;
    if g.chance(0.4) {
        let d = g.pick(&["staging", "production"]).to_string();
        let mut o = String::new();
        if g.chance(0.5) {
            let _ = writeln!(o, "servers:\n  web:\n    hosts:\n      - {}", host(40));
        }
        if g.chance(0.5) {
            o.push_str("env:\n  clear:\n    LOG_LEVEL: warn\n    DEST_ONLY: \"yes\"\n");
        }
        if g.chance(0.3) {
            o.push_str("proxy:\n  app_port: 4000\n");
        }
        if g.chance(0.03) {
            o.push_str("labels: ~\n");
        }
        if g.chance(0.03) {
            o.push_str("env:\n  clear:\n    NIL_VALUE: ~\n");
        }
        if o.is_empty() && g.chance(0.85) {
            o.push_str("readiness_delay: 3\n");
        }
        if use_erb && g.chance(0.5) {
            o.push_str("# <%= ENV[\"KAMAL_DESTINATION\"] %>\nimage: acme/<%= ENV[\"KAMAL_DESTINATION\"] %>\n");
        }
        files.push((format!("config/deploy.{d}.yml"), o));
        if g.chance(0.7) {
            files.push((format!(".kamal/secrets.{d}"), "DB_PASSWORD=dest-$(echo pw)\nKAMAL_REGISTRY_PASSWORD=reg\n".into()));
        }
        dest = Some(d);
    }
    // secrets
    let mut s = String::new();
    s.push_str("KAMAL_REGISTRY_PASSWORD=$KDECK_REG\n");
    env.push(("KDECK_REG".into(), "from-env".into()));
    let _ = writeln!(s, "DB_PASSWORD=\"pw-$(echo {})\"", g.n(0, 999));
    s.push_str("DATABASE_URL=postgres://u:${DB_PASSWORD}@db/app\n");
    if g.chance(0.5) {
        s.push_str("CANARY_TOKEN=$(printf 'tok\\n')\n");
    }
    if g.chance(0.5) {
        s.push_str("ROLE_SECRET='single $NOT_EXPANDED'\n");
    }
    if g.chance(0.2) {
        s.push_str("DEFAULTED=${UNSET_X:-fallback}\n");
    }
    if g.chance(0.25) {
        s.push_str("FETCHED=$(kamal secrets fetch --adapter test --account a --from vault/app CANARY_TOKEN ROLE_SECRET)\n");
        s.push_str("CANARY_TOKEN=$(kamal secrets extract CANARY_TOKEN $FETCHED)\n");
        s.push_str("ROLE_SECRET=$(kamal secrets extract vault/app/ROLE_SECRET ${FETCHED})\n");
    }
    files.push((".kamal/secrets-common".into(), s));
    if g.chance(0.5) {
        files.push((".kamal/secrets".into(), "DB_PASSWORD=base-override\n".into()));
    }
    Case { files, env, dest }
}

// ------------------------------------------------------------------ compare

fn write_case(dir: &Path, c: &Case) {
    for (p, text) in &c.files {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
}

/// One kamal process per list of case dirs (kamal's start-up is the expensive part).
fn run_kamal_batch(bin: &Path, list: &Path, dump_rb: &Path, home: &Path) -> Result<(), String> {
    let mut cmd = Command::new(bin);
    cmd.arg("config").arg("--version=diff-v1").current_dir(home).env_clear();
    cmd.envs(base_env(home));
    // The pip launcher needs python on PATH; keep the test process's PATH after the base one.
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", format!("/usr/local/bin:/usr/bin:/bin:{}", p.to_string_lossy()));
    }
    cmd.env("KDECK_DIFF_DUMP", "1").env("RUBYOPT", format!("-r{}", dump_rb.display())).env("KDECK_DIFF_LIST", list);
    let out = cmd.output().map_err(|e| format!("cannot run kamal: {e}"))?;
    if !out.status.success() {
        return Err(format!("kamal batch failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

fn prepare(seed: u64, root: &Path) -> PathBuf {
    let c = generate(seed);
    let dir = root.join(format!("case{seed}"));
    write_case(&dir, &c);
    let env: String = c.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dir.join("kdeck_env"), env).unwrap();
    if let Some(d) = &c.dest {
        std::fs::write(dir.join("kdeck_dest"), d).unwrap();
    }
    dir
}

fn compare(seed: u64, root: &Path) -> Result<(), String> {
    let c = generate(seed);
    let dir = root.join(format!("case{seed}"));
    let home = root.join("home");
    let text = std::fs::read_to_string(dir.join("kamal_out.yml")).map_err(|e| format!("no kamal output: {e}"))?;
    let want = parse_norm(&text).map_err(|e| format!("kamal output unreadable ({e})"))?;
    let wm = want.as_map().cloned().unwrap_or_default();
    let mut env = base_env(&home);
    env.extend(c.env.iter().cloned());
    let opts = LoadOptions {
        config_file: "config/deploy.yml".into(),
        destination: c.dest.clone(),
        version: Some("diff-v1".into()),
        cwd: Some(dir.clone()),
        env: Some(env),
    };
    let ours = Config::load(&opts);
    let accepted = wm.get("accepted") == Some(&Value::Bool(true));
    let cfg = match (accepted, ours) {
        (false, Err(e)) => {
            let msg = wm.get("error").and_then(Value::as_map).and_then(|m| m.get("message")).map(Value::to_rstring).unwrap_or_default();
            let path = msg.split_once(": ").map(|(p, _)| p).filter(|p| !p.contains(' '));
            // Kamal crashed (a Ruby error, not a validation message): any refusal matches.
            let class = wm.get("error").and_then(Value::as_map).and_then(|m| m.get("class")).map(Value::to_rstring).unwrap_or_default();
            let crashed = matches!(class.as_str(), "NoMethodError" | "TypeError");
            let yaml = class.starts_with("Psych::") && e.kind == kdeck::config::ErrorKind::Yaml;
            let ok = crashed
                || yaml
                || match path {
                    Some(p) => e.key.as_deref() == Some(p),
                    None => e.kamal_message().contains(&msg) || (msg.contains("specify a destination") && e.message.contains("specify a destination")),
                };
            return if ok { Ok(()) } else { Err(format!("both refuse, different error: kamal `{msg}`, kdeck `{e}`")) };
        }
        (false, Ok(_)) => {
            return Err(format!("kdeck accepts, kamal refuses: {}", wm.get("error").map(config_support::short).unwrap_or_default()));
        }
        (true, Err(e)) => return Err(format!("kdeck refuses, kamal accepts: {e}")),
        (true, Ok(cfg)) => cfg,
    };
    let got_cfg = norm(&dump::kamal_config_with(&cfg, true).map_err(|e| e.to_string())?);
    if let Some(d) = diff(wm.get("config").unwrap_or(&Value::Nil), &got_cfg, "config") {
        return Err(d);
    }
    let res = norm(&dump::resolved(&cfg, true));
    let rm = res.as_map().cloned().unwrap_or_default();
    let secrets_got = rm.get("secrets").and_then(Value::as_map).and_then(|m| m.get("values")).cloned().unwrap_or(Value::Nil);
    if let Some(d) = diff(wm.get("secrets").unwrap_or(&Value::Nil), &secrets_got, "secrets") {
        return Err(d);
    }
    let boot_got = rm
        .get("boot")
        .and_then(Value::as_map)
        .map(|b| Value::Map(Map(b.iter().filter(|(k, _)| k.as_str() != Some("parallel_roles")).map(|(k, v)| (k.clone(), v.clone())).collect())));
    if let Some(d) = diff(wm.get("boot").unwrap_or(&Value::Nil), &boot_got.unwrap_or(Value::Nil), "boot") {
        return Err(d);
    }
    // Roles: only the keys the Ruby side dumps.
    let want_roles = wm.get("roles").and_then(Value::as_seq).cloned().unwrap_or_default();
    let got_roles = rm.get("roles").and_then(Value::as_seq).cloned().unwrap_or_default();
    if want_roles.len() != got_roles.len() {
        return Err(format!("roles: want {} got {}", want_roles.len(), got_roles.len()));
    }
    for (w, g) in want_roles.iter().zip(got_roles.iter()) {
        let (Some(wr), Some(gr)) = (w.as_map(), g.as_map()) else { continue };
        let name = wr.get("name").map(Value::to_rstring).unwrap_or_default();
        for (k, wv) in wr.iter() {
            let key = k.to_rstring();
            let gv = if key == "proxy" {
                gr.get("proxy").and_then(Value::as_map).map(|p| {
                    Value::Map(Map(p
                        .iter()
                        .filter(|(k, _)| matches!(k.as_str(), Some("deploy_options") | Some("hosts")))
                        .map(|(a, b)| (a.clone(), b.clone()))
                        .collect()))
                })
            } else {
                gr.get(&key).cloned()
            };
            if let Some(d) = diff(wv, &gv.unwrap_or(Value::Nil), &format!("roles/{name}/{key}")) {
                return Err(d);
            }
        }
    }
    let want_acc = wm.get("accessories").and_then(Value::as_seq).cloned().unwrap_or_default();
    let got_acc = rm.get("accessories").and_then(Value::as_seq).cloned().unwrap_or_default();
    for (w, g) in want_acc.iter().zip(got_acc.iter()) {
        for key in ["name", "hosts", "service_name"] {
            let wv = w.as_map().and_then(|m| m.get(key)).cloned().unwrap_or(Value::Nil);
            let gv = g.as_map().and_then(|m| m.get(key)).cloned().unwrap_or(Value::Nil);
            if let Some(d) = diff(&wv, &gv, &format!("accessories/{key}")) {
                return Err(d);
            }
        }
    }
    if let Some(d) = diff(wm.get("aliases").unwrap_or(&Value::Nil), rm.get("aliases").unwrap_or(&Value::Nil), "aliases") {
        return Err(d);
    }
    Ok(())
}

#[test]
fn differential_against_kamal() {
    let Some(bin) = kamal_bin() else {
        if std::env::var_os("CI").is_some() {
            panic!("`kamal` (2.11) is not on PATH; scripts/install-deps installs it");
        }
        println!("differential: skipped (`kamal` not on PATH)");
        return;
    };
    let root = tempfile::Builder::new().prefix("kdeck-diff-").tempdir_in(std::env::temp_dir()).expect("tempdir");
    let dump_rb = root.path().join("kdeck_diff_dump.rb");
    std::fs::write(&dump_rb, RUBY_DUMP).unwrap();
    let cases: u64 = std::env::var("KDECK_DIFF_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES as u64);
    let seeds: Vec<u64> = (1..=cases).collect();
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dirs: Vec<PathBuf> = seeds.iter().map(|s| prepare(*s, root.path())).collect();
    // Kamal: a few processes, each working through its share of the cases.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..CONCURRENCY)
            .map(|i| {
                let list = root.path().join(format!("list{i}"));
                let mine: String = dirs.iter().enumerate().filter(|(j, _)| j % CONCURRENCY == i).map(|(_, d)| format!("{}\n", d.display())).collect();
                std::fs::write(&list, mine).unwrap();
                let (bin, dump_rb, home) = (bin.clone(), dump_rb.clone(), home.clone());
                s.spawn(move || run_kamal_batch(&bin, &list, &dump_rb, &home))
            })
            .collect();
        for h in handles {
            h.join().expect("thread").expect("kamal batch");
        }
    });
    let results: Vec<(u64, Result<(), String>)> = seeds
        .iter()
        .map(|seed| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compare(*seed, root.path()))).unwrap_or_else(|_| Err("PANIC".into()));
            (*seed, r)
        })
        .collect();
    let total = results.len();
    let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    for (seed, r) in &results {
        if let Err(e) = r {
            println!("MISMATCH seed {seed}: {e}");
        }
    }
    let accepted = seeds
        .iter()
        .filter(|s| std::fs::read_to_string(root.path().join(format!("case{s}/kamal_out.yml"))).is_ok_and(|t| t.contains("accepted: true")))
        .count();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for s in &seeds {
        let t = std::fs::read_to_string(root.path().join(format!("case{s}/kamal_out.yml"))).unwrap_or_default();
        if let Some(l) = t.lines().find(|l| l.trim_start().starts_with("message:")) {
            let m: String = l.trim_start().trim_start_matches("message:").trim().chars().take(60).collect();
            *reasons.entry(m).or_default() += 1;
        }
    }
    for (r, n) in &reasons {
        println!("  refused by kamal ({n}x): {r}");
    }
    println!("differential: {ok}/{total} generated configs match kamal ({accepted} accepted by kamal, {} refused)", total - accepted);
    assert_eq!(ok, total, "differential: {ok}/{total} generated configs match kamal");
}

/// Without `--version`: `git rev-parse HEAD`, plus `_uncommitted_<hex>` on a dirty tree only
/// when `builder.context` is set (Kamal otherwise builds from a clean clone).
#[test]
fn version_from_git_matches_kamal() {
    let Some(bin) = kamal_bin() else {
        if std::env::var_os("CI").is_some() {
            panic!("`kamal` (2.11) is not on PATH");
        }
        println!("differential version: skipped (`kamal` not on PATH)");
        return;
    };
    let root = tempfile::Builder::new().prefix("kdeck-diff-git-").tempdir_in(std::env::temp_dir()).expect("tempdir");
    let home = root.path().join("home");
    let dir = root.path().join("app");
    std::fs::create_dir_all(&home).unwrap();
    let yml = "service: app\nimage: acme/app\nservers: [192.0.2.10]\nregistry:\n  username: u\n  password: [P]\nbuilder:\n  arch: amd64\n";
    write_case(&dir, &Case { files: vec![("config/deploy.yml".into(), yml.into())], env: vec![], dest: None });
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&dir)
            .env("HOME", &home)
            .output()
            .expect("git");
        assert!(st.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&st.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "init"]);
    let kamal_version = || {
        let mut cmd = Command::new(&bin);
        cmd.arg("config").current_dir(&dir).env_clear().envs(base_env(&home));
        if let Some(p) = std::env::var_os("PATH") {
            cmd.env("PATH", format!("/usr/local/bin:/usr/bin:/bin:{}", p.to_string_lossy()));
        }
        let out = cmd.output().expect("kamal");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let v = parse_norm(&text).unwrap_or(Value::Nil);
        v.as_map().and_then(|m| m.get("version")).map(Value::to_rstring).unwrap_or_else(|| format!("<none: {text}>"))
    };
    let ours = || {
        let opts =
            LoadOptions { config_file: "config/deploy.yml".into(), destination: None, version: None, cwd: Some(dir.clone()), env: Some(base_env(&home)) };
        Config::load(&opts).expect("loads").version().expect("version").to_string()
    };
    // Clean tree.
    let (k, o) = (kamal_version(), ours());
    assert_eq!(k, o, "clean tree");
    assert_eq!(o.len(), 40);
    // Dirty tree, no builder.context: still the plain revision.
    std::fs::write(dir.join("dirty.txt"), "x").unwrap();
    let (k, o) = (kamal_version(), ours());
    assert_eq!(k, o, "dirty tree without builder.context");
    // Dirty tree with builder.context: `<rev>_uncommitted_<16 hex>` (random part differs).
    std::fs::write(dir.join("config/deploy.yml"), format!("{yml}  context: .\n")).unwrap();
    let (k, o) = (kamal_version(), ours());
    let prefix = |s: &str| s.split("_uncommitted_").next().unwrap_or("").to_string();
    assert!(k.contains("_uncommitted_") && o.contains("_uncommitted_"), "kamal {k} / kdeck {o}");
    assert_eq!(prefix(&k), prefix(&o));
    assert_eq!(k.len(), o.len());
}
