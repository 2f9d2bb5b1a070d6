//! Compose file parsing: services, builds, ports, environment, volumes, dependencies.
