# syntax=docker/dockerfile:1
# nomad-spec container image: a build stage that compiles the release binary, then a small
# runtime stage with CA certificates, the OpenSSL runtime libgit2 links against, git (for
# credential helpers), and the binary as the non-root entrypoint.

FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
# The workspace manifest names tests/fakes as a member, so cargo needs it to load the
# workspace even though only the main package is built.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests/fakes ./tests/fakes
RUN cargo build --release --locked --package nomad-spec --bin nomad-spec \
    && cp target/release/nomad-spec /usr/local/bin/nomad-spec

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/nomad-spec nomad-spec
COPY --from=build /usr/local/bin/nomad-spec /usr/local/bin/nomad-spec
USER 10001
WORKDIR /home/nomad-spec
ENTRYPOINT ["/usr/local/bin/nomad-spec"]
CMD ["--help"]
