# syntax=docker/dockerfile:1
# nomad-spec container image: the image the GitHub Action (`action.yml`) and the GitLab CI
# template (`templates/nomad-spec.gitlab-ci.yml`) run, published by
# `.github/workflows/release.yml` for linux/amd64 and linux/arm64.
#
# Two stages: `build` compiles the release binary with the locked dependencies; `runtime` is
# Debian slim with only what the binary loads at run time (CA certificates for TLS to the
# forge, Nomad, Vault, Consul, the LLM and git over HTTPS; TLS itself is rustls, compiled in)
# and the binary as the entrypoint. No git, no OpenSSL, no shell tools: nomad-spec clones and
# pushes through libgit2, linked in.
#
# The user: uid 1001, not root, and not an arbitrary uid either. GitHub runs a Docker action
# with the image's user and no `--user` option, and mounts the workspace, `$HOME` and the
# files behind `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` owned by the runner's user, which
# is uid 1001 on GitHub-hosted runners; those files are writable by their owner only. GitHub's
# "Dockerfile support" page therefore says to run actions as root. Running as 1001 keeps the
# process unprivileged and still owns those mounts on hosted runners (libgit2 also refuses a
# repository owned by another uid). On a self-hosted runner whose user has another uid, the
# file commands cannot be written by 1001; run the image there with `--user "$(id -u)"` (a
# `docker run` step) or build it with `--build-arg UID=<the runner's uid>`; without either,
# nomad-spec warns that it cannot write the outputs and the summary, and the run goes on. On
# GitLab the Docker executor makes the checkout writable by the job's user (umask 0000, or a
# chown with FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR, which needs `id`: Debian slim has it).

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
WORKDIR /src
# The rust image usually has it; named here so the zlib that libgit2 links against is found
# the same way on every base image update.
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
# The workspace manifest names tests/fakes as a member, so cargo needs it to load the
# workspace even though only the main package is built; prompts/ is compiled into the binary
# (`include_str!` in src/llm/prompt.rs). tests/packaging.rs checks this list against the source.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY prompts ./prompts
# Cargo reads the manifest's declared benchmarks even to build only the binary.
COPY benches ./benches
COPY tests/fakes ./tests/fakes
# The registry and target caches speed up local rebuilds; the binary is copied out of the cache
# in the same step. One target cache per platform, since buildx builds both in parallel.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,id=nomad-spec-target-${TARGETPLATFORM} \
    cargo build --release --locked --package nomad-spec --bin nomad-spec \
    && cp target/release/nomad-spec /usr/local/bin/nomad-spec

FROM debian:bookworm-slim AS runtime
ARG UID=1001
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid "${UID}" --user-group --create-home --home-dir /home/nomad-spec \
       --shell /usr/sbin/nologin nomad-spec
COPY --from=build /usr/local/bin/nomad-spec /usr/local/bin/nomad-spec
USER ${UID}
WORKDIR /home/nomad-spec
ENTRYPOINT ["/usr/local/bin/nomad-spec"]
CMD ["--help"]
