//! The expected strings are what `kamal build … -v` (2.11.0) printed for the same configs, run
//! with a `docker` stand-in on PATH that logs its argv and succeeds.

use super::*;
use crate::kamal::{AppSpec, BuildCache};

const SHA: &str = "a484f0db5900bd6a3e9e77eb55912626d8c840a0";

fn app(server: &str, arch: &[&str]) -> AppSpec {
    let mut a = AppSpec { service: "app".into(), image: "acme/app".into(), ..Default::default() };
    a.registry.server = Some(server.into());
    a.build.arch = arch.iter().map(|s| s.to_string()).collect();
    a.build.driver = "docker-container".into();
    a
}

#[test]
fn local_builder_with_a_local_registry_is_named_for_it_and_uses_the_host_network() {
    let mut a = app("localhost:5555", &["amd64"]);
    a.build.secrets = vec!["NPM".into()];
    a.build.target = Some("prod".into());
    a.build.ssh = Some("default".into());
    a.build.provenance = Some("false".into());
    a.build.sbom = Some("true".into());
    let b = Builder::new(&a, "");
    assert_eq!(b.kind(), BuilderKind::Local);
    assert_eq!(b.create().unwrap(), "docker buildx create --name kamal-local-registry-docker-container --driver=docker-container --driver-opt network=host");
    assert_eq!(b.remove().unwrap(), "docker buildx rm kamal-local-registry-docker-container");
    assert_eq!(b.info(), "docker context ls && docker buildx ls");
    assert_eq!(b.inspect_builder().unwrap(), "docker buildx inspect kamal-local-registry-docker-container");
    assert_eq!(
        b.push(SHA, "registry", false, false),
        format!("docker buildx build --output=type=registry --platform linux/amd64 --builder kamal-local-registry-docker-container -t localhost:5555/acme/app:{SHA} -t localhost:5555/acme/app:latest --label service=\"app\" --secret id=\"NPM\" --file Dockerfile --target prod --ssh default --provenance false --sbom true . 2>&1")
    );
    assert!(b.login_to_registry_locally());
    assert_eq!(
        local_registry_setup(&a),
        "docker start kamal-docker-registry || docker run --detach -p 127.0.0.1:5555:5000 --name kamal-docker-registry registry:3"
    );
}

#[test]
fn remote_only_arch_builds_on_the_remote_with_registry_cache_and_redactable_args() {
    let mut a = app("reg.example:5000", &["arm64"]);
    a.build.remote = Some("ssh://root@10.9.9.8:2222".into());
    a.build.args = vec![("FOO".into(), "b ar".into()), ("EMPTY".into(), String::new())];
    a.build.cache = Some(BuildCache { kind: "registry".into(), image: None, options: Some("mode=max".into()) });
    let b = Builder::new(&a, "amd64");
    assert_eq!(b.kind(), BuilderKind::Remote);
    assert_eq!(b.builder_name(), "kamal-remote-ssh---root-10-9-9-8-2222");
    assert_eq!(
        b.inspect_builder().unwrap(),
        "docker buildx inspect kamal-remote-ssh---root-10-9-9-8-2222 | grep -q Endpoint:.*kamal-remote-ssh---root-10-9-9-8-2222-context && docker context inspect kamal-remote-ssh---root-10-9-9-8-2222-context --format '{{.Endpoints.docker.Host}}' | grep -xq ssh://root@10.9.9.8:2222 || (echo no compatible builder && exit 1)"
    );
    assert_eq!(b.remove().unwrap(), "docker context rm kamal-remote-ssh---root-10-9-9-8-2222-context ; docker buildx rm kamal-remote-ssh---root-10-9-9-8-2222");
    assert_eq!(
        b.create().unwrap(),
        "docker context create kamal-remote-ssh---root-10-9-9-8-2222-context --description 'kamal-remote-ssh---root-10-9-9-8-2222 host' --docker 'host=ssh://root@10.9.9.8:2222' ; docker buildx create --name kamal-remote-ssh---root-10-9-9-8-2222 kamal-remote-ssh---root-10-9-9-8-2222-context"
    );
    assert_eq!(
        b.push(SHA, "registry", false, false),
        format!("docker buildx build --output=type=registry --platform linux/arm64 --builder kamal-remote-ssh---root-10-9-9-8-2222 -t reg.example:5000/acme/app:{SHA} -t reg.example:5000/acme/app:latest --cache-to type=registry,ref=reg.example:5000/acme/app-build-cache,mode=max --cache-from type=registry,ref=reg.example:5000/acme/app-build-cache --label service=\"app\" --build-arg FOO=\"b ar\" --build-arg EMPTY --file Dockerfile . 2>&1")
    );
    assert!(!b.login_to_registry_locally());
    assert_eq!(b.push_env(), vec![("BUILDKIT_NO_CLIENT_TOKEN".to_string(), "1".to_string())]);
    assert_eq!(b.info(), "docker context ls ; docker buildx ls");
}

#[test]
fn a_remote_with_the_local_arch_only_is_not_used() {
    let mut a = app("reg.example:5000", &["amd64"]);
    a.build.remote = Some("ssh://root@10.9.9.8".into());
    assert_eq!(Builder::new(&a, "amd64").kind(), BuilderKind::Local);
    // `docker info` failed locally (no daemon): no local arch, so everything is remote.
    assert_eq!(Builder::new(&a, "").kind(), BuilderKind::Remote);
    a.build.local_disabled = true;
    assert_eq!(Builder::new(&a, "amd64").kind(), BuilderKind::Remote);
}

#[test]
fn hybrid_builder_splits_the_arches_between_local_and_remote() {
    let mut a = app("reg.example:5000", &["amd64", "arm64"]);
    a.build.remote = Some("ssh://deploy@build.example".into());
    a.build.cache = Some(BuildCache { kind: "gha".into(), image: None, options: Some("url=http://x,foo=bar".into()) });
    let b = Builder::new(&a, "amd64");
    assert_eq!(b.kind(), BuilderKind::Hybrid);
    let n = "kamal-hybrid-docker-container-ssh---deploy-build-example";
    assert_eq!(b.remove().unwrap(), format!("docker context rm {n}-context ; docker buildx rm {n}"));
    assert_eq!(
        b.create().unwrap(),
        format!("docker buildx create --platform linux/amd64 --name {n} --driver=docker-container && docker context create {n}-context --description '{n} host' --docker 'host=ssh://deploy@build.example' && docker buildx create --platform linux/arm64 --append --name {n} {n}-context")
    );
    assert_eq!(
        b.push(SHA, "registry", false, false),
        format!("docker buildx build --output=type=registry --platform linux/amd64,linux/arm64 --builder {n} -t reg.example:5000/acme/app:{SHA} -t reg.example:5000/acme/app:latest --cache-to type=gha,url=http://x,foo=bar --cache-from type=gha,url=http://x --label service=\"app\" --file Dockerfile . 2>&1")
    );
    // With a local registry the names say so (Kamal: `…-local-registry`).
    a.registry.server = Some("localhost:5555".into());
    assert_eq!(Builder::new(&a, "amd64").remove().unwrap(), format!("docker context rm {n}-local-registry-context ; docker buildx rm {n}-local-registry"));
}

#[test]
fn docker_driver_needs_no_builder_and_dev_tags_as_dirty() {
    let mut a = app("reg.example:5000", &["amd64"]);
    a.build.driver = "docker".into();
    let b = Builder::new(&a, "");
    assert_eq!((b.create(), b.remove(), b.inspect_builder()), (None, None, None));
    assert_eq!(
        b.push(SHA, "registry", false, true),
        format!("docker buildx build --output=type=registry --platform linux/amd64 -t reg.example:5000/acme/app:{SHA} -t reg.example:5000/acme/app:latest --label service=\"app\" --file Dockerfile --no-cache . 2>&1")
    );
    assert_eq!(
        b.push(SHA, "docker", true, false),
        format!("docker buildx build --output=type=docker --platform linux/amd64 -t reg.example:5000/acme/app:{SHA}-dirty -t reg.example:5000/acme/app:latest-dirty --label service=\"app\" --file Dockerfile . 2>&1")
    );
}

#[test]
fn cloud_driver_names_the_builder_after_the_driver() {
    let mut a = app("reg.example:5000", &["amd64"]);
    a.build.driver = "cloud acme/builder".into();
    let b = Builder::new(&a, "");
    assert_eq!(b.kind(), BuilderKind::Cloud);
    assert_eq!(b.create().unwrap(), "docker buildx create --driver cloud acme/builder");
    assert_eq!(b.remove().unwrap(), "docker buildx rm cloud-acme-builder");
    assert_eq!(b.inspect_builder().unwrap(), "docker buildx inspect cloud-acme-builder");
    assert!(b.push(SHA, "registry", false, false).contains(" --builder cloud-acme-builder -t "));
}

#[test]
fn docker_info_architectures_map_to_kamals_names() {
    assert_eq!(docker_arch_name("x86_64\n"), "amd64");
    assert_eq!(docker_arch_name("aarch64"), "arm64");
    assert_eq!(docker_arch_name(""), "");
    // Kamal's default arches when none is set: none for the docker driver.
    let mut a = app("r", &[]);
    assert_eq!(Builder::new(&a, "").arches(), vec!["amd64", "arm64"]);
    a.build.driver = "docker".into();
    assert!(Builder::new(&a, "").arches().is_empty());
}

#[test]
fn ssh_remotes_give_the_build_host_user_and_port() {
    assert_eq!(ssh_remote("ssh://root@10.9.9.8:2222"), Some((Some("root".into()), "10.9.9.8".into(), Some(2222))));
    assert_eq!(ssh_remote("ssh://build.example"), Some((None, "build.example".into(), None)));
    assert_eq!(ssh_remote("tcp://build.example:2375"), None);
    assert_eq!(ssh_remote("ssh://"), None);
}
