# The bitops image: the bitops binary (its six built-in plugins embedded), the tools those
# plugins drive, and BitOps' folder layout, so that
#
#   docker build -t bitops .
#   docker run --rm -e BITOPS_ENVIRONMENT=dev -v "$PWD:/opt/bitops_deployment" bitops
#
# behaves as BitOps' image does. README.md, "Run with Docker", has the details.
#
# Needs BuildKit (DOCKER_BUILDKIT=1 with Docker 20.10+; the default builder since 23.0):
# RUN --mount is used for caches and for an optional CA bundle (see "ca" below). No
# `# syntax=` line: the frontend built into the engine is enough, and nothing is pulled
# for it.
#
# Build arguments (all optional):
#   BUILDER_IMAGE   the Rust toolchain image of the first stage. Default: the official
#                   rust:1.95-bookworm, pinned by digest. CI here cannot pull images and
#                   passes an image it made itself (debootstrap + the host's Rust 1.95
#                   toolchain, .ci/docker.sh); the stage's commands are the same.
#   BASE_IMAGE      the runtime base. Default: the official debian:bookworm-slim, pinned by
#                   digest. CI passes a debootstrap'd Debian bookworm (minbase).
#   TERRAFORM_VERSION, HELM_VERSION, KUBECTL_VERSION and, for each tool, *_BASE_URL and
#   *_SHA256_AMD64 / *_SHA256_ARM64: where the release archives are downloaded from and
#   the SHA-256 each must have. The defaults are the vendors' official URLs and the sums
#   they publish (Helm's release notes, HashiCorp's SHA256SUMS, dl.k8s.io's .sha256), copied
#   from public records, as the vendors' sites are not reachable where this file is tested;
#   only the kubectl amd64 sum could be checked there against the binary itself. A
#   download whose sum differs fails the build. CI serves the archives from 127.0.0.1.
#   AWS_CLI_V2_VERSION (empty by default), AWS_CLI_V2_BASE_URL, AWS_CLI_V2_SHA256_AMD64 /
#   _ARM64: AWS CLI v2 instead of v1. v2 is not on PyPI; it comes only from AWS's own
#   download (awscli-exe-linux-<arch>-<version>.zip), and AWS publishes a PGP signature for
#   it, not a checksum: verify one download with the signature, then pass its SHA-256. A
#   version without the sum for the architecture fails the build. Without it, the image has
#   the AWS CLI v1 from PyPI.
#   VERSION, REVISION, CREATED: OCI labels.
#
# Targets: the default (the last stage) is the image; `--target base` is the same image
# with BitOps' ONBUILD steps, for team images built the BitOps way (README, "Custom image").
#
# Secret "ca" (optional): a CA bundle for cargo, pip and curl in the build, for networks
# that intercept TLS:  docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .
# It is mounted only while a RUN step runs and never lands in a layer.
#
# The digests below were taken from public build records of these tags (no registry is
# reachable where this file is tested); refresh them with
#   docker buildx imagetools inspect rust:1.95-bookworm
#   docker buildx imagetools inspect debian:bookworm-slim
ARG BUILDER_IMAGE=rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1
ARG BASE_IMAGE=debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

# ---- 1. bitops, built with the locked dependencies ------------------------------------
FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY plugins ./plugins
COPY migrations ./migrations
# The registry and target caches live outside the layers: a rebuild after a source change
# compiles only bitops itself.
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=cache,id=bitops-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=bitops-target,target=/src/target \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca; fi; \
    triple="$(uname -m)-unknown-linux-gnu"; \
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple"; \
    install -D -m 0755 -s "target/$triple/release/bitops" /out/bitops; \
    /out/bitops --version

# ---- 2. Terraform, Helm, kubectl: the vendors' release archives, checksum-verified ---------
FROM ${BASE_IMAGE} AS downloads
ARG TARGETARCH
ARG TERRAFORM_VERSION=1.15.5
ARG TERRAFORM_BASE_URL=https://releases.hashicorp.com/terraform
ARG TERRAFORM_SHA256_AMD64=702b2136af6728c8ff037f843dd2dbce2b7ad88786b7381d1d72aefa250f601c
ARG TERRAFORM_SHA256_ARM64=06e7b48de826146c6d9331ba35b13da12332d8392be30d1dd6b789ba4713fff0
ARG HELM_VERSION=4.1.4
ARG HELM_BASE_URL=https://get.helm.sh
ARG HELM_SHA256_AMD64=70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09
ARG HELM_SHA256_ARM64=13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1
ARG KUBECTL_VERSION=1.35.2
ARG KUBECTL_BASE_URL=https://dl.k8s.io/release
ARG KUBECTL_SHA256_AMD64=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277
ARG KUBECTL_SHA256_ARM64=cd859449f54ad2cb05b491c490c13bb836cdd0886ae013c0aed3dd67ff747467
ARG AWS_CLI_V2_VERSION=
ARG AWS_CLI_V2_BASE_URL=https://awscli.amazonaws.com
ARG AWS_CLI_V2_SHA256_AMD64=
ARG AWS_CLI_V2_SHA256_ARM64=
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
      amd64) tf_sum=$TERRAFORM_SHA256_AMD64 helm_sum=$HELM_SHA256_AMD64 kubectl_sum=$KUBECTL_SHA256_AMD64 ;; \
      arm64) tf_sum=$TERRAFORM_SHA256_ARM64 helm_sum=$HELM_SHA256_ARM64 kubectl_sum=$KUBECTL_SHA256_ARM64 ;; \
      *) echo "unsupported architecture: $arch (amd64 and arm64 are)" >&2; exit 1 ;; \
    esac; \
    ca=; if [ -s /run/secrets/ca ]; then ca="--cacert /run/secrets/ca"; fi; \
    fetch() { \
      echo "downloading $1"; \
      curl -fsSL --retry 3 $ca -o "$2" "$1"; \
      echo "$3  $2" | sha256sum -c - || { echo "SHA-256 mismatch for $1" >&2; exit 1; }; \
    }; \
    mkdir -p /dl /out; cd /dl; \
    fetch "$TERRAFORM_BASE_URL/$TERRAFORM_VERSION/terraform_${TERRAFORM_VERSION}_linux_$arch.zip" terraform.zip "$tf_sum"; \
    unzip -q terraform.zip terraform -d /out; \
    fetch "$HELM_BASE_URL/helm-v$HELM_VERSION-linux-$arch.tar.gz" helm.tar.gz "$helm_sum"; \
    tar -xzf helm.tar.gz "linux-$arch/helm"; mv "linux-$arch/helm" /out/helm; \
    fetch "$KUBECTL_BASE_URL/v$KUBECTL_VERSION/bin/linux/$arch/kubectl" /out/kubectl "$kubectl_sum"; \
    chmod 0755 /out/terraform /out/helm /out/kubectl; \
    mkdir -p /opt/aws-cli; \
    if [ -n "$AWS_CLI_V2_VERSION" ]; then \
      case "$arch" in amd64) aws_arch=x86_64 aws_sum=$AWS_CLI_V2_SHA256_AMD64 ;; arm64) aws_arch=aarch64 aws_sum=$AWS_CLI_V2_SHA256_ARM64 ;; esac; \
      if [ -z "$aws_sum" ]; then \
        echo "AWS_CLI_V2_VERSION=$AWS_CLI_V2_VERSION needs AWS_CLI_V2_SHA256_$(echo "$arch" | tr a-z A-Z): AWS publishes a PGP signature, not a checksum; verify one download with it and pass its sha256sum" >&2; exit 1; \
      fi; \
      fetch "$AWS_CLI_V2_BASE_URL/awscli-exe-linux-$aws_arch-$AWS_CLI_V2_VERSION.zip" awscli.zip "$aws_sum"; \
      unzip -q awscli.zip; ./aws/install -i /opt/aws-cli -b /opt/aws-cli/bin; \
    fi; \
    cd /; rm -rf /dl

# ---- 3. the image ---------------------------------------------------------------------
FROM ${BASE_IMAGE} AS image
# What hooks and playbooks commonly use (git jq rsync wget curl unzip ssh), Python for
# Ansible and the AWS CLI, tini as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bash ca-certificates curl git jq openssh-client python3 python3-venv rsync tini unzip wget \
 && rm -rf /var/lib/apt/lists/*
# Python tools, pinned: the full `ansible` package (ansible-core plus the community
# collections, amazon.aws and community.aws among them) with boto3/botocore for the AWS
# modules, as BitOps' Ansible plugin has them; the AWS CLI v1 (unless AWS_CLI_V2_VERSION);
# cfn-lint; shyaml, which hooks and plugins written for BitOps' image call. In a venv whose
# bin/ is first on PATH, so `python3` in a hook or Ansible's interpreter discovery on
# localhost finds these packages.
# CHECKPOINT_DISABLE: no Terraform upgrade check (a network call, and a file under /root).
ENV PATH=/opt/bitops/venv/bin:$PATH CHECKPOINT_DISABLE=1
ARG AWS_CLI_V2_VERSION=
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=cache,id=bitops-pip,target=/root/.cache/pip \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    awscli=awscli==1.46.3; \
    if [ -n "$AWS_CLI_V2_VERSION" ]; then awscli=; fi; \
    python3 -m venv /opt/bitops/venv; \
    /opt/bitops/venv/bin/pip install --disable-pip-version-check -q \
      ansible==12.3.0 ansible-core==2.19.14 \
      boto3==1.44.8 botocore==1.44.8 \
      $awscli \
      cfn-lint==1.58.0 \
      shyaml==0.6.2
COPY --from=downloads /out/ /usr/local/bin/
COPY --from=downloads /opt/aws-cli /opt/aws-cli
COPY --from=build /out/bitops /usr/local/bin/bitops
# The BitOps layout: the image-level config (bitops' built-in default: BitOps' standard
# deployment order and plugin list), the plugins folder, the mount point of the ops repo,
# the log folder (world-writable and sticky, like /tmp, so that `--user` runs can log).
# The plugins folder starts empty: the six built-in plugins are used from the binary
# whenever the folder has none of that name. An image FROM this one adds its own with
# `bitops install` (README, "Custom image"); were the built-ins installed here, that
# install would have to replace directories of a lower layer, which overlayfs refuses
# (EXDEV) and `bitops install` does not yet work around.
COPY src/repo/default_config.yaml /opt/bitops/bitops.config.yaml
RUN mkdir -p /opt/bitops/scripts/installed_plugins /opt/bitops_deployment /var/log/bitops \
 && chmod 1777 /var/log/bitops \
 && if [ -x /opt/aws-cli/bin/aws ]; then ln -s /opt/aws-cli/bin/aws /usr/local/bin/aws; fi \
 && bitops --version && bitops plugins && terraform version && helm version --short \
 && kubectl version --client && ansible-playbook --version && aws --version && cfn-lint --version \
 && shyaml --version
WORKDIR /opt/bitops_deployment
# Last, so that a new revision changes only the image's metadata, not its layers.
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="bitops" \
      org.opencontainers.image.description="Deploys BitOps operations repos: bitops with Terraform, Ansible, Helm, kubectl, the AWS CLI and cfn-lint" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# tini is PID 1: it forwards `docker stop`'s SIGTERM to bitops (which stops the running
# step's process group, writes its report and exits 143) and reaps orphans.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/bitops"]
CMD ["deploy"]

# ---- 4. `--target base`: BitOps' ONBUILD steps ------------------------------------------
# A team Dockerfile that is only `FROM <this>` (BitOps' `FROM bitovi/bitops:base`), beside
# a bitops.config.yaml and an optional plugins/ folder, gets its config at
# /opt/bitops/bitops.config.yaml, its plugins under /opt/bitops-local-plugins (sources
# `file:///opt/bitops-local-plugins/NAME`, BitOps' convention) and `bitops install` run at
# its build. The config is named first so that the COPY works without a plugins/ folder
# (as in BitOps, it also lands in /opt/bitops-local-plugins). Not in the default image:
# ONBUILD steps run in every image built FROM it, and would fail in one that only adds a
# package, for want of a bitops.config.yaml.
FROM image AS base
ONBUILD COPY bitops.config.yaml plugin[s] /opt/bitops-local-plugins/
ONBUILD COPY bitops.config.yaml /opt/bitops/bitops.config.yaml
ONBUILD RUN bitops install

# ---- 5. the default image ---------------------------------------------------------------
FROM image
