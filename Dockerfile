# bitops image: the binary plus the BitOps folder layout.
# Build: docker build -t bitops .
# Run:   docker run -e BITOPS_ENVIRONMENT=dev -v "$PWD:/opt/bitops_deployment" bitops deploy
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked && strip target/release/bitops

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates git tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /opt/bitops/scripts/installed_plugins /opt/bitops_deployment /var/log/bitops
COPY --from=build /src/target/release/bitops /usr/local/bin/bitops
WORKDIR /opt/bitops_deployment
# tini reaps orphaned processes, which a PID 1 must do
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/bitops"]
CMD ["deploy"]
