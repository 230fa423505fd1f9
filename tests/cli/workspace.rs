//! `kdeck workspace`: a bad workspace file stops before the screen opens, with an error naming
//! the file and the key and exit status 1; the file is found through `XDG_CONFIG_HOME`.

use std::process::{Command, Stdio};

fn kdeck(args: &[&str], xdg: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
        .args(args)
        .arg("--log-file")
        .arg(xdg.join("kdeck.log"))
        .env("XDG_CONFIG_HOME", xdg)
        .stdin(Stdio::null())
        .output()
        .expect("run kdeck");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked") && !stderr.contains("\x1b[?1049h"), "no panic, the screen never opened: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_bad_workspace_file_names_the_file_and_key_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kdeck/workspace.toml");
    // None yet: the error names where it was looked for ($XDG_CONFIG_HOME/kdeck/workspace.toml).
    let (code, err) = kdeck(&["workspace"], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{}: cannot read the workspace file", file.display())), "{err}");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "[[app]]\ndir = \"/nonexistent/kdeck-app\"\n").unwrap();
    let (code, err) = kdeck(&["workspace"], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{}: app[0].dir: /nonexistent/kdeck-app is not a directory", file.display())), "{err}");
    std::fs::write(&file, "[[app]]\ndir = \"/tmp\"\ndestination = [\"x\"]\n").unwrap();
    let (code, err) = kdeck(&["workspace"], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 3") && err.contains("unknown field `destination`"), "{err}");
    let other = tmp.path().join("other.toml");
    std::fs::write(&other, "").unwrap();
    let (code, err) = kdeck(&["workspace", "--file", other.to_str().unwrap()], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{}: no app", other.display())), "{err}");
    let (code, err) = kdeck(&["workspace", "-d", "staging"], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("-d does not apply"), "{err}");
}
