//! Stateful fakes of the external services nomad-spec talks to, served on loopback.
//!
//! Each fake keeps real state and answers in the real API's JSON shapes, so the real clients
//! can be pointed at it through the same environment variables a user would set.

pub mod consul;
pub mod fabio;
pub mod faults;
pub mod git_http;
pub mod github;
pub mod gitlab;
pub mod langfuse;
pub mod llm;
pub mod nomad;
pub mod otlp;
pub mod qdrant;
pub mod registry;
pub mod server;
pub mod vault;
