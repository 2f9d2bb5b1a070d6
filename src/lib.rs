//! nomad-spec: from "there is a Dockerfile" to "it runs healthy on HashiCorp Nomad".
//!
//! The library holds the whole engine; `main.rs` is a thin command-line shell over `cli`.
//! Pure parts (`analyze` over a file tree, `jobspec`) carry most of the logic and tests; the I/O
//! parts (`nomad`, `git`) are thin clients. See `DESIGN.md` in the steering repository for
//! the map.

pub mod analyze;
pub mod checks;
pub mod cli;
pub mod command;
pub mod conversation;
pub mod event;
pub mod file;
pub mod forge;
pub mod generation;
pub mod git;
pub mod http;
pub mod infra;
pub mod jobspec;
pub mod llm;
pub mod markdown;
pub mod memory;
pub mod nomad;
pub mod serve;
pub mod settings;
pub mod telemetry;
pub mod tls;
pub mod workflow;
