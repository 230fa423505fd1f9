//! `kdeck build …` without a lab: options, and the local docker commands, checked against a
//! `docker` stand-in on PATH that logs its argv (and `NPM` from its environment) and succeeds.
//! The expected lines are those real Kamal 2.11 ran against the same stand-in and config, but
//! for `docker login`: kdeck gives the password on stdin, not as `-p` on the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

const APP: &str = "service: app\nimage: acme/app\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  server: reg.example:5000\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\n  secrets:\n    - NPM\n  args:\n    FOO: b ar\n";
const PASSWORD: &str = "registry-pw-do-not-print";

struct Fixture {
    dir: tempfile::TempDir,
    bin: PathBuf,
    log: PathBuf,
}

fn fixture(builder_extra: &str) -> Fixture {
    let dir = tempfile::Builder::new().prefix("kdeck-cli-build-").tempdir().unwrap();
    let root = dir.path().join("app");
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::create_dir_all(root.join(".kamal")).unwrap();
    std::fs::write(root.join("config/deploy.yml"), format!("{APP}{builder_extra}")).unwrap();
    std::fs::write(root.join(".kamal/secrets"), format!("KAMAL_REGISTRY_PASSWORD={PASSWORD}\nNPM=npm-token\n")).unwrap();
    std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git").current_dir(&root).args(["-c", "user.email=t@t", "-c", "user.name=T"]).args(args).output().unwrap().status.success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "app"]);
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("docker.log");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {log}\n[ \"$1 $2\" = \"buildx build\" ] && echo \"NPM=$NPM\" >> {log}\ncat > /dev/null <&0 2>/dev/null &\nexit 0\n",
        log = log.display()
    );
    std::fs::write(bin.join("docker"), script).unwrap();
    Command::new("chmod").arg("+x").arg(bin.join("docker")).status().unwrap();
    Fixture { dir, bin, log }
}

impl Fixture {
    fn root(&self) -> PathBuf {
        self.dir.path().join("app")
    }
    fn run(&self, args: &[&str]) -> (i32, String) {
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
            .args(args)
            .arg("--log-file")
            .arg(self.dir.path().join("kdeck.log"))
            .current_dir(self.root())
            .env("PATH", path)
            .env("TMPDIR", self.dir.path())
            .env_remove("VERSION")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
    fn docker_log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }
    fn head(&self) -> String {
        let out = Command::new("git").current_dir(self.root()).args(["rev-parse", "HEAD"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn help(d: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kdeck")).args(args).current_dir(d).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn build_subcommands_take_kamals_options() {
    let d = tempfile::tempdir().unwrap();
    let (code, out) = help(d.path(), &["build", "push", "--help"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("--output <export_type>") && out.contains("[default: registry]") && out.contains("--no-cache"), "{out}");
    let (_, out) = help(d.path(), &["build", "dev", "--help"]);
    assert!(out.contains("[default: docker]"), "{out}");
    let (code, out) = help(d.path(), &["build", "--help"]);
    assert_eq!(code, 0);
    for sub in ["push", "deliver", "pull", "create", "remove", "details", "dev"] {
        assert!(out.contains(sub), "{sub} missing: {out}");
    }
    // `deliver` and `pull` have no build options, as in Kamal.
    let (code, out) = help(d.path(), &["build", "deliver", "--output", "docker"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn build_push_runs_kamals_buildx_commands_with_secrets_in_the_environment_only() {
    let f = fixture("");
    let (code, out) = f.run(&["build", "push", "--no-cache"]);
    assert_eq!(code, 0, "{out}");
    let sha = f.head();
    let log = f.docker_log();
    let want = [
        "--version".to_string(),
        "buildx version".into(),
        "login reg.example:5000 -u acme --password-stdin".into(),
        "buildx inspect kamal-local-docker-container".into(),
        format!("buildx build --output=type=registry --platform linux/amd64 --builder kamal-local-docker-container -t reg.example:5000/acme/app:{sha} -t reg.example:5000/acme/app:latest --label service=app --build-arg FOO=b ar --secret id=NPM --file Dockerfile --no-cache ."),
        "NPM=npm-token".into(),
    ];
    assert_eq!(log, want, "{out}");
    assert!(!out.contains(PASSWORD) && !out.contains("npm-token") && !out.contains("b ar"), "a secret was printed: {out}");
    assert!(out.contains("--build-arg FOO=[REDACTED]"), "{out}");
}

#[test]
fn build_create_remove_and_details_run_kamals_builder_commands() {
    let f = fixture("  driver: docker-container\n");
    assert_eq!(f.run(&["build", "create"]).0, 0);
    assert_eq!(f.run(&["build", "remove"]).0, 0);
    let (code, out) = f.run(&["build", "details"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("Builder: local\n"), "{out}");
    assert_eq!(
        f.docker_log(),
        ["buildx create --name kamal-local-docker-container --driver=docker-container", "buildx rm kamal-local-docker-container", "context ls", "buildx ls"]
    );
}

#[test]
fn build_dev_builds_the_working_directory_tagged_dirty_and_warns_of_untracked_files() {
    let f = fixture("  driver: docker\n");
    std::fs::write(f.root().join("scratch.txt"), "x").unwrap();
    let (code, out) = f.run(&["build", "dev"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("WARNING: Untracked files will be present in the dev container:") && out.contains("scratch.txt"), "{out}");
    let sha = f.head();
    let log = f.docker_log();
    assert_eq!(
        log.get(2).map(String::as_str),
        Some(format!("buildx build --output=type=docker --platform linux/amd64 -t reg.example:5000/acme/app:{sha}-dirty -t reg.example:5000/acme/app:latest-dirty --label service=app --build-arg FOO=b ar --secret id=NPM --file Dockerfile .").as_str()),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("login")), "dev does not log in: {log:?}");
}
