//! Passbolt (`passbolt`). `passbolt verify` must succeed. Secrets are `NAME` or
//! `FOLDER[/SUBFOLDER…]/NAME`: the folders are looked up first (`passbolt list folders --filter
//! 'Name == "F" || …' --json`, then each subfolder by name and parent id), then one `passbolt
//! list resources --filter '…' --folder ID… --json`. Keys are the resource names; a name not
//! found is an error. Filter strings are built exactly as Kamal builds them (names
//! shell-escaped, then Ruby-inspected, inside single quotes).

use super::{objects, Fetched, Json};
use crate::config::secrets::ruby::{inspect_str, ruby_shellescape, ruby_split};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

/// `name.shellescape.inspect`
fn quoted(s: &str) -> String {
    inspect_str(&ruby_shellescape(s))
}

fn id(folder: &Json) -> String {
    super::field_str(folder, "id")
}

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>) -> Result<Fetched, SecretsError> {
    v.check_installed("passbolt", "--version")?;
    v.ok(&Cmd::new("passbolt", "verify"), "could not log in")?;
    let secrets = super::prefixed(secrets, from);
    if secrets.is_empty() {
        return Err(SecretsError::Usage("passbolt: name the secrets to read".into()));
    }
    let mut names = vec![];
    for s in &secrets {
        names.push(*ruby_split(s, "/").last().ok_or_else(|| SecretsError::Usage(format!("passbolt: `{s}` names no secret")))?);
    }
    let folders = folders(v, &secrets)?;
    let mut conditions = vec![];
    for s in &secrets {
        let parts = ruby_split(s, "/");
        let name = parts.last().copied().unwrap_or_default();
        if parts.len() == 1 {
            conditions.push(format!("Name == {}", quoted(name)));
            continue;
        }
        let mut current = None;
        for depth in 1..parts.len() {
            let path = parts[..depth].join("/");
            if let Some(f) = folders.iter().find(|f| folder_path(f, &folders) == path) {
                current = Some(f);
            }
        }
        if let Some(f) = current {
            conditions.push(format!("(Name == {} && FolderParentID == {})", quoted(name), quoted(&id(f))));
        }
    }
    let filter = if conditions.is_empty() { String::new() } else { format!("--filter '{}'", conditions.join(" || ")) };
    let folder_args: Vec<String> = folders.iter().map(|f| format!("--folder {}", ruby_shellescape(&id(f)))).collect();
    let cmd = Cmd::new("passbolt", "list resources").raw(&filter).raw(&folder_args.join(" ")).raw("--json");
    let what = format!("could not read {}", secrets.join(", "));
    let out = v.ok(&cmd, &what)?;
    let json = v.json(&cmd, &what, &out)?;
    let items = objects(v, &cmd, &what, &json)?;
    let found: Vec<String> = items.iter().map(|i| super::field_str(i, "name")).collect();
    let missing: Vec<&str> = names.iter().copied().filter(|n| !found.iter().any(|f| f == n)).collect();
    if !missing.is_empty() {
        return Err(v.secret_error(format!("not found in Passbolt: {}", missing.join(", "))));
    }
    Ok(items.iter().map(|i| (super::field_str(i, "name"), i.get("password").cloned().unwrap_or(Json::Null))).collect())
}

/// The folders the secrets' paths name: the top-level ones by name, then each level below by
/// name and parent id. Every path must be found.
fn folders(v: &Vendor, secrets: &[String]) -> Result<Vec<Json>, SecretsError> {
    let mut paths: Vec<Vec<&str>> = vec![];
    for s in secrets.iter().filter(|s| s.contains('/')) {
        let parts = ruby_split(s, "/");
        let path = parts[..parts.len().saturating_sub(1)].to_vec();
        if path.is_empty() {
            return Err(SecretsError::Usage(format!("passbolt: `{s}` names no secret after its folder")));
        }
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Ok(vec![]);
    }
    let mut parents: Vec<&str> = vec![];
    for p in &paths {
        if !parents.contains(&p[0]) {
            parents.push(p[0]);
        }
    }
    let filter: Vec<String> = parents.iter().map(|n| format!("Name == {}", quoted(n))).collect();
    let cmd = Cmd::new("passbolt", "list folders").raw(&format!("--filter '{}'", filter.join(" || "))).raw("--json");
    let what = "could not read the folders";
    let out = v.ok(&cmd, what)?;
    let json = v.json(&cmd, what, &out)?;
    let top = objects(v, &cmd, what, &json)?.to_vec();
    let mut all = top.clone();
    for path in paths.iter().filter(|p| p.len() > 1) {
        let Some(mut current) = top.iter().find(|f| super::field_str(f, "name") == path[0]).cloned() else { continue };
        for name in &path[1..] {
            let filter = format!("--filter 'Name == {} && FolderParentID == {}'", quoted(name), quoted(&id(&current)));
            let cmd = Cmd::new("passbolt", "list folders").raw(&filter).raw("--json");
            let out = v.run(&cmd)?;
            if !out.ok {
                continue;
            }
            let json = v.json(&cmd, what, &out.stdout)?;
            let nested = objects(v, &cmd, what, &json)?;
            let Some(first) = nested.first() else { break };
            current = first.clone();
            all.extend(nested.iter().cloned());
        }
    }
    let found: Vec<String> = all.iter().map(|f| folder_path(f, &all)).collect();
    let missing: Vec<String> = paths.iter().map(|p| p.join("/")).filter(|p| !found.contains(p)).collect();
    if !missing.is_empty() {
        return Err(v.secret_error(format!("folders not found in Passbolt: {}", missing.join(", "))));
    }
    Ok(all)
}

/// A folder's path by its parents' names (as far as the parents are known).
fn folder_path(folder: &Json, all: &[Json]) -> String {
    let mut names = vec![super::field_str(folder, "name")];
    let mut cur = folder;
    // A cycle in the parent ids would loop; no real tree is this deep.
    for _ in 0..256 {
        let parent_id = super::field_str(cur, "folder_parent_id");
        if parent_id.is_empty() {
            break;
        }
        let Some(parent) = all.iter().find(|f| id(f) == parent_id) else { break };
        names.insert(0, super::field_str(parent, "name"));
        cur = parent;
    }
    names.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_paths_follow_parent_ids_and_stop_at_unknown_parents() {
        let all = Json::parse(r#"[{"id":"1","name":"a"},{"id":"2","name":"b","folder_parent_id":"1"},{"id":"3","name":"c","folder_parent_id":"9"}]"#).unwrap();
        let Json::Arr(all) = all else { unreachable!() };
        assert_eq!(folder_path(&all[1], &all), "a/b");
        assert_eq!(folder_path(&all[2], &all), "c");
    }

    #[test]
    fn filter_names_are_shell_escaped_then_inspected() {
        assert_eq!(quoted("my db"), "\"my\\\\ db\"");
        assert_eq!(quoted("plain"), "\"plain\"");
    }
}
