//! The local half of `deploy`/`redeploy`: build the app image and push it, as Kamal 2.11 does
//! (contract §deploy step 1): from a clean git clone of the committed tree unless
//! `builder.context` is set, tagged `<repo>:<version>` and `<repo>:<latest>`, labelled
//! `service=<svc>`, with `builder.args`, `builder.secrets`, `builder.target` and the
//! `builder.arch` platform. kdeck drives the local `docker build` + `docker push` (Kamal uses a
//! buildx `docker-container` builder, which needs an image from Docker Hub).

use crate::kamal::AppSpec;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// What to build, resolved from the app.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildPlan {
    /// Directory `docker build` runs in (the clone, or the app dir with `builder.context`).
    pub workdir: PathBuf,
    /// Full `docker build` arguments (secrets by id only).
    pub args: Vec<String>,
    /// Tags to push, in order.
    pub push: Vec<String>,
    /// Secret id → value, written to private files for `--secret id=…,src=…`.
    pub secrets: Vec<(String, String)>,
}

/// `docker build` arguments for `version`, built in `context` (relative to `workdir`).
pub fn build_args(app: &AppSpec, version: &str, secret_files: &[(String, PathBuf)]) -> Vec<String> {
    build_args_with(app, version, secret_files, false)
}

/// [`build_args`], with `--no-cache` before the context as Kamal places it.
pub fn build_args_with(app: &AppSpec, version: &str, secret_files: &[(String, PathBuf)], no_cache: bool) -> Vec<String> {
    let mut a = vec!["build".to_string(), "-t".into(), app.image_ref(version), "-t".into(), app.latest_image()];
    a.extend(["--label".into(), format!("service={}", app.service)]);
    if let [arch] = app.build.arch.as_slice() {
        a.extend(["--platform".into(), format!("linux/{arch}")]);
    }
    for (k, v) in &app.build.args {
        a.extend(["--build-arg".into(), format!("{k}={v}")]);
    }
    for (id, path) in secret_files {
        a.extend(["--secret".into(), format!("id={id},src={}", path.display())]);
    }
    if let Some(t) = &app.build.target {
        a.extend(["--target".into(), t.clone()]);
    }
    a.extend(["--file".into(), app.dockerfile.clone()]);
    if no_cache {
        a.push("--no-cache".into());
    }
    a.push(app.context.clone());
    a
}

/// Why the local build cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("git is not installed locally ({0})")]
    GitMissing(std::io::Error),
    #[error("git {args} failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("{} is not in a git repository: kdeck builds from a clean clone of the committed tree (set builder.context to build the directory as it is)", .0.display())]
    NotARepository(PathBuf),
    #[error("cannot create {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("Failed to clone repo: {0}")]
    Clone(String),
    #[error("Clone in {} is dirty, {status}", .dir.display())]
    DirtyClone { dir: PathBuf, status: String },
    #[error("Clone in {} is not on the correct revision, expected `{expected}` but got `{got}`", .dir.display())]
    WrongRevision { dir: PathBuf, expected: String, got: String },
    #[error("Secret '{0}' not found (builder/secrets)")]
    SecretMissing(String),
}

fn git(dir: &Path, args: &[&str]) -> Result<String, BuildError> {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).stdin(Stdio::null()).output().map_err(BuildError::GitMissing)?;
    if !out.status.success() {
        return Err(BuildError::Git { args: args.join(" "), stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where the clone of `root`'s repository lives (one per app dir, reused across builds).
pub fn clone_dir(app: &AppSpec, toplevel: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    toplevel.hash(&mut h);
    std::env::temp_dir().join("kdeck-clones").join(format!("{}-{:012x}", app.service, h.finish() & 0xffff_ffff_ffff))
}

/// Prepares the build directory: with `builder.context` the app dir itself; otherwise a clean
/// clone at the app repository's HEAD (uncommitted changes are not built, as with Kamal).
/// Returns the directory and a note for the operator (ignored uncommitted changes).
pub fn prepare_workdir(app: &AppSpec) -> Result<(PathBuf, Option<String>), BuildError> {
    if app.build.context_set {
        return Ok((app.root.clone(), None));
    }
    let root = &app.root;
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"]).map_err(|_| BuildError::NotARepository(root.clone()))?);
    let prefix = git(root, &["rev-parse", "--show-prefix"])?;
    let head = git(&top, &["rev-parse", "HEAD"])?;
    let dirty = git(&top, &["status", "--porcelain"])?;
    let note = (!dirty.is_empty()).then(|| format!("Building from a local git clone, so ignoring these uncommitted changes:\n{dirty}"));
    let dir = clone_dir(app, &top);
    let fresh = |dir: &Path| -> Result<(), BuildError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.parent().unwrap_or(dir)).map_err(|source| BuildError::CreateDir { path: dir.to_path_buf(), source })?;
        let out = std::process::Command::new("git")
            .arg("clone")
            .arg(&top)
            .arg(dir)
            .arg("--recurse-submodules")
            .stdin(Stdio::null())
            .output()
            .map_err(BuildError::GitMissing)?;
        if !out.status.success() {
            return Err(BuildError::Clone(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        Ok(())
    };
    let reset = |dir: &Path| -> Result<(), BuildError> {
        let t = top.to_string_lossy();
        git(dir, &["remote", "set-url", "origin", &t])?;
        git(dir, &["fetch", "origin"])?;
        git(dir, &["reset", "--hard", &head])?;
        git(dir, &["clean", "-fdx"])?;
        git(dir, &["submodule", "update", "--init"])?;
        Ok(())
    };
    let validate = |dir: &Path| -> Result<(), BuildError> {
        let st = git(dir, &["status", "--porcelain"])?;
        if !st.is_empty() {
            return Err(BuildError::DirtyClone { dir: dir.to_path_buf(), status: st });
        }
        let rev = git(dir, &["rev-parse", "HEAD"])?;
        if rev != head {
            return Err(BuildError::WrongRevision { dir: dir.to_path_buf(), expected: head.clone(), got: rev });
        }
        Ok(())
    };
    // Reuse the clone when it is there; anything wrong with it: start over once.
    // (A new clone is on the source's checked-out branch; the reset moves it to HEAD exactly.)
    let first = if dir.join(".git").exists() { reset(&dir) } else { fresh(&dir).and_then(|_| reset(&dir)) };
    if first.and_then(|_| validate(&dir)).is_err() {
        fresh(&dir)?;
        reset(&dir)?;
        validate(&dir)?;
    }
    Ok((dir.join(prefix), note))
}

/// The whole plan: workdir, `docker build` args, tags to push.
pub fn plan(app: &AppSpec, version: &str, secret_dir: &Path, no_cache: bool) -> Result<(BuildPlan, Option<String>), BuildError> {
    let (workdir, note) = prepare_workdir(app)?;
    let secrets: Vec<(String, String)> = app
        .build
        .secrets
        .iter()
        .map(|k| app.secrets.iter().find(|(n, _)| n == k).map(|(_, v)| (k.clone(), v.clone())).ok_or_else(|| BuildError::SecretMissing(k.clone())))
        .collect::<Result<_, _>>()?;
    let files: Vec<(String, PathBuf)> = secrets.iter().map(|(k, _)| (k.clone(), secret_dir.join(k))).collect();
    let args = build_args_with(app, version, &files, no_cache);
    Ok((BuildPlan { workdir, args, push: vec![app.image_ref(version), app.latest_image()], secrets }, note))
}

/// Writes the build secrets as 0600 files (removed with `dir`).
pub fn write_secret_files(plan: &BuildPlan, dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    for (k, v) in &plan.secrets {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dir.join(k))?;
        f.write_all(v.as_bytes())?;
    }
    Ok(())
}

/// Kamal's name of the local Docker's architecture, asked only when `builder.remote` is set
/// (empty when `docker info` fails, as Kamal's).
pub fn local_docker_arch(app: &AppSpec) -> String {
    if app.build.remote.is_none() {
        return String::new();
    }
    let probe = crate::kamal::cmd::builder::docker_arch_probe();
    match std::process::Command::new("sh").arg("-c").arg(probe).stdin(Stdio::null()).stderr(Stdio::null()).output() {
        Ok(o) if o.status.success() => crate::kamal::cmd::builder::docker_arch_name(&String::from_utf8_lossy(&o.stdout)),
        _ => String::new(),
    }
}

/// `build dev`'s warnings: files with uncommitted changes and untracked files (as git lists
/// them from the app dir), which the working-directory build includes.
pub fn dev_warnings(app: &AppSpec) -> Vec<String> {
    let list = |args: &[&str]| git(&app.root, args).map(|s| s.lines().map(str::to_string).filter(|l| !l.is_empty()).collect::<Vec<_>>()).unwrap_or_default();
    let mut out = vec![];
    for (what, args) in
        [("Files with uncommitted changes", &["ls-files", "--modified"][..]), ("Untracked files", &["ls-files", "--others", "--exclude-standard"][..])]
    {
        let mut files = list(args);
        files.sort();
        files.dedup();
        if !files.is_empty() {
            out.push(format!(
                "WARNING: {what} will be present in the dev container:\n{}",
                files.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    out
}

/// `docker build` arguments of `build dev` without buildx: the working directory, `tags`.
pub fn dev_classic_args(app: &AppSpec, tags: &[String], no_cache: bool) -> Vec<String> {
    let mut a = build_args_with(app, "", &[], no_cache);
    for (i, t) in tags.iter().take(2).enumerate() {
        a[2 + 2 * i] = t.clone();
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kamal::BuildOptions;

    #[test]
    fn build_args_like_kamal() {
        let mut app = AppSpec { service: "app".into(), image: "acme/app".into(), ..Default::default() };
        app.registry.server = Some("reg.example:5000".into());
        app.build = BuildOptions {
            arch: vec!["amd64".into()],
            args: vec![("RUBY_VERSION".into(), "3.3".into())],
            secrets: vec!["NPM_TOKEN".into()],
            target: Some("prod".into()),
            context_set: false,
            ..Default::default()
        };
        let a = build_args(&app, "abc", &[("NPM_TOKEN".into(), PathBuf::from("/tmp/s/NPM_TOKEN"))]);
        assert_eq!(
            a.join(" "),
            "build -t reg.example:5000/acme/app:abc -t reg.example:5000/acme/app:latest --label service=app --platform linux/amd64 \
             --build-arg RUBY_VERSION=3.3 --secret id=NPM_TOKEN,src=/tmp/s/NPM_TOKEN --target prod --file Dockerfile ."
        );
        // Multi-arch needs buildx: no --platform with a plain docker build.
        app.build.arch = vec!["amd64".into(), "arm64".into()];
        assert!(!build_args(&app, "abc", &[]).contains(&"--platform".to_string()));
        // --no-cache (deploy/redeploy/setup) goes just before the context, as Kamal's.
        let a = build_args_with(&app, "abc", &[], true);
        assert_eq!(a[a.len() - 2..], ["--no-cache".to_string(), ".".to_string()]);
        assert!(!build_args(&app, "abc", &[]).contains(&"--no-cache".to_string()));
        let dirty = ["reg.example:5000/acme/app:abc-dirty".to_string(), "reg.example:5000/acme/app:latest-dirty".to_string()];
        let a = dev_classic_args(&app, &dirty, false);
        assert_eq!(a[..5].join(" "), "build -t reg.example:5000/acme/app:abc-dirty -t reg.example:5000/acme/app:latest-dirty");
    }

    #[test]
    fn clone_ignores_uncommitted_changes_and_follows_head() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join("app")).unwrap();
        let g = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "user.email=t@t", "-c", "user.name=T"])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        g(&["init", "-q"]);
        std::fs::write(repo.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        g(&["add", "-A"]);
        g(&["commit", "-qm", "one"]);
        let mut app = AppSpec { service: format!("t{}", std::process::id()), root: repo.join("app"), ..Default::default() };
        // uncommitted: an edit and a new file
        std::fs::write(repo.join("app/Dockerfile"), "FROM scratch\nLABEL dirty=1\n").unwrap();
        std::fs::write(repo.join("app/new.txt"), "x").unwrap();
        let (dir, note) = prepare_workdir(&app).unwrap();
        assert!(dir.ends_with("app"), "{}", dir.display());
        assert_eq!(std::fs::read_to_string(dir.join("Dockerfile")).unwrap(), "FROM scratch\n");
        assert!(!dir.join("new.txt").exists());
        assert!(note.unwrap().contains("Dockerfile"));
        // A new commit: the reused clone moves to it.
        g(&["add", "-A"]);
        g(&["commit", "-qm", "two"]);
        let (dir, note) = prepare_workdir(&app).unwrap();
        assert!(note.is_none());
        assert!(std::fs::read_to_string(dir.join("Dockerfile")).unwrap().contains("dirty=1"));
        assert!(dir.join("new.txt").exists());
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
        // With builder.context: the app dir as it is.
        app.build.context_set = true;
        assert_eq!(prepare_workdir(&app).unwrap().0, app.root);
    }
}
