//! `.nomad-spec.toml`: the repository's cluster conventions.
