# bitops image: the binary, its built-in plugins (embedded), and the tools they drive:
# Terraform, Ansible, Helm, kubectl, the AWS CLI and cfn-lint.
# Build: docker build -t bitops .
# Run:   docker run --rm -e BITOPS_ENVIRONMENT=dev -v "$PWD:/opt/bitops_deployment" bitops deploy
# (CI here has no Docker engine: this file is not built by .ci/run.)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY plugins ./plugins
RUN cargo build --release --locked && strip target/release/bitops

FROM debian:bookworm-slim
ARG TERRAFORM_VERSION=1.15.5
ARG HELM_VERSION=3.19.0
ARG KUBECTL_VERSION=1.35.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates curl git tini unzip \
      python3 python3-venv openssh-client \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/tools \
 && /opt/tools/bin/pip install --no-cache-dir ansible-core awscli cfn-lint \
 && ln -s /opt/tools/bin/ansible-playbook /opt/tools/bin/aws /opt/tools/bin/cfn-lint /usr/local/bin/
RUN curl -fsSLo /tmp/tf.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip" \
 && unzip -q /tmp/tf.zip terraform -d /usr/local/bin && rm /tmp/tf.zip \
 && curl -fsSL "https://get.helm.sh/helm-v${HELM_VERSION}-linux-amd64.tar.gz" | tar -xz -C /tmp \
 && mv /tmp/linux-amd64/helm /usr/local/bin/helm && rm -rf /tmp/linux-amd64 \
 && curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && chmod 755 /usr/local/bin/kubectl
COPY --from=build /src/target/release/bitops /usr/local/bin/bitops
# The BitOps layout: installed plugins (the built-in ones by default) and the log folder.
RUN mkdir -p /opt/bitops/scripts/installed_plugins /opt/bitops_deployment /var/log/bitops \
 && bitops install --plugins-dir /opt/bitops/scripts/installed_plugins
WORKDIR /opt/bitops_deployment
# tini reaps orphaned processes, which a PID 1 must do
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/bitops"]
CMD ["deploy"]
