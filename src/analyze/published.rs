//! Images the repository publishes for the services it builds.
//!
//! A service built from the repository needs an image a Nomad client can pull, and the
//! repository often says where its images go: compose's `image:` beside `build:`, a variant
//! compose file that runs prebuilt images (`docker-compose.images.yml`), deployment manifests
//! (read as descriptors), and the CI workflows that push them (`docker/build-push-action`'s
//! `tags`, `docker/metadata-action`'s `images`, a reusable workflow's `image-names`, GitLab's
//! `$CI_REGISTRY_IMAGE`). This file finds the ones a service's name or build context matches;
//! it never invents one. A bare local name (`atsea_app`, `demo-microservice`) is a tag on the
//! developer's machine, not a published image: never a default.

/// Whether an image reference names a local, never-pushed image: one path component, no
/// registry (`atsea_db`, `demo-microservice:latest`).
pub fn is_local_name(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    let path = without_digest.rsplit_once(':').map_or(without_digest, |(path, tag)| {
        // `host:5000/x` has a port, not a tag, before the slash.
        if tag.contains('/') {
            without_digest
        } else {
            path
        }
    });
    !path.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names() {
        for image in ["atsea_db", "demo-microservice", "app:1.0", "adservice"] {
            assert!(is_local_name(image), "{image}");
        }
        for image in [
            "dockersamples/examplevotingapp_vote",
            "ghcr.io/acme/api:1.2",
            "localhost:5000/app",
            "registry.example.com/team/app@sha256:abc",
        ] {
            assert!(!is_local_name(image), "{image}");
        }
    }
}
