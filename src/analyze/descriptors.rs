//! Other deployment descriptors as evidence: Kubernetes manifests, Helm/kustomize values,
//! Procfile, fly.toml, app.yaml, existing Nomad job files.
//!
//! Teams moving to Nomad often arrive with one of these, and it says what the service needs
//! better than any guess: its image, ports, env, probe and resources. This file finds the
//! descriptors in a repository and hands each to its reader (`kubernetes` for Kubernetes,
//! Helm and kustomize; `platforms` for Procfile, fly.toml and App Engine; `nomad` for job
//! files). Every reader takes text and returns [`DescribedService`]s with evidence; values of
//! secret-looking env names are withheld at the source; anything unreadable is a note. What
//! the readers share for reading text is in `read` (YAML documents, lines of evidence), and
//! quantities (`512Mi`, `250m`, `1gb`) in Nomad's units are `resources`'.

use super::dockerfile::MAX_PORTS;
use super::read::ReadText;
use super::source::{holds_secret, looks_secret};
use super::walk::RepoFiles;
use super::{EnvVar, Evidence, Health, HealthKind, Note, Port, Protocol, Resources};

pub mod kubernetes;
pub mod nomad;
pub mod platforms;

/// One app as another deployment descriptor describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescribedService {
    /// Name the descriptor gives it.
    pub name: String,
    /// Folder of the descriptor, relative to the root.
    pub dir: String,
    /// Image the descriptor runs.
    pub image: Option<String>,
    /// Container ports.
    pub ports: Vec<Port>,
    /// Env vars (secret values already withheld).
    pub env: Vec<EnvVar>,
    /// Liveness/readiness probe or check.
    pub health: Option<Health>,
    /// Resource requests/limits.
    pub resources: Option<Resources>,
    /// Command the descriptor runs.
    pub command: Option<Vec<String>>,
    /// Where each fact came from.
    pub evidence: Vec<Evidence>,
    /// The kind of descriptor (`kubernetes Deployment`, `helm values`, `Procfile`, `fly.toml`,
    /// `app.yaml`, `nomad job`).
    pub kind: String,
}

/// Most services all descriptors together describe; each becomes a group of the job.
const MAX_SERVICES: usize = 200;

/// Most env vars, and pieces of evidence, one described service takes (ports: as a compose
/// service, [`MAX_PORTS`]).
const MAX_ENTRIES: usize = 500;

/// Folders never read for descriptors: other people's code, build output, and test data (a
/// manifest under `tests/` describes a test, not the service).
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    ".git",
    "target",
    "dist",
    "build",
    "test",
    "tests",
    "testdata",
    "__tests__",
    "fixtures",
    "e2e",
];

/// What a file is, as far as descriptors go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DescriptorFile {
    Procfile,
    Fly,
    AppYaml,
    Nomad,
    MaybeNomad,
    Kustomization,
    HelmValues,
    MaybeKubernetes,
}

/// What `path` is; `contains` says whether another file of the repository exists.
fn descriptor_file(contains: &dyn Fn(&str) -> bool, path: &str) -> Option<DescriptorFile> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if dir.split('/').any(|d| SKIPPED_DIRS.contains(&d)) {
        return None;
    }
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    let sibling = |other: &str| {
        if dir.is_empty() {
            contains(other)
        } else {
            contains(&format!("{dir}/{other}"))
        }
    };
    let kind = match name {
        "Procfile" => DescriptorFile::Procfile,
        "fly.toml" => DescriptorFile::Fly,
        "app.yaml" | "app.yml" => DescriptorFile::AppYaml,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => {
            DescriptorFile::Kustomization
        }
        "values.yaml" | "values.yml" if sibling("Chart.yaml") || sibling("Chart.yml") => {
            DescriptorFile::HelmValues
        }
        _ if name.ends_with(".nomad") || name.ends_with(".nomad.hcl") => DescriptorFile::Nomad,
        _ if name.ends_with(".hcl") => DescriptorFile::MaybeNomad,
        _ if yaml && (name.starts_with("docker-compose") || name.starts_with("compose")) => {
            return None
        }
        // A chart's templates are Go templates, not YAML; its values.yaml says the same.
        _ if yaml && is_chart_templates(contains, dir) => return None,
        _ if yaml => DescriptorFile::MaybeKubernetes,
        _ => return None,
    };
    Some(kind)
}

/// Finds every descriptor in the repository.
pub fn scan(files: &RepoFiles, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    let paths = files.files.iter().map(|f| f.path.as_str());
    scan_in(
        paths,
        &|other| files.contains(other),
        &mut |path, notes| files.read_text(path, notes),
        notes,
    )
}

/// [`scan`] over any listing: `paths` relative to the root, `contains` to ask whether a file
/// exists, `read` to read one.
pub fn scan_in<'a>(
    paths: impl Iterator<Item = &'a str>,
    contains: &dyn Fn(&str) -> bool,
    read: &mut ReadText<'_>,
    notes: &mut Vec<Note>,
) -> Vec<DescribedService> {
    let mut services = Vec::new();
    let mut overrides = Vec::new();
    for path in paths {
        let Some(kind) = descriptor_file(contains, path) else { continue };
        let Some(text) = read(path, notes) else { continue };
        match kind {
            DescriptorFile::Procfile => {
                services.extend(platforms::read_procfile(&text, path, notes))
            }
            DescriptorFile::Fly => services.extend(platforms::read_fly_toml(&text, path, notes)),
            DescriptorFile::AppYaml => {
                if platforms::is_app_engine(&text) {
                    services.extend(platforms::read_app_yaml(&text, path, notes));
                } else {
                    services.extend(kubernetes::read_manifests(&text, path, notes));
                }
            }
            DescriptorFile::Nomad | DescriptorFile::MaybeNomad if nomad::is_generated(&text) => {
                notes.push(Note::file(
                    path,
                    "not read: generated by nomad-spec, so it says nothing new about the app",
                ));
            }
            DescriptorFile::Nomad => services.extend(nomad::read_job(&text, path, notes)),
            DescriptorFile::MaybeNomad => {
                if nomad::looks_like_job(&text) {
                    services.extend(nomad::read_job(&text, path, notes));
                }
            }
            DescriptorFile::Kustomization => {
                overrides.extend(kubernetes::read_kustomization(&text, path, notes));
            }
            DescriptorFile::HelmValues => {
                let chart = chart_path(contains, path).and_then(|chart| read(&chart, notes));
                services.extend(kubernetes::read_helm_values(&text, chart.as_deref(), path, notes));
            }
            DescriptorFile::MaybeKubernetes => {
                if kubernetes::looks_like_manifest(&text) {
                    services.extend(kubernetes::read_manifests(&text, path, notes));
                }
            }
        }
    }
    kubernetes::apply_image_overrides(&mut services, &overrides);
    capped(services, notes)
}

/// The services with their lists cut to the caps, each cut said in a note: a manifest listing
/// 5,000 container ports made a job of 1.4 MB.
fn capped(mut services: Vec<DescribedService>, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    if services.len() > MAX_SERVICES {
        notes.push(Note::general(format!(
            "{} more services described by deployment descriptors left out: at most \
             {MAX_SERVICES} are read",
            services.len() - MAX_SERVICES
        )));
        services.truncate(MAX_SERVICES);
    }
    for service in &mut services {
        let file = service.evidence.first().map(|e| e.file.clone());
        let mut cut = |what: &str, count: usize, max: usize| {
            notes.push(Note {
                file: file.clone(),
                line: None,
                message: format!(
                    "{} `{}`: {count} {what}; only the first {max} are kept",
                    service.kind, service.name
                ),
            });
        };
        if service.ports.len() > MAX_PORTS {
            cut("ports", service.ports.len(), MAX_PORTS);
            service.ports.truncate(MAX_PORTS);
        }
        if service.env.len() > MAX_ENTRIES {
            cut("env vars", service.env.len(), MAX_ENTRIES);
            service.env.truncate(MAX_ENTRIES);
        }
        if service.evidence.len() > MAX_ENTRIES {
            cut("pieces of evidence", service.evidence.len(), MAX_ENTRIES);
            service.evidence.truncate(MAX_ENTRIES);
        }
    }
    services
}

fn is_chart_templates(contains: &dyn Fn(&str) -> bool, dir: &str) -> bool {
    let Some(chart) = dir.strip_suffix("templates") else { return false };
    if !(chart.is_empty() || chart.ends_with('/')) {
        return false;
    }
    contains(&format!("{chart}Chart.yaml")) || contains(&format!("{chart}Chart.yml"))
}

/// The `Chart.yaml` next to a chart's `values.yaml`.
fn chart_path(contains: &dyn Fn(&str) -> bool, values: &str) -> Option<String> {
    let dir = super::walk::parent_dir(values);
    ["Chart.yaml", "Chart.yml"]
        .iter()
        .map(|name| if dir == "." { name.to_string() } else { format!("{dir}/{name}") })
        .find(|path| contains(path))
}

/// A health check on `port` says what the port speaks (HTTP or gRPC; TCP says nothing).
pub fn mark_port_protocol(service: &mut DescribedService, port: u16, kind: HealthKind) {
    let protocol = match kind {
        HealthKind::Http => Protocol::Http,
        HealthKind::Grpc => Protocol::Grpc,
        HealthKind::Tcp => return,
    };
    if let Some(found) = service.ports.iter_mut().find(|p| p.container == port) {
        found.protocol = protocol;
    }
}

/// An env var as a descriptor gives it; a secret, by name or by value, never keeps its value.
pub fn env_var(name: &str, value: Option<&str>) -> EnvVar {
    let secret = match value {
        Some(value) => holds_secret(name, value),
        None => looks_secret(name),
    };
    EnvVar {
        name: name.to_string(),
        secret,
        default: if secret { None } else { value.map(str::to_string) },
        ..EnvVar::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_files() {
        let repo = [
            "Procfile",
            "fly.toml",
            "api/app.yaml",
            "deploy/kustomization.yaml",
            "charts/shop/Chart.yaml",
            "charts/shop/values.yaml",
            "charts/shop/templates/deployment.yaml",
            "deploy/k8s/api.yaml",
            "deploy/shop.nomad",
            "deploy/shop.nomad.hcl",
            "infra/main.hcl",
            "docker-compose.yml",
            "compose.yaml",
            "config/values.yaml",
            "node_modules/x/deployment.yaml",
            "src/main.py",
            "tests/fixtures/job.nomad",
        ];
        let contains = |path: &str| repo.contains(&path);
        let kinds: Vec<Option<DescriptorFile>> =
            repo.iter().map(|path| descriptor_file(&contains, path)).collect();
        use DescriptorFile as D;
        assert_eq!(
            kinds,
            [
                Some(D::Procfile),
                Some(D::Fly),
                Some(D::AppYaml),
                Some(D::Kustomization),
                Some(D::MaybeKubernetes),
                Some(D::HelmValues),
                None,
                Some(D::MaybeKubernetes),
                Some(D::Nomad),
                Some(D::Nomad),
                Some(D::MaybeNomad),
                None,
                None,
                Some(D::MaybeKubernetes),
                None,
                None,
                None,
            ]
        );
    }

    #[test]
    fn a_repository_with_a_chart_and_a_kustomization() {
        let files = [
            ("charts/shop/Chart.yaml", "apiVersion: v2\nname: shop\nappVersion: \"1.0\"\n"),
            ("charts/shop/values.yaml", "image:\n  repository: ghcr.io/acme/shop\nservice:\n  port: 8000\n"),
            ("charts/shop/templates/deployment.yaml", "kind: Deployment\nname: {{ .Release.Name }}\n"),
            ("deploy/base/api.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:1.0\n"),
            ("deploy/prod/kustomization.yaml", "images:\n  - name: ghcr.io/acme/api\n    newTag: \"2.0\"\n"),
            ("deploy/broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n"),
            (".github/workflows/ci.yml", "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"),
        ];
        let contains = |path: &str| files.iter().any(|(p, _)| *p == path);
        let mut read = |path: &str, _: &mut Vec<Note>| {
            files.iter().find(|(p, _)| *p == path).map(|(_, text)| text.to_string())
        };
        let mut notes = Vec::new();
        let services = scan_in(files.iter().map(|(p, _)| *p), &contains, &mut read, &mut notes);
        let found: Vec<(&str, Option<&str>, &str)> = services
            .iter()
            .map(|s| (s.name.as_str(), s.image.as_deref(), s.kind.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("shop", Some("ghcr.io/acme/shop:1.0"), "helm values"),
                ("api", Some("ghcr.io/acme/api:2.0"), "kubernetes Deployment"),
            ]
        );
        assert_eq!(notes.len(), 1, "only the broken manifest: {notes:?}");
        assert_eq!(notes[0].file.as_deref(), Some("deploy/broken.yaml"));
    }

    #[test]
    fn secret_env_values_are_withheld() {
        assert_eq!(env_var("DB_PASSWORD", Some("hunter2")).default, None);
        assert!(env_var("DB_PASSWORD", Some("hunter2")).secret);
        assert_eq!(env_var("LOG_LEVEL", Some("info")).default.as_deref(), Some("info"));
    }

    #[test]
    fn long_lists_of_a_descriptor_are_capped_with_a_note() {
        let ports: String = (1..=300).map(|p| format!("        - containerPort: {p}\n")).collect();
        let env: String =
            (0..600).map(|i| format!("        - name: V{i}\n          value: x\n")).collect();
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports:\n{ports}        env:\n{env}"
        );
        let mut notes = Vec::new();
        let services = scan_in(
            ["k8s/web.yaml"].into_iter(),
            &|_| false,
            &mut |_, _| Some(manifest.clone()),
            &mut notes,
        );
        assert_eq!((services[0].ports.len(), services[0].env.len()), (100, 500));
        assert!(services[0].evidence.len() <= 500);
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert!(
            messages
                .contains(&"kubernetes Deployment `web`: 300 ports; only the first 100 are kept"),
            "{messages:?}"
        );
        assert!(
            messages.contains(
                &"kubernetes Deployment `web`: 600 env vars; only the first 500 are kept"
            ),
            "{messages:?}"
        );
        assert_eq!(notes[0].file.as_deref(), Some("k8s/web.yaml"));
    }
}
