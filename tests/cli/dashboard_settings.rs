//! The dashboard's config file (`$XDG_CONFIG_HOME/kdeck/config.toml`): a bad one stops
//! `kdeck` before the screen is taken over, naming the file and the key, exit 1.

use std::process::{Command, Stdio};

#[test]
fn a_bad_config_file_names_file_and_key_and_exits_before_the_screen() {
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    std::fs::create_dir_all(xdg.join("kdeck")).unwrap();
    let file = xdg.join("kdeck/config.toml");
    for (text, key) in [("[keys.fleet]\nrow-stopp = \"S\"\n", "keys.fleet.row-stopp: no action"), ("notify = \"loud\"\n", "notify: \"loud\" is not one of")] {
        std::fs::write(&file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_kdeck"))
            .args(["dashboard", "-c", "/nonexistent/deploy.yml"])
            .env("XDG_CONFIG_HOME", &xdg)
            .env("HOME", home.path())
            .env_remove("KDECK_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run kdeck");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(stderr.contains(&format!("{}: {key}", file.display())), "{stderr}");
        assert!(!stdout.contains("\x1b[?1049h") && !stderr.contains("\x1b[?1049h"), "the screen was taken over");
        assert!(!stderr.contains("deploy.yml"), "the settings are read before the app's config: {stderr}");
    }
}
