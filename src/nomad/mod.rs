//! The Nomad engine: HTTP API client, plan, deploy, watch, diagnose, fix and roll back.

pub mod api;
pub mod client;
pub mod diagnose;
pub mod fix;
pub mod plan;
pub mod watch;

pub use client::{Blocking, Indexed, LogStream, NomadClient, NomadConfig, NomadError};
