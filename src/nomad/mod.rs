//! The Nomad engine: HTTP API client, plan, deploy, watch, diagnose, fix and roll back.
