#!/usr/bin/env bash
# kamal-deck test lab: N "servers" on one machine, each a network namespace + a persistent
# mount/uts namespace with its own sshd and dockerd, one docker-registry on the bridge, and a
# control-side dockerd that builds the test images. See tests/lab/README.md.
#
#   lab.sh up --name NAME --net K --hosts N        (idempotent; prints the path of lab.json)
#   lab.sh down --name NAME                        (removes everything the lab made)
#   lab.sh image --name NAME SERVICE VERSION [--variant ok|unhealthy|slow|errors]
#   lab.sh context SERVICE VERSION DIR [--variant …] (the image's build context, not built;
#                                                    prints the control dockerd's DOCKER_HOST)
#   lab.sh sshd-stop|sshd-start|dockerd-stop|dockerd-start|link-down|link-up --name NAME HOST
#   lab.sh status [--name NAME]
#   lab.sh exec --name NAME HOST [-- CMD…]           (a command/shell inside a host, no SSH)
#   lab.sh control-stop                            (stop the control dockerd if no lab is up)
set -euo pipefail
# The daemons started here (dockerd, sshd, registry) outlive this script: they must not keep a
# descriptor the caller holds, such as a lock taken with flock(1) around a test run, or the
# lock would stay held as long as the lab (or the shared control dockerd) runs.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  [[ $fd =~ ^[0-9]+$ && $fd -gt 2 && $fd -lt 255 ]] && eval "exec $fd>&-" 2>/dev/null || true
done

ROOT=/tmp/kdeck-lab
CACHE=$ROOT/.cache
KEYSTORE=$ROOT/.keys
CTL=$ROOT/.control
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STANDIN_SRC=$HERE/kamal-proxy-standin
DOCKER=/usr/bin/docker          # Debian's 20.10 CLI, the one a fresh CI machine has
PROXY_IMAGE=basecamp/kamal-proxy:v0.9.2
export DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false

die() { echo "lab.sh: $*" >&2; exit 1; }
log() { [[ -n ${LAB_QUIET:-} ]] || echo "lab.sh: $*" >&2; }
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

NAME="" NET="" HOSTS="" VARIANT=ok
POS=()
parse() {
  while (($#)); do
    case $1 in
      --name) NAME=$2; shift 2 ;;
      --name=*) NAME=${1#*=}; shift ;;
      --net) NET=$2; shift 2 ;;
      --net=*) NET=${1#*=}; shift ;;
      --hosts) HOSTS=$2; shift 2 ;;
      --hosts=*) HOSTS=${1#*=}; shift ;;
      --variant) VARIANT=$2; shift 2 ;;
      --variant=*) VARIANT=${1#*=}; shift ;;
      -*) die "unknown option $1" ;;
      *) POS+=("$1"); shift ;;
    esac
  done
}

need_name() {
  [[ -n $NAME ]] || die "--name NAME is required"
  [[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || die "bad lab name '$NAME' (a-z0-9-, at most 20 chars)"
  LABDIR=$ROOT/$NAME
}

load_meta() {
  need_name
  [[ -f $LABDIR/meta ]] || die "lab '$NAME' is not up (no $LABDIR/meta)"
  # shellcheck disable=SC1091
  source "$LABDIR/meta"
}

# Names derived from the net index K (unique per lab) and host number.
set_names() {
  BR=kdbr$NET
  SUBNET=10.77.$NET
  GW=$SUBNET.1
  REGISTRY=$GW:5000
  NSDIR=$LABDIR/ns
}
host_ip() { echo "$SUBNET.$((10 + $1))"; }
netns_of() { echo "kdlab-$NAME-$1"; }
veth_of() { echo "kd${NET}h$1"; }
hdir() { echo "$LABDIR/hosts/klab$1"; }
cgparent() { echo "kdeck-lab-$NAME-klab$1"; }
host_num() {
  local h=$1
  case $h in
    klab[0-9]*) echo "${h#klab}" ;;
    "$SUBNET".*) echo $(( ${h##*.} - 10 )) ;;
    [0-9]*) echo "$h" ;;
    *) die "unknown host '$h' (use klabN or its address)" ;;
  esac
}
in_host() { # run a command inside host N's namespaces
  local n=$1; shift
  nsenter --net="/run/netns/$(netns_of "$n")" --mount="$NSDIR/klab$n.mnt" --uts="$NSDIR/klab$n.uts" -- "$@"
}

# ---------------------------------------------------------------------------------------
# control-side dockerd: builds images; no bridge, no iptables, so it cannot disturb the hosts
ctl_docker() { "$DOCKER" -H "unix://$CTL/docker.sock" "$@"; }
control_up() {
  mkdir -p "$CTL"
  exec 8>"$ROOT/.control.lock"; flock 8
  if ! alive "$CTL/dockerd.pid" || ! ctl_docker version >/dev/null 2>&1; then
    log "starting control dockerd"
    mkdir -p "$CTL/data" "$CTL/exec"
    echo '{}' >"$CTL/daemon.json"
    setsid /usr/sbin/dockerd --config-file "$CTL/daemon.json" --data-root "$CTL/data" \
      --exec-root "$CTL/exec" --pidfile "$CTL/dockerd.pid" -H "unix://$CTL/docker.sock" \
      --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
      --insecure-registry 10.77.0.0/16 --log-level warn </dev/null >>"$CTL/dockerd.log" 2>&1 6>&- 7>&- 8>&- &
    local i
    for i in $(seq 1 200); do ctl_docker version >/dev/null 2>&1 && break; sleep 0.1; done
    ctl_docker version >/dev/null 2>&1 || { tail -20 "$CTL/dockerd.log" >&2; die "control dockerd did not start"; }
  fi
  flock -u 8
}
control_stop() {
  mkdir -p "$ROOT"
  exec 8>"$ROOT/.control.lock"; flock 8
  local d
  for d in "$ROOT"/*/; do [[ -f $d/meta ]] && { log "labs still up; control dockerd kept"; flock -u 8; return 0; }; done
  if alive "$CTL/dockerd.pid"; then
    local pid; pid=$(cat "$CTL/dockerd.pid")
    kill "$pid"; for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "control dockerd stopped"
  fi
  flock -u 8
}

# ---------------------------------------------------------------------------------------
# the kamal-proxy stand-in: built once per source hash, saved as a tarball in the cache
standin_hash() {
  (cd "$STANDIN_SRC" && find Cargo.toml Cargo.lock src -type f 2>/dev/null | sort | xargs cat; cat Dockerfile 2>/dev/null) | sha256sum | cut -c1-16
}
standin_tar() {
  [[ -d $STANDIN_SRC ]] || { echo ""; return 0; }
  local h; h=$(standin_hash)
  local tar=$CACHE/standin-$h.tar
  if [[ ! -s $tar ]]; then
    exec 7>"$CACHE/standin.lock"; flock 7
    if [[ ! -s $tar ]]; then
      log "building kamal-proxy stand-in ($h)"
      # One target dir per source dir: cargo judges freshness by mtimes against the sources it
      # last built from, and two checkouts of the stand-in share their unit hashes, so a shared
      # target dir can hand one checkout's binary to another's newer sources.
      local tgt=${KDECK_STANDIN_TARGET:-$CACHE/standin-target-$(printf %s "$STANDIN_SRC" | sha256sum | cut -c1-8)}
      (cd "$STANDIN_SRC" && RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$tgt \
        "${CARGO:-cargo}" build --release --quiet --target x86_64-unknown-linux-gnu) >&2 || die "stand-in build failed"
      local ctx; ctx=$(mktemp -d "$CACHE/standin-ctx.XXXX")
      mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/tmp" "$ctx/root/home/kamal-proxy/.config/kamal-proxy" \
        "$ctx/root/home/kamal-proxy/.apps-config"
      cp "$tgt/x86_64-unknown-linux-gnu/release/kamal-proxy" "$ctx/root/usr/local/bin/kamal-proxy"
      chmod 1777 "$ctx/root/tmp"
      cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/bin HOME=/home/kamal-proxy
LABEL org.opencontainers.image.title=kamal-proxy kdeck.lab.standin=$h
EXPOSE 80 443
CMD ["kamal-proxy", "run"]
EOF
      control_up
      ctl_docker build -q -t "$PROXY_IMAGE" -t "kdeck-lab/kamal-proxy-standin:$h" "$ctx" >/dev/null
      ctl_docker save -o "$tar.tmp" "$PROXY_IMAGE"
      mv "$tar.tmp" "$tar"
      rm -rf "$ctx"
      find "$CACHE" -maxdepth 1 -name 'standin-*.tar' ! -name "standin-$h.tar" -mmin +10 -delete 2>/dev/null || true
    fi
    flock -u 7
  fi
  echo "$tar"
}

# ---------------------------------------------------------------------------------------
keys_up() {
  local ks=$KEYSTORE/$NAME
  mkdir -p "$ks" "$LABDIR/keys" "$LABDIR/home/.ssh"
  chmod 700 "$ks" "$LABDIR/home" "$LABDIR/home/.ssh"
  # keys live outside the lab dir so a lab that is taken down and brought up again keeps the
  # same host keys (known_hosts files written by Kamal/net-ssh earlier stay valid)
  [[ -f $ks/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "kdeck-lab-$NAME" -f "$ks/id_ed25519"
  cp "$ks/id_ed25519" "$ks/id_ed25519.pub" "$LABDIR/keys/"
  chmod 600 "$LABDIR/keys/id_ed25519"
  local n
  : >"$LABDIR/known_hosts.tmp"
  for n in $(seq 1 "$HOSTS"); do
    [[ -f $ks/ssh_host_ed25519_key_$n ]] || ssh-keygen -q -t ed25519 -N '' -C "klab$n" -f "$ks/ssh_host_ed25519_key_$n"
    echo "$(host_ip "$n") $(cut -d' ' -f1,2 "$ks/ssh_host_ed25519_key_$n.pub")" >>"$LABDIR/known_hosts.tmp"
  done
  mv "$LABDIR/known_hosts.tmp" "$LABDIR/known_hosts"
  cp "$LABDIR/known_hosts" "$LABDIR/known_hosts.hashed"
  ssh-keygen -q -H -f "$LABDIR/known_hosts.hashed" >/dev/null 2>&1
  rm -f "$LABDIR/known_hosts.hashed.old"
  cp "$LABDIR/known_hosts" "$LABDIR/home/.ssh/known_hosts"
  cp "$LABDIR/keys/id_ed25519" "$LABDIR/home/.ssh/id_ed25519"
  cp "$LABDIR/keys/id_ed25519.pub" "$LABDIR/home/.ssh/id_ed25519.pub"
  chmod 600 "$LABDIR/home/.ssh/id_ed25519"
  # git identity for tools run with HOME=$LABDIR/home (Kamal's lock/audit "performer")
  printf '[user]\n\tname = Lab Tester\n\temail = lab@kdeck.test\n[safe]\n\tdirectory = *\n' >"$LABDIR/home/.gitconfig"
  cat >"$LABDIR/ssh_config" <<EOF
# OpenSSH client config for the lab (ssh -F $LABDIR/ssh_config klab1)
EOF
  for n in $(seq 1 "$HOSTS"); do
    cat >>"$LABDIR/ssh_config" <<EOF
Host klab$n $(host_ip "$n")
  HostName $(host_ip "$n")
  User root
EOF
  done
  cat >>"$LABDIR/ssh_config" <<EOF
Host *
  IdentityFile $LABDIR/keys/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $LABDIR/known_hosts
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
}

write_logger() {
  mkdir -p "$LABDIR/bin"
  # ForceCommand wrapper: logs the exact command string the client sent (+ rc), then runs it
  # through the login shell like sshd would. stdout/stderr/stdin are left untouched (scp -t).
  cat >"$LABDIR/bin/ssh-logger" <<'EOF'
#!/bin/bash
log=$1 host=$2
cmd=${SSH_ORIGINAL_COMMAND-}
if [[ -z $cmd ]]; then
  printf '%s\t%s\t%s\tSHELL\n' "$EPOCHREALTIME" "$host" "$$" >>"$log"
  exec -a -bash /bin/bash
fi
if [[ $cmd == sftp || $cmd == internal-sftp ]]; then
  printf '%s\t%s\t%s\tSFTP\n' "$EPOCHREALTIME" "$host" "$$" >>"$log"
  exec /usr/lib/openssh/sftp-server
fi
flat=${cmd//$'\n'/\\n}
printf '%s\t%s\t%s\tSTART\t%s\n' "$EPOCHREALTIME" "$host" "$$" "$flat" >>"$log"
/bin/bash -c "$cmd"
rc=$?
printf '%s\t%s\t%s\tEND\trc=%s\n' "$EPOCHREALTIME" "$host" "$$" "$rc" >>"$log"
exit $rc
EOF
  chmod 755 "$LABDIR/bin/ssh-logger"
}

net_up() {
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge
    ip addr add "$GW/24" dev "$BR"
  fi
  ip link set "$BR" up
  # br_netfilter may send bridged frames through the root FORWARD chain (a dockerd there
  # sets its policy to DROP): let our bridge's own traffic through.
  if command -v iptables >/dev/null; then
    iptables -C FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null ||
      iptables -I FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || true
  fi
  mkdir -p "$NSDIR"
  if ! mountpoint -q "$NSDIR"; then
    mount --bind "$NSDIR" "$NSDIR"
    mount --make-private "$NSDIR"
  fi
}

registry_up() {
  local d=$LABDIR/registry
  alive "$d/registry.pid" && return 0
  mkdir -p "$d/data"
  cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  setsid /usr/bin/docker-registry serve "$d/config.yml" </dev/null >>"$d/registry.log" 2>&1 6>&- 7>&- 8>&- &
  echo $! >"$d/registry.pid"
}
registry_wait() {
  local i
  for i in $(seq 1 100); do
    exec 9<>/dev/tcp/"$GW"/5000 2>/dev/null && { exec 9>&-; return 0; }
    sleep 0.1
  done
  tail -5 "$LABDIR/registry/registry.log" >&2
  die "registry did not start on $REGISTRY"
}

host_ns_up() {
  local n=$1 h; h=$(hdir "$n")
  local ns; ns=$(netns_of "$n")
  local veth; veth=$(veth_of "$n")
  local ip; ip=$(host_ip "$n")
  mkdir -p "$h/root/.ssh" "$h/docker"
  chmod 700 "$h/root"
  if [[ ! -e /run/netns/$ns ]]; then
    ip netns add "$ns"
  fi
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name "kd${NET}p$n"
    ip link set "kd${NET}p$n" netns "$ns"
    ip -n "$ns" link set "kd${NET}p$n" name eth0
    ip link set "$veth" master "$BR"
  fi
  ip link set "$veth" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route replace default via "$GW"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    local m; for m in $(seq 1 "$HOSTS"); do echo "$(host_ip "$m") klab$m"; done
  } >"$h/etc-hosts"
  if [[ ! -e $NSDIR/klab$n.mnt ]] || ! nsenter --mount="$NSDIR/klab$n.mnt" true 2>/dev/null; then
    umount "$NSDIR/klab$n.mnt" 2>/dev/null || true
    umount "$NSDIR/klab$n.uts" 2>/dev/null || true
    touch "$NSDIR/klab$n.mnt" "$NSDIR/klab$n.uts"
    unshare --mount="$NSDIR/klab$n.mnt" --uts="$NSDIR/klab$n.uts" --propagation private \
      /bin/bash -ec '
        # drop copies of namespace files (other labs netns, ns bind mounts): they would keep
        # those namespaces alive after their owner removed them
        awk '\''$3=="nsfs"{print $2}'\'' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        mount -t tmpfs -o mode=755 kdeck-lab-run /run
        mkdir -p /run/sshd /run/lock
        mount --bind "$1/root" /root
        mount --bind "$1/etc-hosts" /etc/hosts
        # hosts use the Debian docker CLI (20.10), as a fresh server would
        if [[ -e /usr/local/bin/docker ]]; then mount --bind /usr/bin/docker /usr/local/bin/docker; fi
        hostname "$2"
      ' _ "$h" "klab$n"
  fi
}

host_ssh_conf() {
  local n=$1 h; h=$(hdir "$n")
  local ks=$KEYSTORE/$NAME
  cp "$ks/ssh_host_ed25519_key_$n" "$h/ssh_host_ed25519_key"
  cp "$ks/ssh_host_ed25519_key_$n.pub" "$h/ssh_host_ed25519_key.pub"
  chmod 600 "$h/ssh_host_ed25519_key"
  cp "$LABDIR/keys/id_ed25519.pub" "$h/root/.ssh/authorized_keys"
  chmod 700 "$h/root/.ssh"; chmod 600 "$h/root/.ssh/authorized_keys"
  local force=""
  if [[ ${KDECK_LAB_SSH_LOG:-1} != 0 ]]; then
    force="ForceCommand $LABDIR/bin/ssh-logger $LABDIR/klab$n.ssh.log klab$n"
    touch "$LABDIR/klab$n.ssh.log"
  fi
  cat >"$h/sshd_config" <<EOF
ListenAddress $(host_ip "$n"):22
HostKey $h/ssh_host_ed25519_key
PidFile $h/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxSessions 100
MaxStartups 100:30:200
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
ClientAliveInterval 0
Subsystem sftp /usr/lib/openssh/sftp-server
$force
EOF
}

host_sshd_start() {
  local n=$1 h; h=$(hdir "$n")
  alive "$h/sshd.pid" && return 0
  rm -f "$h/sshd.pid"
  in_host "$n" /usr/sbin/sshd -f "$h/sshd_config" -E "$h/sshd.log" </dev/null 6>&- 7>&- 8>&-
  local i; for i in $(seq 1 50); do [[ -s $h/sshd.pid ]] && return 0; sleep 0.1; done
  tail -5 "$h/sshd.log" >&2; die "sshd on klab$n did not start"
}

host_dockerd_start() {
  local n=$1 h; h=$(hdir "$n")
  alive "$h/dockerd.pid" && return 0
  local driver=overlay2
  [[ -f $h/storage-driver ]] && driver=$(cat "$h/storage-driver")
  cat >"$h/daemon.json" <<EOF
{
  "data-root": "$h/docker",
  "exec-root": "/run/docker",
  "pidfile": "$h/dockerd.pid",
  "cgroup-parent": "$(cgparent "$n")",
  "hosts": ["unix:///var/run/docker.sock", "unix://$h/docker.sock"],
  "insecure-registries": ["$REGISTRY"],
  "storage-driver": "$driver",
  "log-level": "warn",
  "iptables": true,
  "ip-forward": true
}
EOF
  rm -f "$h/docker.sock"
  in_host "$n" setsid /usr/sbin/dockerd --config-file "$h/daemon.json" </dev/null >>"$h/dockerd.log" 2>&1 6>&- 7>&- 8>&- &
}
host_dockerd_wait() {
  local n=$1 h; h=$(hdir "$n")
  local i
  for i in $(seq 1 300); do
    "$DOCKER" -H "unix://$h/docker.sock" version >/dev/null 2>&1 && return 0
    alive "$h/dockerd.pid" || { [[ $i -gt 20 ]] && break; }
    sleep 0.1
  done
  if [[ ! -f $h/storage-driver ]] && grep -qi overlay "$h/dockerd.log"; then
    log "klab$n: overlay2 failed, retrying with vfs"
    echo vfs >"$h/storage-driver"
    host_dockerd_start "$n"; host_dockerd_wait "$n"; return
  fi
  tail -20 "$h/dockerd.log" >&2
  die "dockerd on klab$n did not start"
}

host_load_proxy() {
  local n=$1 tar=$2 h; h=$(hdir "$n")
  [[ -n $tar ]] || return 0
  local want; want=$(basename "$tar" .tar); want=${want#standin-}
  local have
  have=$("$DOCKER" -H "unix://$h/docker.sock" image inspect -f '{{index .Config.Labels "kdeck.lab.standin"}}' "$PROXY_IMAGE" 2>/dev/null || true)
  [[ $have == "$want" ]] && return 0
  "$DOCKER" -H "unix://$h/docker.sock" load -q -i "$tar" >/dev/null
}

host_up() {
  local n=$1 tar=$2
  host_ns_up "$n"
  host_ssh_conf "$n"
  host_dockerd_start "$n"
  host_sshd_start "$n"
  host_dockerd_wait "$n"
  host_load_proxy "$n" "$tar"
}

write_json() {
  local n sep=""
  {
    echo "{"
    echo "  \"name\": \"$NAME\","
    echo "  \"net\": $NET,"
    echo "  \"dir\": \"$LABDIR\","
    echo "  \"bridge\": \"$BR\","
    echo "  \"gateway\": \"$GW\","
    echo "  \"registry\": \"$REGISTRY\","
    echo "  \"ssh_key\": \"$LABDIR/keys/id_ed25519\","
    echo "  \"known_hosts\": \"$LABDIR/known_hosts\","
    echo "  \"known_hosts_hashed\": \"$LABDIR/known_hosts.hashed\","
    echo "  \"ssh_config\": \"$LABDIR/ssh_config\","
    echo "  \"home\": \"$LABDIR/home\","
    echo "  \"proxy_image\": \"$PROXY_IMAGE\","
    echo "  \"hosts\": ["
    for n in $(seq 1 "$HOSTS"); do
      local h; h=$(hdir "$n")
      echo "    $sep{\"name\": \"klab$n\", \"ip\": \"$(host_ip "$n")\", \"netns\": \"$(netns_of "$n")\", \"docker_socket\": \"$h/docker.sock\", \"ssh_log\": \"$LABDIR/klab$n.ssh.log\", \"root\": \"$h/root\", \"host_key\": \"$h/ssh_host_ed25519_key.pub\"}"
      sep=","
    done
    echo "  ]"
    echo "}"
  } >"$LABDIR/lab.json.tmp"
  mv "$LABDIR/lab.json.tmp" "$LABDIR/lab.json"
}

all_up() { # fast path: everything already running
  [[ -f $LABDIR/meta && -f $LABDIR/lab.json ]] || return 1
  alive "$LABDIR/registry/registry.pid" || return 1
  local n h
  for n in $(seq 1 "$HOSTS"); do
    h=$(hdir "$n")
    alive "$h/sshd.pid" && alive "$h/dockerd.pid" && [[ -S $h/docker.sock ]] || return 1
    [[ $(cat "/sys/class/net/$(veth_of "$n")/operstate" 2>/dev/null) == up ]] || return 1  # after link-down
  done
  if [[ -d $STANDIN_SRC ]]; then
    [[ -s $CACHE/standin-$(standin_hash).tar && $(cat "$LABDIR/standin" 2>/dev/null) == "$(standin_hash)" ]] || return 1
  fi
}

cmd_up() {
  need_name
  [[ $(id -u) == 0 ]] || die "must run as root"
  [[ $NET =~ ^[0-9]+$ && $NET -ge 0 && $NET -le 254 ]] || die "--net K (0..254) is required"
  [[ $HOSTS =~ ^[0-9]+$ && $HOSTS -ge 1 && $HOSTS -le 60 ]] || die "--hosts N (1..60) is required"
  if [[ -f $LABDIR/meta ]]; then
    local onet ohosts
    onet=$(. "$LABDIR/meta"; echo "$NET"); ohosts=$(. "$LABDIR/meta"; echo "$HOSTS")
    if [[ $onet != "$NET" || $ohosts != "$HOSTS" ]]; then
      log "lab '$NAME' exists with net $onet / $ohosts hosts: recreating"
      (NET=$onet HOSTS=$ohosts; cmd_down)
    fi
  fi
  set_names
  if all_up; then echo "$LABDIR/lab.json"; return 0; fi
  for other in "$ROOT"/*/meta; do
    [[ -f $other && $other != "$LABDIR/meta" ]] || continue
    [[ $(. "$other"; echo "$NET") != "$NET" ]] || die "net $NET is used by lab $(basename "$(dirname "$other")")"
  done
  command -v dockerd >/dev/null && command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || die "openssh-server missing (scripts/install-deps)"
  [[ -x /usr/sbin/dockerd ]] || die "dockerd missing (scripts/install-deps)"
  [[ -x /usr/bin/docker-registry ]] || die "docker-registry missing (scripts/install-deps)"
  mkdir -p "$LABDIR" "$CACHE"
  printf 'NET=%s\nHOSTS=%s\n' "$NET" "$HOSTS" >"$LABDIR/meta"
  keys_up
  write_logger
  net_up
  registry_up
  local tar; tar=$(standin_tar)
  [[ -z $tar ]] || basename "$tar" .tar | sed 's/^standin-//' >"$LABDIR/standin"
  local n pids=()
  for n in $(seq 1 "$HOSTS"); do
    ( host_up "$n" "$tar" ) &
    pids+=($!)
  done
  local fail=0 p
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
  registry_wait
  ((fail == 0)) || die "some hosts failed to start (see $LABDIR/hosts/*/dockerd.log, sshd.log)"
  write_json
  echo "$LABDIR/lab.json"
}

# ---------------------------------------------------------------------------------------
kill_pidfile() {
  local f=$1
  [[ -s $f ]] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local i; for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
ns_pids() { # processes inside host n's namespaces (all started by this lab)
  local n=$1 ino pid
  ip netns pids "$(netns_of "$n")" 2>/dev/null || true
  if [[ -e $NSDIR/klab$n.mnt ]]; then
    ino=$(stat -L -c %i "$NSDIR/klab$n.mnt" 2>/dev/null || true)
    if [[ -n $ino && $ino != "$(stat -L -c %i /proc/self/ns/mnt)" ]]; then
      for pid in /proc/[0-9]*; do
        [[ $(readlink "$pid/ns/mnt" 2>/dev/null) == "mnt:[$ino]" ]] && echo "${pid#/proc/}"
      done
    fi
  fi
  return 0
}
host_down() {
  local n=$1 h; h=$(hdir "$n")
  kill_pidfile "$h/dockerd.pid"   # stops its containers and its containerd
  kill_pidfile "$h/sshd.pid"
  local pids; pids=$(ns_pids "$n" | sort -u)
  if [[ -n $pids ]]; then
    kill $pids 2>/dev/null || true; sleep 0.3
    pids=$(ns_pids "$n" | sort -u); [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    sleep 0.1
  fi
  umount "$NSDIR/klab$n.mnt" 2>/dev/null || umount -l "$NSDIR/klab$n.mnt" 2>/dev/null || true
  umount "$NSDIR/klab$n.uts" 2>/dev/null || umount -l "$NSDIR/klab$n.uts" 2>/dev/null || true
  ip link del "$(veth_of "$n")" 2>/dev/null || true
  ip netns del "$(netns_of "$n")" 2>/dev/null || true
  local c d
  for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    d=$c$(cgparent "$n")
    [[ -d $d ]] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}
cmd_down() {
  need_name
  [[ -f $LABDIR/meta ]] && source "$LABDIR/meta"
  if [[ -z $NET ]]; then
    # no metadata (a crashed up?): remove what can be found by name
    local ns pids
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^kdlab-$NAME-[0-9]+$" || true); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    done
    local d; for d in /sys/fs/cgroup/*/kdeck-lab-"$NAME"-* /sys/fs/cgroup/kdeck-lab-"$NAME"-*; do
      [[ -d $d ]] && { find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; }
    done
    if [[ -d $LABDIR ]]; then
      local m
      for m in $(awk -v d="$LABDIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
      rm -rf "$LABDIR"
    fi
    return 0
  fi
  set_names
  local n pids=()
  for n in $(seq 1 "${HOSTS:-0}"); do ( host_down "$n" ) & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
  kill_pidfile "$LABDIR/registry/registry.pid"
  iptables -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || true
  ip link del "$BR" 2>/dev/null || true
  if mountpoint -q "$NSDIR" 2>/dev/null; then umount "$NSDIR" 2>/dev/null || umount -l "$NSDIR"; fi
  # anything still mounted below the lab dir (should be nothing)
  local m
  for m in $(awk -v d="$LABDIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$LABDIR"
  control_stop
  log "lab '$NAME' is down"
}

# ---------------------------------------------------------------------------------------
cmd_image() {
  load_meta; set_names
  ((${#POS[@]} == 2)) || die "usage: image --name NAME SERVICE VERSION [--variant ok|unhealthy|slow|errors]"
  local svc=${POS[0]} ver=${POS[1]}
  [[ $svc =~ ^[a-z0-9][a-z0-9._/-]*$ ]] || die "bad service name '$svc'"
  [[ $ver =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "bad version '$ver'"
  case $VARIANT in ok | unhealthy | slow | errors) ;; *) die "bad variant '$VARIANT' (ok|unhealthy|slow|errors)" ;; esac
  control_up
  local ctx; ctx=$(mktemp -d "$CACHE/app-ctx.XXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$ctx'" EXIT
  write_context "$ctx" "$svc" "$ver"
  local ref=$REGISTRY/$svc:$ver
  # One build+push+untag per lab at a time: docker-registry can lose a blob when two pushes
  # upload the same layer at once ("blob unknown to registry"), and two tests building the
  # same SERVICE:VERSION would untag each other's image before it is pushed.
  (
    exec 9>"$LABDIR/.image.lock"; flock 9
    ctl_docker build -q -t "$ref" "$ctx" >/dev/null || die "image build failed"
    ctl_docker push "$ref" >/dev/null 2>&1 || ctl_docker push "$ref" >/dev/null || die "push of $ref failed"
    ctl_docker rmi "$ref" >/dev/null 2>&1 || true
  ) || exit 1
  rm -rf "$ctx"
  echo "$ref"
}

# The build context of a test app image, for a client-side build (kdeck deploy without -P):
# the Dockerfile takes APP_VERSION as a build arg (default VERSION).
cmd_context() {
  ((${#POS[@]} == 3)) || die "usage: context SERVICE VERSION DIR [--variant ok|unhealthy|slow|errors]"
  local svc=${POS[0]} ver=${POS[1]} dir=${POS[2]}
  case $VARIANT in ok | unhealthy | slow | errors) ;; *) die "bad variant '$VARIANT' (ok|unhealthy|slow|errors)" ;; esac
  mkdir -p "$ROOT" "$CACHE"
  control_up
  mkdir -p "$dir"
  write_context "$dir" "$svc" "$ver"
  # git keeps no empty directories, and kdeck builds from a git clone
  local d; for d in tmp www etc data; do touch "$dir/root/$d/.keep"; done
  sed -i -e "s|^LABEL service=$svc |LABEL |" -e "s|^ENV PATH=/bin APP_SERVICE=$svc APP_VERSION=$ver |ARG APP_VERSION=$ver\nENV PATH=/bin APP_SERVICE=$svc APP_VERSION=\$APP_VERSION |" "$dir/Dockerfile"
  echo "unix://$CTL/docker.sock"
}

write_context() {
  local ctx=$1 svc=$2 ver=$3
  mkdir -p "$ctx/root/bin" "$ctx/root/tmp" "$ctx/root/www" "$ctx/root/etc" "$ctx/root/data"
  chmod 1777 "$ctx/root/tmp"
  cp /bin/busybox "$ctx/root/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -s busybox "$ctx/root/bin/$a"; done
  echo "root:x:0:0:root:/:/bin/sh" >"$ctx/root/etc/passwd"
  echo "root:x:0:" >"$ctx/root/etc/group"
  cat >"$ctx/root/bin/app" <<'EOF'
#!/bin/sh
# lab test app: httpd on :80 answering /up and /version, a log line per second
echo "$APP_VERSION" >/www/version
case "$APP_VARIANT" in
  ok) echo ok >/www/up ;;
  slow) (sleep "${UP_DELAY:-10}"; echo ok >/www/up) & ;;
  unhealthy) rm -f /www/up ;;
  # healthy, but every request for / answers 500 (busybox httpd runs cgi-bin/index.cgi for /)
  errors)
    echo ok >/www/up
    mkdir -p /www/cgi-bin
    printf '#!/bin/sh\necho "Status: 500 Internal Server Error"\necho "Content-Type: text/plain"\necho\necho "error from %s"\n' "$APP_VERSION" >/www/cgi-bin/index.cgi
    chmod 755 /www/cgi-bin/index.cgi ;;
esac
httpd -f -vv -p "${PORT:-80}" -h /www &
httpd_pid=$!
trap 'echo "app $APP_SERVICE $APP_VERSION stopping"; kill $httpd_pid 2>/dev/null; exit 0' TERM INT
echo "app $APP_SERVICE $APP_VERSION ($APP_VARIANT) started on ${PORT:-80} as $(hostname)"
i=0
while :; do
  i=$((i + 1))
  # APP_LINES_PER_TICK (env, default 1): lines per second, for log-load benchmarks
  j=0
  while [ "$j" -lt "${APP_LINES_PER_TICK:-1}" ]; do
    j=$((j + 1))
    echo "app $APP_SERVICE $APP_VERSION tick $i${APP_LINES_PER_TICK:+.$j}"
  done
  sleep 1 & wait $!
done
EOF
  cat >"$ctx/root/bin/worker" <<'EOF'
#!/bin/sh
# lab worker: prints a line per second until stopped
trap 'echo "worker $APP_SERVICE $APP_VERSION stopping"; exit 0' TERM INT
echo "worker $APP_SERVICE $APP_VERSION started as $(hostname)"
i=0
while :; do
  i=$((i + 1))
  j=0
  while [ "$j" -lt "${APP_LINES_PER_TICK:-1}" ]; do
    j=$((j + 1))
    echo "worker $APP_SERVICE $APP_VERSION job $i${APP_LINES_PER_TICK:+.$j}"
  done
  sleep 1 & wait $!
done
EOF
  chmod 755 "$ctx/root/bin/app" "$ctx/root/bin/worker"
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY root/ /
ENV PATH=/bin APP_SERVICE=$svc APP_VERSION=$ver APP_VARIANT=$VARIANT
LABEL service=$svc kdeck.lab.variant=$VARIANT
EXPOSE 80
CMD ["/bin/app"]
EOF
}

cmd_fault() {
  local what=$1
  load_meta; set_names
  ((${#POS[@]} == 1)) || die "usage: $what --name NAME HOST"
  local n; n=$(host_num "${POS[0]}")
  ((n >= 1 && n <= HOSTS)) || die "no host ${POS[0]} in lab $NAME"
  local h; h=$(hdir "$n")
  case $what in
    sshd-stop)
      # the listener and every session process: existing connections drop too
      kill_pidfile "$h/sshd.pid"
      local pid
      for pid in $(ip netns pids "$(netns_of "$n")"); do
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/sbin/sshd ]] && kill -9 "$pid" 2>/dev/null || true
      done ;;
    sshd-start) host_sshd_start "$n" ;;
    dockerd-stop)
      # dockerd only: ssh still answers, the socket does not (its containers stop with it)
      kill_pidfile "$h/dockerd.pid"
      local i; for i in $(seq 1 100); do alive "$h/dockerd.pid" || break; sleep 0.1; done ;;
    dockerd-start) host_dockerd_start "$n"; host_dockerd_wait "$n" ;;
    link-down) ip link set "$(veth_of "$n")" down ;;
    link-up) ip link set "$(veth_of "$n")" up ;;
  esac
}

cmd_status() {
  local d
  for d in "$ROOT"/*/; do
    [[ -f $d/meta ]] || continue
    local name; name=$(basename "$d")
    [[ -z $NAME || $NAME == "$name" ]] || continue
    (
      NAME=$name; LABDIR=$ROOT/$name; source "$LABDIR/meta"; set_names
      echo "lab $NAME net $NET hosts $HOSTS dir $LABDIR"
      printf '  registry %s %s\n' "$REGISTRY" "$(alive "$LABDIR/registry/registry.pid" && echo up || echo DOWN)"
      for n in $(seq 1 "$HOSTS"); do
        h=$(hdir "$n")
        printf '  klab%s %s sshd %s dockerd %s link %s\n' "$n" "$(host_ip "$n")" \
          "$(alive "$h/sshd.pid" && echo up || echo DOWN)" "$(alive "$h/dockerd.pid" && echo up || echo DOWN)" \
          "$(ip -br link show "$(veth_of "$n")" 2>/dev/null | awk '{print $2}')"
      done
    )
  done
  printf 'control dockerd %s\n' "$(alive "$CTL/dockerd.pid" && echo up || echo down)"
}

cmd=${1:-}; shift || true
if [[ $cmd == exec ]]; then
  # exec --name NAME HOST [-- CMD...]: everything after -- is the command
  pre=(); while (($#)) && [[ $1 != -- ]]; do pre+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  parse "${pre[@]}"
  load_meta; set_names
  ((${#POS[@]} == 1)) || die "usage: exec --name NAME HOST [-- CMD...]"
  n=$(host_num "${POS[0]}")
  (($#)) || set -- /bin/bash -l
  in_host "$n" env HOME=/root "$@"
  exit $?
fi
parse "$@"
if [[ $cmd == up || $cmd == down ]]; then
  need_name
  mkdir -p "$ROOT"
  exec 6>"$ROOT/.$NAME.lock"
  flock 6   # one up/down of a lab at a time (daemons are started with fd 6 closed)
  trap 'flock -u 6 2>/dev/null || true' EXIT
fi
case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  image) cmd_image ;;
  context) cmd_context ;;
  sshd-stop | sshd-start | dockerd-stop | dockerd-start | link-down | link-up) cmd_fault "$cmd" ;;
  status) cmd_status ;;
  control-stop) control_stop ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
