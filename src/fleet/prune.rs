//! Prune preview with Kamal 2.11's `prune all` semantics (Kamal's `lib/kamal/commands/prune.rb`), per host:
//!
//! 1. stopped containers labelled `service=<svc>` (created/exited/dead, every role **and
//!    destination**), newest first, all but the first `retain_containers` are removed;
//! 2. `docker image prune --force --filter label=service=<svc>`: dangling (untagged) service
//!    images no container uses are removed;
//! 3. every `service=<svc>` image tag whose `<short id> <repo>:<tag>` line does not match
//!    (`grep -v -w`) a remaining container's image, `<repo>:<latest>` or `<repo>:<none>` is
//!    `docker rmi`-ed; the image goes when its last tag goes and no container uses it.
//!
//! Never touches images without the service label (other services). The reclaimed space is
//! what the deleted layers take that no remaining image shares, read from dockerd's layer
//! store sizes, plus the removed containers' writable layers.

use super::{raw, FleetError};
use crate::ssh::Session;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PContainer {
    pub id: String,
    pub name: String,
    /// What `docker ps` shows as `.Image` (the name it was created with, or the short image
    /// id once that name points elsewhere).
    pub image: String,
    pub image_id: String,
    pub state: String,
    pub created: i64,
    pub size_rw: u64,
    /// Has label `service=<svc>`.
    pub service: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PImage {
    /// `sha256:…`
    pub id: String,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub created: i64,
    pub size: u64,
    /// Has label `service=<svc>`.
    pub service: bool,
    /// RootFS diff ids, base first.
    pub layers: Vec<String>,
}

/// Everything the preview needs from one host.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HostState {
    pub containers: Vec<PContainer>,
    pub images: Vec<PImage>,
    /// Layer store: (parent chain id or "", diff id) → (chain id, size).
    pub layers: HashMap<(String, String), (String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PrunePlan {
    pub host: String,
    /// (id, name) of containers `docker rm`-ed.
    pub containers: Vec<(String, String)>,
    /// Dangling service images removed by `docker image prune` (ids).
    pub dangling_images: Vec<String>,
    /// Tags `docker rmi`-ed, in Kamal's order.
    pub untagged: Vec<String>,
    /// Images actually deleted (ids), including dangling ones.
    pub deleted_images: Vec<String>,
    pub containers_bytes: u64,
    pub images_bytes: u64,
    /// False when layer sizes were not readable and `images_bytes` is an estimate.
    pub exact: bool,
}

impl PrunePlan {
    pub fn reclaimed_bytes(&self) -> u64 {
        self.containers_bytes + self.images_bytes
    }
}

fn short_id(id: &str) -> &str {
    let s = id.strip_prefix("sha256:").unwrap_or(id);
    &s[..s.len().min(12)]
}

/// `docker image ls` lines (`{{.ID}} {{.Repository}}:{{.Tag}}`) of one image.
fn ls_lines(img: &PImage) -> Vec<(String, String)> {
    let id = short_id(&img.id).to_string();
    let tags: Vec<&String> = img.tags.iter().filter(|t| *t != "<none>:<none>").collect();
    if !tags.is_empty() {
        return tags.into_iter().map(|t| (format!("{id} {t}"), t.clone())).collect();
    }
    // Untagged: the CLI shows the repository of a digest with tag <none>.
    let repo = img.digests.first().and_then(|d| d.split_once('@')).map(|(r, _)| r.to_string()).unwrap_or_else(|| "<none>".into());
    let t = format!("{repo}:<none>");
    vec![(format!("{id} {t}"), t)]
}

/// GNU `grep -w` with a BRE alternation of literal-ish patterns (`.` matches any char, as in
/// Kamal's unescaped pattern).
fn grep_w(line: &str, patterns: &[String]) -> bool {
    let alts: Vec<String> = patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().map(|c| if c == '.' { ".".to_string() } else { regex::escape(&c.to_string()) }).collect())
        .collect();
    if alts.is_empty() {
        return false;
    }
    let re = regex::Regex::new(&format!("(?:^|[^A-Za-z0-9_])(?:{})(?:$|[^A-Za-z0-9_])", alts.join("|")));
    re.map(|r| r.is_match(line)).unwrap_or(false)
}

/// The preview for one host: exactly what `kamal prune all` would do there.
pub fn plan(host: &str, st: &HostState, repository: &str, latest_tag: &str, retain: usize) -> PrunePlan {
    let mut p = PrunePlan { host: host.into(), exact: !st.layers.is_empty(), ..Default::default() };
    // 1. containers: `docker ps -q -a` lists newest first.
    let mut stopped: Vec<&PContainer> = st.containers.iter().filter(|c| c.service && matches!(c.state.as_str(), "created" | "exited" | "dead")).collect();
    stopped.sort_by_key(|c| std::cmp::Reverse(c.created));
    let removed: HashSet<&str> = stopped.iter().skip(retain).map(|c| c.id.as_str()).collect();
    for c in stopped.iter().skip(retain) {
        p.containers.push((c.id.clone(), c.name.clone()));
        p.containers_bytes += c.size_rw;
    }
    let remaining: Vec<&PContainer> = st.containers.iter().filter(|c| !removed.contains(c.id.as_str())).collect();
    let in_use: HashSet<&str> = remaining.iter().map(|c| c.image_id.as_str()).collect();

    // 2. dangling service images no container uses.
    let mut images: Vec<PImage> = st.images.clone();
    let mut deleted: Vec<PImage> = Vec::new();
    images.retain(|i| {
        let dangling = i.tags.iter().all(|t| t == "<none>:<none>");
        if i.service && dangling && !in_use.contains(i.id.as_str()) {
            p.dangling_images.push(i.id.clone());
            deleted.push(i.clone());
            false
        } else {
            true
        }
    });

    // 3. rmi every unreferenced service tag.
    let mut patterns: Vec<String> = remaining.iter().filter(|c| c.service).map(|c| c.image.clone()).collect();
    patterns.push(format!("{repository}:{latest_tag}"));
    patterns.push(format!("{repository}:<none>"));
    let mut lines: Vec<(String, String, String)> = Vec::new(); // (line, tag, image id)
                                                               // `docker image ls` order: newest image first.
    let mut order: Vec<&PImage> = images.iter().filter(|i| i.service).collect();
    order.sort_by_key(|i| std::cmp::Reverse(i.created));
    for i in order {
        for (line, tag) in ls_lines(i) {
            lines.push((line, tag, i.id.clone()));
        }
    }
    for (line, tag, id) in lines {
        if grep_w(&line, &patterns) {
            continue;
        }
        let Some(img) = images.iter_mut().find(|i| i.id == id) else { continue };
        if !img.tags.contains(&tag) {
            continue; // `<none>` forms: rmi fails, nothing happens
        }
        if img.tags.len() > 1 {
            img.tags.retain(|t| *t != tag);
            p.untagged.push(tag);
        } else if !in_use.contains(img.id.as_str()) {
            p.untagged.push(tag);
            img.tags.clear();
            deleted.push(img.clone());
        }
        // else: last tag of an image a container uses → rmi refuses (conflict).
    }
    images.retain(|i| !deleted.iter().any(|d| d.id == i.id));
    p.deleted_images = deleted.iter().map(|d| d.id.clone()).collect();

    // Space: layers of deleted images that no remaining image references.
    if p.exact {
        let chains = |img: &PImage| -> Vec<(String, u64)> {
            let mut parent = String::new();
            let mut v = Vec::new();
            for d in &img.layers {
                match st.layers.get(&(parent.clone(), d.clone())) {
                    Some((chain, size)) => {
                        v.push((chain.clone(), *size));
                        parent = chain.clone();
                    }
                    None => break,
                }
            }
            v
        };
        let keep: HashSet<String> = images.iter().flat_map(|i| chains(i).into_iter().map(|c| c.0)).collect();
        let mut gone: HashMap<String, u64> = HashMap::new();
        for d in &deleted {
            for (c, s) in chains(d) {
                if !keep.contains(&c) {
                    gone.insert(c, s);
                }
            }
        }
        p.images_bytes = gone.values().sum();
    } else {
        p.images_bytes = deleted.iter().map(|d| d.size).sum();
    }
    p
}

/// Reads what the preview needs from a host: containers and images (raw API JSON, every
/// service, so shared layers and in-use images are seen) and the layer store sizes.
pub async fn gather(session: &Session, service: &str, cache: &mut HashMap<String, Vec<String>>) -> Result<HostState, FleetError> {
    let svc_label = format!("service={service}");
    let svc_containers = raw::get_json(session, &format!("/v1.41/containers/json?all=1&size=1&filters={}", raw::label_filters(&[&svc_label]))).await?;
    let all_containers = raw::get_json(session, "/v1.41/containers/json?all=1").await?;
    let svc_ids: HashSet<String> = svc_containers.as_array().into_iter().flatten().map(|c| raw::str_of(c, "Id")).collect();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for c in svc_containers.as_array().into_iter().flatten() {
        sizes.insert(raw::str_of(c, "Id"), raw::u64_of(c, "SizeRw"));
    }
    let containers = all_containers
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let id = raw::str_of(c, "Id");
            PContainer {
                name: raw::strs_of(c, "Names").first().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default(),
                image: raw::str_of(c, "Image"),
                image_id: raw::str_of(c, "ImageID"),
                state: raw::str_of(c, "State"),
                created: c.get("Created").and_then(|x| x.as_i64()).unwrap_or(0),
                size_rw: sizes.get(&id).copied().unwrap_or(0),
                service: svc_ids.contains(&id),
                id,
            }
        })
        .collect();
    let imgs = raw::get_json(session, "/v1.41/images/json").await?;
    let mut images = Vec::new();
    for i in imgs.as_array().into_iter().flatten() {
        let id = raw::str_of(i, "Id");
        let labels = i.get("Labels");
        let service_label = labels.and_then(|l| l.get("service")).and_then(|s| s.as_str()) == Some(service);
        if !cache.contains_key(&id) {
            let insp = raw::get_json(session, &format!("/v1.41/images/{}/json", raw::enc(&id))).await?;
            let layers = insp.get("RootFS").map(|r| raw::strs_of(r, "Layers")).unwrap_or_default();
            cache.insert(id.clone(), layers);
        }
        images.push(PImage {
            layers: cache.get(&id).cloned().unwrap_or_default(),
            tags: raw::strs_of(i, "RepoTags"),
            digests: raw::strs_of(i, "RepoDigests"),
            created: i.get("Created").and_then(|x| x.as_i64()).unwrap_or(0),
            size: raw::u64_of(i, "Size"),
            service: service_label,
            id,
        });
    }
    let layers = layer_store(session).await.unwrap_or_default();
    Ok(HostState { containers, images, layers })
}

/// dockerd's layer store (`<root>/image/<driver>/layerdb/sha256/<chain>/{diff,parent,size}`),
/// read in one exec. Empty when not readable (non-root login, other layout).
pub async fn layer_store(session: &Session) -> Result<HashMap<(String, String), (String, u64)>, FleetError> {
    let info = raw::get_json(session, "/v1.41/info").await?;
    let root = raw::str_of(&info, "DockerRootDir");
    let driver = raw::str_of(&info, "Driver");
    let dir = format!("{root}/image/{driver}/layerdb/sha256");
    let cmd = format!(
        "cd {} 2>/dev/null && for d in *; do [ -f \"$d/size\" ] && printf '%s %s %s %s\\n' \"$d\" \"$(cat $d/diff)\" \"$(cat $d/parent 2>/dev/null || echo -)\" \"$(cat $d/size)\"; done; true",
        shell_words::quote(&dir)
    );
    let out = session.exec(&cmd).await?;
    Ok(parse_layer_store(&out.stdout))
}

pub fn parse_layer_store(out: &str) -> HashMap<(String, String), (String, u64)> {
    let mut m = HashMap::new();
    for l in out.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 4 {
            continue;
        }
        let chain = format!("sha256:{}", f[0]);
        let parent = if f[2] == "-" { String::new() } else { f[2].to_string() };
        if let Ok(size) = f[3].parse() {
            m.insert((parent, f[1].to_string()), (chain, size));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, image: &str, state: &str, created: i64) -> PContainer {
        PContainer {
            id: id.into(),
            name: id.into(),
            image: image.into(),
            image_id: format!("sha256:{}", image.rsplit(':').next().unwrap()),
            state: state.into(),
            created,
            size_rw: 10,
            service: true,
        }
    }
    fn img(v: &str, tags: &[&str], created: i64, layers: &[&str]) -> PImage {
        PImage {
            id: format!("sha256:{v}"),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            digests: vec![],
            created,
            size: 100,
            service: true,
            layers: layers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn kamal_prune_semantics() {
        let r = "reg/app";
        let mut st = HostState::default();
        // v1..v4 stopped, v5 running; retain 2 → v1, v2 containers go.
        for (i, v) in ["v1", "v2", "v3", "v4"].iter().enumerate() {
            st.containers.push(c(&format!("c{v}"), &format!("{r}:{v}"), "exited", i as i64));
        }
        st.containers.push(c("cv5", &format!("{r}:v5"), "running", 10));
        for (i, v) in ["v1", "v2", "v3", "v4", "v5"].iter().enumerate() {
            let tags = if *v == "v5" { vec![format!("{r}:v5"), format!("{r}:latest")] } else { vec![format!("{r}:{v}")] };
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            st.images.push(img(v, &tags, i as i64, &["base", v]));
        }
        // an orphan image tag (v0) and another service's image
        st.images.push(img("v0", &["reg/app:v0"], -1, &["base", "v0"]));
        let mut other = img("o1", &["reg/other:1"], 0, &["base", "o1"]);
        other.service = false;
        st.images.push(other);
        st.layers.insert((String::new(), "base".into()), ("sha256:cbase".into(), 1000));
        for v in ["v0", "v1", "v2", "v3", "v4", "v5", "o1"] {
            st.layers.insert(("sha256:cbase".into(), v.into()), (format!("sha256:c{v}"), 7));
        }
        let p = plan("h", &st, r, "latest", 2);
        assert_eq!(p.containers.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), vec!["cv2", "cv1"]);
        assert_eq!(p.untagged, vec!["reg/app:v2", "reg/app:v1", "reg/app:v0"]);
        assert_eq!(p.deleted_images.len(), 3);
        assert_eq!(p.containers_bytes, 20);
        // base layer is shared with kept images: only the 3 top layers go.
        assert_eq!(p.images_bytes, 21);
        assert!(p.exact);
    }

    #[test]
    fn grep_word_semantics() {
        let pats = vec!["reg/app:v1".to_string()];
        assert!(grep_w("abc reg/app:v1", &pats));
        assert!(!grep_w("abc reg/app:v10", &pats));
        // `.`-free pattern followed by a non-word char still matches (Kamal keeps v1.1 then)
        assert!(grep_w("abc reg/app:v1.1", &pats));
        assert!(!grep_w("abc reg/app:v2", &pats));
    }

    #[test]
    fn layer_store_lines() {
        let m = parse_layer_store("aa sha256:d1 - 100\nbb sha256:d2 sha256:aa 5\nbad\n");
        assert_eq!(m.get(&(String::new(), "sha256:d1".into())), Some(&("sha256:aa".into(), 100)));
        assert_eq!(m.get(&("sha256:aa".into(), "sha256:d2".into())), Some(&("sha256:bb".into(), 5)));
    }
}
