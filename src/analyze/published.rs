//! Images the repository publishes for the services it builds.
//!
//! A service built from the repository needs an image a Nomad client can pull, and the
//! repository often says where its images go: compose's `image:` beside `build:`, a variant
//! compose file that runs prebuilt images (`docker-compose.images.yml`), deployment manifests
//! (read as descriptors), and the CI workflows that push them (`docker/build-push-action`'s
//! `tags`, `docker/metadata-action`'s `images`, a reusable workflow's `image-names`). This file finds the ones a service's name or build context matches;
//! it never invents one. A bare local name (`atsea_app`, `demo-microservice`) is a tag on the
//! developer's machine, not a published image: never a default.

/// Whether an image reference names a local, never-pushed image: one path component, no
/// registry (`atsea_db`, `demo-microservice:latest`).
pub fn is_local_name(image: &str) -> bool {
    !without_tag(image).contains('/')
}

/// The registry host an image reference names (`ghcr.io/acme/web:1` → `ghcr.io`,
/// `localhost:5000/app` → `localhost:5000`); `None` for Docker Hub's short names
/// (`postgres`, `grafana/grafana`), whose first component is no host.
pub fn registry_host(image: &str) -> Option<&str> {
    let (host, _) = image.split_once('/')?;
    (host.contains('.') || host.contains(':') || host == "localhost").then_some(host)
}

/// An image reference without its tag or digest (`postgres:latest` → `postgres`;
/// `host:5000/app` stays whole, its colon is a port).
pub fn without_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => path,
        _ => image,
    }
}

use serde_json::Value;

use super::read::line_of;
use super::walk::{self, RepoFiles};
use super::{Evidence, Note};

/// An image the repository publishes, for a service name or a build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The compose service name it is for, when the file names one.
    pub service: Option<String>,
    /// The build context it is built from (relative to the root), when the file names one.
    pub context: Option<String>,
    /// The image reference, without a CI expression in it.
    pub image: String,
    /// Where it is named.
    pub evidence: Evidence,
}

/// Compose and stack files other than the main one and its override (`docker-stack.yml`,
/// `docker-compose.images.yml`, `docker-compose.prod.yml`): the images they run for service
/// names, when those are published images.
pub fn from_compose_variants(
    files: &RepoFiles,
    main: &[String],
    notes: &mut Vec<Note>,
) -> Vec<Published> {
    let mut found = Vec::new();
    for file in &files.files {
        let name = walk::file_name(&file.path).to_ascii_lowercase();
        let variant = (name.starts_with("docker-compose")
            || name.starts_with("compose")
            || name.starts_with("docker-stack")
            || name.starts_with("stack"))
            && (name.ends_with(".yml") || name.ends_with(".yaml"));
        if !variant || main.contains(&file.path) {
            continue;
        }
        let Some(text) = files.read_text(&file.path, notes) else { continue };
        let Ok(doc) = serde_saphyr::from_str::<Value>(&text) else { continue };
        let Some(Value::Object(services)) = doc.get("services") else { continue };
        for (service, body) in services {
            let Some(image) = body.get("image").and_then(Value::as_str) else { continue };
            if is_local_name(image) || image.contains('$') {
                continue;
            }
            let line = line_of(&text, &format!("image: {image}"), 0);
            found.push(Published {
                service: Some(service.clone()),
                context: None,
                image: image.to_string(),
                evidence: Evidence::at(
                    &file.path,
                    line,
                    format!("{} runs the published image {image}", file.path),
                ),
            });
        }
    }
    found
}

/// GitHub Actions workflows that build and push images: `docker/build-push-action` steps
/// (`context` and literal `tags`, or the `images` of a `docker/metadata-action` step of the
/// same job), and reusable build workflows called with `context` and `image-names`.
pub fn from_workflows(files: &RepoFiles, notes: &mut Vec<Note>) -> Vec<Published> {
    let mut found = Vec::new();
    for file in files.under(".github/workflows") {
        let name = walk::file_name(&file.path);
        if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
            continue;
        }
        let Some(text) = files.read_text(&file.path, notes) else { continue };
        let Ok(doc) = serde_saphyr::from_str::<Value>(&text) else { continue };
        let Some(Value::Object(jobs)) = doc.get("jobs") else { continue };
        for job in jobs.values() {
            let mut metadata_images = Vec::new();
            let mut builds: Vec<(Option<String>, Vec<String>, bool)> = Vec::new();
            if let Some(with) = job.get("with") {
                // A reusable workflow that builds: `context` and `image-names`.
                let names =
                    with.get("image-names").or_else(|| with.get("images")).and_then(Value::as_str);
                if let Some(names) = names {
                    let context = with.get("context").and_then(Value::as_str).map(str::to_string);
                    builds.push((context, names.lines().map(str::to_string).collect(), false));
                }
            }
            for step in job.get("steps").and_then(Value::as_array).into_iter().flatten() {
                let uses = step.get("uses").and_then(Value::as_str).unwrap_or_default();
                let with = step.get("with");
                let get = |key: &str| with.and_then(|w| w.get(key)).and_then(Value::as_str);
                if uses.starts_with("docker/metadata-action") {
                    metadata_images
                        .extend(get("images").unwrap_or_default().lines().map(str::to_string));
                } else if uses.starts_with("docker/build-push-action") {
                    let push =
                        with.and_then(|w| w.get("push")).is_none_or(|p| p != &Value::Bool(false));
                    let tags = get("tags").unwrap_or_default();
                    let uses_metadata = tags.contains("steps.") && tags.contains("outputs.tags");
                    let literal: Vec<String> = tags
                        .split(['\n', ','])
                        .map(str::trim)
                        .filter(|t| !t.is_empty() && !t.contains("${{"))
                        .map(str::to_string)
                        .collect();
                    builds.push((
                        get("context").map(str::to_string),
                        literal,
                        uses_metadata && push,
                    ));
                }
            }
            for (context, images, from_metadata) in builds {
                let images = if from_metadata { metadata_images.clone() } else { images };
                for image in images {
                    let image = image.split(',').next().unwrap_or_default().trim();
                    let image = image.trim_start_matches("name=").trim();
                    if image.is_empty() || image.contains("${{") || is_local_name(image) {
                        continue;
                    }
                    let line = line_of(&text, image, 0);
                    let context = context.as_deref().map(|c| {
                        let c = c.trim_start_matches("./").trim_end_matches('/');
                        if c.is_empty() || c == "." {
                            ".".to_string()
                        } else {
                            c.to_string()
                        }
                    });
                    found.push(Published {
                        service: None,
                        context,
                        image: image.to_string(),
                        evidence: Evidence::at(
                            &file.path,
                            line,
                            format!("the workflow pushes {image}"),
                        ),
                    });
                }
            }
        }
    }
    found
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
