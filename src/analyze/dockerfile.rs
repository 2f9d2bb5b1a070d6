//! Dockerfile parsing: stages, base images, exposed ports, commands, health checks.
