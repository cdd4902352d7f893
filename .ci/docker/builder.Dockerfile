# CI only (.ci/docker.sh): the Rust builder image that stands in for the official
# rust:1.95-bookworm, which cannot be pulled here. The locally made Debian bookworm base,
# Debian's C toolchain (the linker), and the host's Rust toolchain copied in, laid out as
# in the official image: CARGO_HOME=/usr/local/cargo, cargo and rustc on PATH.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && rustc --version && cargo --version
