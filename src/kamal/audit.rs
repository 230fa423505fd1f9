//! Audit lines (§10): `[<UTC>] [<performer>][ [<dest>]][ [<role>]] <message>`.

use chrono::{DateTime, Utc};

pub fn line(at: DateTime<Utc>, performer: &str, destination: Option<&str>, role: Option<&str>, message: &str) -> String {
    let mut s = format!("[{}] [{performer}]", at.format("%Y-%m-%dT%H:%M:%SZ"));
    if let Some(d) = destination {
        s.push_str(&format!(" [{d}]"));
    }
    if let Some(r) = role {
        s.push_str(&format!(" [{r}]"));
    }
    s.push(' ');
    s.push_str(message);
    s
}

pub fn pulled(version: &str) -> String {
    format!("Pulled image with version {version}")
}
pub fn booted(version: &str) -> String {
    format!("Booted app version {version}")
}
pub fn renaming(version: &str, replaced: &str) -> String {
    format!("Renaming container {version} to {replaced}")
}
pub fn tagging(image: &str) -> String {
    format!("Tagging {image} as the latest image")
}
pub const PRUNED_CONTAINERS: &str = "Pruned containers";
pub const PRUNED_IMAGES: &str = "Pruned images";
pub const STOPPED_APP: &str = "Stopped app";
pub const REBOOTED_PROXY: &str = "Rebooted proxy";
pub fn started(version: &str) -> String {
    format!("Started app version {version}")
}
pub fn executed(cmd: &str, version: &str) -> String {
    format!("Executed cmd '{cmd}' on app version {version}")
}
pub const STARTED_PROXY: &str = "Started proxy";
pub const STOPPED_PROXY: &str = "Stopped proxy";
pub const REMOVED_PROXY_CONTAINER: &str = "Removed proxy container";
pub const REMOVED_PROXY_IMAGE: &str = "Removed proxy image";
pub const REMOVED_APP_CONTAINERS: &str = "Removed all app containers";
pub const REMOVED_APP_IMAGES: &str = "Removed all app images";
pub fn removed(path: &str) -> String {
    format!("Removed {path}")
}
pub fn executed_on_host(cmd: &str, host: &str) -> String {
    format!("Executed cmd '{cmd}' on {host}")
}
pub fn executed_on_accessory(cmd: &str, name: &str) -> String {
    format!("Executed cmd '{cmd}' on {name} accessory")
}
