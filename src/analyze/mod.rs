//! The analyzer: a repository tree in, an [`Analysis`] out.
//!
//! It reads files only (no network, no execution). The walk (`walk`) decides which files are
//! read at all; parsers for each kind of evidence live in their own files (`dockerfile`,
//! `compose`, `manifest`, `source`, `descriptors`, `links`) and this module assembles their
//! findings into services. Nothing here panics on bad input: what cannot be read becomes a
//! `Note`.
//!
//! Services come from compose first (one per compose service, in compose order), else from
//! Dockerfile folders (one per folder), then from other deployment descriptors that match no
//! service yet. Ports are ordered main port first: a port compose publishes, else one the
//! built stage exposes, else one compose exposes or a descriptor names; only when nothing
//! declares a port do inferred ones count (the service's own `PORT`-like env, another service
//! or a proxy reaching it at `name:port`, the source's listen calls, the framework's or the
//! image's convention). A port's protocol is `udp` when declared so, `grpc` for the port gRPC
//! evidence names (else the main port of a gRPC service), `http` for the port an HTTP health
//! check targets, the main port of a web framework, static site or proxy, and the IANA HTTP
//! ports 80 and 8080; `tcp` otherwise.

use std::collections::BTreeMap;
use std::path::Path;

pub mod compose;
pub mod descriptors;
pub mod dockerfile;
pub mod images;
pub mod interpolate;
pub mod links;
pub mod manifest;
mod model;
mod pattern;
pub mod published;
pub mod read;
pub mod report;
pub mod resources;
pub mod run_files;
pub mod source;
pub mod walk;

pub use model::*;

use compose::{ComposeService, HealthTest, Located};
use dockerfile::{Dockerfile, Healthcheck, ImageConfig};
use walk::RepoFiles;

/// Bounds and switches of one analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Walk bounds.
    pub limits: walk::Limits,
    /// Name of the repository, when the root folder's own name is not it (a clone).
    pub root_name: Option<String>,
}

/// Analyzes the repository at `root`.
pub fn analyze(root: &Path, options: &Options) -> Analysis {
    let mut notes = Vec::new();
    let mut files = RepoFiles::walk(root, &options.limits, &mut notes);
    if let Some(name) = &options.root_name {
        files.set_root_name(name);
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut used_dockerfiles: Vec<String> = Vec::new();
    let mut scans = FolderScans::new();

    let projects = compose::find(&files, &mut notes);
    for project in &projects {
        for service in &project.services {
            if drafts.iter().any(|d| d.service.name == service.name) {
                notes.push(Note {
                    file: Some(service.file.clone()),
                    line: service.line,
                    message: format!(
                        "service `{}` is defined twice; the first is kept",
                        service.name
                    ),
                });
                continue;
            }
            drafts.push(from_compose(
                &files,
                service,
                &project.file_objects,
                &mut used_dockerfiles,
                &mut scans,
                &mut notes,
            ));
        }
    }

    let dockerfiles = dockerfiles_by_folder(&files);
    for (dir, paths) in &dockerfiles {
        let unused: Vec<&String> = paths.iter().filter(|p| !used_dockerfiles.contains(p)).collect();
        if unused.is_empty() {
            continue;
        }
        if !drafts.is_empty() && projects.iter().any(|p| !p.services.is_empty()) {
            for path in unused {
                notes.push(Note::file(
                    path,
                    "not analyzed as a service: no compose service builds it",
                ));
            }
            continue;
        }
        let chosen = unused[0];
        for other in &unused[1..] {
            notes.push(Note::file(
                *other,
                format!("not analyzed: {chosen} builds the service of this folder"),
            ));
        }
        drafts.push(from_dockerfile(&files, dir, chosen, &mut scans, &mut notes));
    }

    for described in descriptors::scan(&files, &mut notes) {
        add_described(&mut drafts, described, &mut notes);
    }

    unique_names(&mut drafts);
    link_services(&files, &mut drafts, &mut notes);
    let main_compose: Vec<String> = projects.iter().flat_map(|p| p.files.clone()).collect();
    let mut published = published::from_compose_variants(&files, &main_compose, &mut notes);
    published.extend(published::from_workflows(&files, &mut notes));
    add_published(&mut drafts, &published);
    let services: Vec<Service> = drafts.into_iter().map(finish).collect();
    if services.is_empty() {
        notes.push(Note::general(
            "no services found: no compose file, Dockerfile or deployment descriptor was read",
        ));
    }
    // A file read for two services (one Dockerfile built twice) reports its problems once.
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert((n.file.clone(), n.line, n.message.clone())));
    Analysis { services, notes }
}

/// Gives each built service the images the repository publishes it as, found beside the
/// main compose file (variant compose files by service name, workflows by build context or
/// by an image named after the service), after the one its own compose entry tags.
fn add_published(drafts: &mut [Draft], published: &[published::Published]) {
    for draft in drafts.iter_mut().filter(|d| d.service.source == Source::Build) {
        let name = draft.service.name.clone();
        let context = draft.service.path.clone();
        for found in published {
            let by_name = found.service.as_deref() == Some(name.as_str());
            let by_context = found.context.as_deref() == Some(context.as_str())
                && (context != "." || found.service.is_none());
            let last = published::without_tag(&found.image).rsplit('/').next().unwrap_or_default();
            let by_image = found.service.is_none() && found.context.is_none() && last == name;
            let known = draft.service.published_images.iter().any(|p| p.image == found.image);
            if (by_name || by_context || by_image) && !known {
                draft.service.published_images.push(PublishedImage {
                    image: found.image.clone(),
                    evidence: found.evidence.clone(),
                });
            }
        }
    }
}

/// A signal as Nomad's `kill_signal` takes it: `SIGINT` for `INT`, `SIGINT` or `2`.
fn signal_name(signal: &str) -> String {
    let upper = signal.trim().to_ascii_uppercase();
    let numbered = [
        (1, "SIGHUP"),
        (2, "SIGINT"),
        (3, "SIGQUIT"),
        (9, "SIGKILL"),
        (10, "SIGUSR1"),
        (12, "SIGUSR2"),
        (15, "SIGTERM"),
        (28, "SIGWINCH"),
    ];
    if let Some((_, name)) = numbered.iter().find(|(n, _)| upper == n.to_string()) {
        return name.to_string();
    }
    if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    }
}

/// Manifest and source facts per folder: services built from one folder (two compose
/// services of one context) read it once.
type FolderScans = std::collections::HashMap<String, (manifest::Stack, source::SourceFacts)>;

/// Where a port candidate came from; declared ones win over inferred ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PortOrigin {
    /// The process binds it: its own env sets the listen port (`PORT=8080`), its command says
    /// so (`gunicorn -b 0.0.0.0:8000`, `--port 3000`), or its server configuration does
    /// (`listen 80;` in a delivered nginx file, `server.port`).
    Bound,
    /// Compose `ports`.
    Published,
    /// Dockerfile `EXPOSE` of the built stage.
    Exposed,
    /// Compose `expose` or a descriptor's container port.
    Declared,
    /// Another service or a proxy reaches it at this port.
    Reached,
    /// The source code listens on it.
    Code,
    /// The framework's or image's convention.
    Convention,
}

#[derive(Debug, Clone)]
struct PortFact {
    container: u16,
    published: Option<u16>,
    udp: bool,
    origin: PortOrigin,
    /// The source names this port's protocol as gRPC.
    grpc: bool,
}

#[derive(Debug, Clone)]
struct EnvFact {
    name: String,
    value: Option<String>,
    evidence: Evidence,
    origin: EnvOrigin,
    /// The shared credential it holds, when another variable holds the same secret.
    credential: Option<String>,
}

/// A service being assembled, with the facts that are only settled at the end.
#[derive(Debug, Clone)]
struct Draft {
    service: Service,
    /// Other host names for the service (container_name, hostname).
    aliases: Vec<String>,
    ports: Vec<PortFact>,
    /// Health checks in the order they are trusted.
    health: Vec<(Health, Evidence)>,
    env: Vec<EnvFact>,
    depends_on: Vec<String>,
    grpc: bool,
    /// Conventions of the stack: framework port and health path.
    framework_port: Option<(u16, Evidence)>,
    framework_health: Option<(String, Evidence)>,
    /// The final image is a web server (nginx, httpd, caddy) and no proxy config was found.
    web_server_base: bool,
    /// Configuration files a web server in this service reads.
    server_configs: Vec<String>,
    /// `deploy.resources` as compose gives them.
    limits: Option<(compose::Limits, Evidence)>,
    described_resources: Option<Resources>,
    /// Configuration files the built image carries: delivered only when they name a service.
    baked: Vec<RuntimeFile>,
    /// Host-like literals of the service's code, with their file.
    code_literals: Vec<(source::HostLiteral, String)>,
    /// Env names the code reads in a way that fails without them.
    required_env: Vec<String>,
    /// The command compose or the image runs, for the ports it binds.
    commands: Vec<(Vec<String>, Evidence)>,
}

impl Draft {
    fn new(name: &str, source: Source, path: &str) -> Draft {
        Draft {
            service: Service::new(name, source, path),
            aliases: Vec::new(),
            ports: Vec::new(),
            health: Vec::new(),
            env: Vec::new(),
            depends_on: Vec::new(),
            grpc: false,
            framework_port: None,
            framework_health: None,
            web_server_base: false,
            server_configs: Vec::new(),
            limits: None,
            described_resources: None,
            baked: Vec::new(),
            code_literals: Vec::new(),
            required_env: Vec::new(),
            commands: Vec::new(),
        }
    }

    fn evidence(&mut self, file: &str, line: Option<u32>, what: impl Into<String>) {
        self.service.evidence.push(Evidence::at(file, line, what));
    }

    fn port(&mut self, container: u16, published: Option<u16>, udp: bool, origin: PortOrigin) {
        self.ports.push(PortFact { container, published, udp, origin, grpc: false });
    }

    fn volume(&mut self, path: &str, persistent: bool) {
        match self.service.volumes.iter_mut().find(|v| v.path == path) {
            Some(existing) => existing.persistent |= persistent,
            None => self.service.volumes.push(Volume { path: path.to_string(), persistent }),
        }
    }
}

fn from_compose(
    files: &RepoFiles,
    svc: &ComposeService,
    objects: &[Located<compose::FileObject>],
    used_dockerfiles: &mut Vec<String>,
    scans: &mut FolderScans,
    notes: &mut Vec<Note>,
) -> Draft {
    let source = if svc.build.is_some() { Source::Build } else { Source::Image };
    let path = svc.build.as_ref().map_or(".", |b| b.value.context.as_str());
    let mut draft = Draft::new(&svc.name, source, path);
    draft.aliases = svc.aliases.clone();
    draft.evidence(&svc.file, svc.line, format!("compose service `{}`", svc.name));
    if let Some(image) = &svc.image {
        draft.service.image = Some(image.value.clone());
        draft.evidence(&image.file, image.line, format!("runs image {}", image.value));
        if source == Source::Image {
            draft.service.role = role_of(&image.value);
            for server in WEB_SERVERS {
                if image_name(&image.value) == server {
                    draft.web_server_base = true;
                }
            }
        } else if !published::is_local_name(&image.value) {
            draft.service.published_images.push(PublishedImage {
                image: image.value.clone(),
                evidence: Evidence::at(
                    &image.file,
                    image.line,
                    format!("compose tags the built image {}", image.value),
                ),
            });
        }
    }
    // The Dockerfile, build context and context files of the built image.
    let mut image_files: Option<ImageFiles> = None;
    if let Some(build) = &svc.build {
        let b = &build.value;
        draft.evidence(
            &build.file,
            build.line,
            format!("built from {} (context {})", b.dockerfile, b.context),
        );
        let parsed = if let Some(inline) = &b.inline {
            Some(dockerfile::parse(&build.file, inline, &b.args, notes))
        } else if files.contains(&b.dockerfile) {
            used_dockerfiles.push(b.dockerfile.clone());
            draft.service.dockerfile = Some(b.dockerfile.clone());
            draft.service.build_target = b.target.clone();
            files
                .read_text(&b.dockerfile, notes)
                .map(|t| dockerfile::parse(&b.dockerfile, &t, &b.args, notes))
        } else {
            notes.push(Note {
                file: Some(build.file.clone()),
                line: build.line,
                message: format!(
                    "service `{}`: {} is not in the repository",
                    svc.name, b.dockerfile
                ),
            });
            None
        };
        if let Some(parsed) = parsed {
            if let Some(config) = parsed.config(b.target.as_deref(), notes) {
                apply_image_config(&mut draft, &parsed, b.target.as_deref(), &config);
                draft.baked =
                    run_files::baked(files, &parsed.path, &b.context, &config.context_files);
                // A development target (`target: dev`) that expects its code mounted: the
                // Dockerfile's last stage, the one built without a target, may copy it.
                let last = match b.target.as_deref() {
                    Some(target) => parsed
                        .config(None, &mut Vec::new())
                        .map(|last| (target.to_string(), last.context_files)),
                    None => None,
                };
                image_files =
                    Some((parsed.path.clone(), b.context.clone(), config.context_files, last));
            }
        }
        apply_stack(files, &mut draft, scans, notes);
        draft.server_configs.extend(config_files_under(files, &b.context));
    }

    for port in &svc.ports {
        let p = port.value;
        draft.port(p.container, p.published, p.udp, PortOrigin::Published);
        let published =
            p.published.map_or("not published".to_string(), |h| format!("published as {h}"));
        let proto = if p.udp { "/udp" } else { "" };
        draft.evidence(&port.file, port.line, format!("port {}{proto} {published}", p.container));
    }
    for port in &svc.expose {
        draft.port(port.value.port, None, port.value.udp, PortOrigin::Declared);
        draft.evidence(&port.file, port.line, format!("compose expose {}", port.value.port));
    }
    let env_of = |located: &Located<(String, Option<String>)>| EnvFact {
        name: located.value.0.clone(),
        value: located.value.1.clone(),
        evidence: Evidence::at(&located.file, located.line, format!("env {}", located.value.0)),
        origin: EnvOrigin::Given,
        credential: None,
    };
    // Compose values come before the image's own ENV so that they win the deduplication.
    let mut env: Vec<EnvFact> = svc.environment.iter().map(env_of).collect();
    env.extend(svc.env_file_vars.iter().map(env_of));
    env.append(&mut draft.env);
    draft.env = env;

    let in_image =
        image_files.as_ref().map(|(dockerfile, context, copies, last)| run_files::InImage {
            dockerfile,
            context,
            copies,
            last_stage: last.as_ref().map(|(target, copies)| (target.as_str(), copies.as_slice())),
        });
    let mounted = run_files::mounted(files, svc, objects, in_image, notes);
    for file in &mounted.files {
        draft.service.evidence.push(file.evidence.clone());
        if file.kind == FileKind::Config {
            draft.server_configs.push(file.source.clone());
        }
    }
    for mount in &mounted.host_mounts {
        draft.service.evidence.push(mount.evidence.clone());
    }
    draft.service.files = mounted.files;
    draft.service.host_mounts = mounted.host_mounts;
    for mount in &svc.volumes {
        let m = &mount.value;
        let data =
            mounted.data.iter().find(|(target, _)| *target == m.target.trim_end_matches('/'));
        match (&m.source, data) {
            (compose::VolumeSource::Named(name), Some(_)) => {
                let cache = is_cache_path(&m.target) || is_cache_name(name);
                draft.volume(&m.target, !cache);
                let what = if cache {
                    format!("named volume `{name}` at {} holds a cache, not data", m.target)
                } else {
                    format!("named volume `{name}` at {}", m.target)
                };
                draft.evidence(&mount.file, mount.line, what);
            }
            (compose::VolumeSource::Bind(host), Some(_)) => {
                draft.volume(&m.target, true);
                draft.evidence(
                    &mount.file,
                    mount.line,
                    format!("host folder {host} at {}", m.target),
                );
            }
            (compose::VolumeSource::Anonymous | compose::VolumeSource::Tmpfs, _) => {
                draft.evidence(
                    &mount.file,
                    mount.line,
                    format!("{} kept in the container", m.target),
                );
            }
            _ => {}
        }
    }
    for dep in &svc.depends_on {
        if !draft.depends_on.contains(&dep.value) {
            draft.depends_on.push(dep.value.clone());
        }
        draft.evidence(&dep.file, dep.line, format!("depends_on {}", dep.value));
    }
    if let Some(check) = &svc.healthcheck {
        match &check.value {
            HealthTest::Disabled => {
                draft.evidence(&check.file, check.line, "compose health check disabled")
            }
            HealthTest::Check(words) => match dockerfile::health_from_check(words) {
                Some(health) => {
                    let what = format!("compose health check: {}", describe_health(&health));
                    let evidence = Evidence::at(&check.file, check.line, what);
                    draft.health.insert(0, (health, evidence));
                }
                None => draft.evidence(
                    &check.file,
                    check.line,
                    "compose health check runs a command; no HTTP/TCP/gRPC equivalent",
                ),
            },
        }
    }
    if let Some(limits) = &svc.resources {
        let evidence = Evidence::at(&limits.file, limits.line, "compose deploy.resources");
        draft.limits = Some((limits.value, evidence));
    }
    if let Some(entrypoint) = &svc.entrypoint {
        draft.service.entrypoint = Some(entrypoint.value.clone());
        let evidence = Evidence::at(&entrypoint.file, entrypoint.line, "compose entrypoint");
        draft.commands.insert(0, (entrypoint.value.clone(), evidence.clone()));
        draft.service.evidence.push(evidence);
    }
    if let Some(command) = &svc.command {
        draft.service.command = Some(command.value.clone());
        let evidence = Evidence::at(&command.file, command.line, "compose command");
        draft.commands.insert(0, (command.value.clone(), evidence.clone()));
        draft.service.evidence.push(evidence);
    }
    if !svc.profiles.is_empty() {
        draft.service.profiles = svc.profiles.clone();
        draft.evidence(
            &svc.file,
            svc.line,
            format!("only started with compose profile(s) {}", svc.profiles.join(", ")),
        );
    }
    if let Some(signal) = &svc.stop_signal {
        let signal = signal_name(&signal.value);
        draft.evidence(&svc.file, svc.line, format!("compose stops it with {signal}"));
        draft.service.stop_signal = Some(signal);
    }
    if let Some(user) = &svc.user {
        draft.service.user = Some(user.value.clone());
        draft.evidence(&user.file, user.line, format!("compose runs it as user {}", user.value));
    }
    for privilege in &svc.privileges {
        let (key, value) = &privilege.value;
        let evidence = Evidence::at(&privilege.file, privilege.line, format!("{key}: {value}"));
        draft.service.privileges.push(Privilege {
            key: key.clone(),
            value: value.clone(),
            evidence,
        });
    }
    draft
}

/// A built image's Dockerfile, build context, and the context files it holds.
/// The Dockerfile, the build context, what the built stage copies from it, and, when compose
/// builds a target, that target's name and what the Dockerfile's last stage copies.
type ImageFiles = (
    String,
    String,
    Vec<dockerfile::Fact<(String, String)>>,
    Option<(String, Vec<dockerfile::Fact<(String, String)>>)>,
);

/// Container paths that hold caches or installed dependencies, not data: a volume there is
/// a speed-up of the developer's machine.
fn is_cache_path(path: &str) -> bool {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    matches!(
        last,
        "node_modules"
            | "target"
            | ".cache"
            | "cache"
            | "vendor"
            | ".npm"
            | ".yarn"
            | "__pycache__"
            | ".gradle"
            | ".m2"
            | "go-build"
            | ".venv"
            | "venv"
            | "tmp"
            | "logs"
            | "log"
    ) || path.starts_with("/tmp")
        || path.starts_with("/var/cache")
        || path.starts_with("/root/.cache")
}

/// Volume names that say they hold no data (`backend-cache`, `back-notused`).
fn is_cache_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["cache", "notused", "node_modules", "tmp"].iter().any(|word| lower.contains(word))
}

fn from_dockerfile(
    files: &RepoFiles,
    dir: &str,
    path: &str,
    scans: &mut FolderScans,
    notes: &mut Vec<Note>,
) -> Draft {
    let name = folder_name(files, dir);
    let mut draft = Draft::new(&name, Source::Build, dir);
    draft.service.dockerfile = Some(path.to_string());
    draft.evidence(path, None, format!("Dockerfile builds service `{name}` from {dir}"));
    if let Some(text) = files.read_text(path, notes) {
        let parsed = dockerfile::parse(path, &text, &[], notes);
        if let Some(config) = parsed.config(None, notes) {
            apply_image_config(&mut draft, &parsed, None, &config);
            draft.baked = run_files::baked(files, path, dir, &config.context_files);
        }
    }
    apply_stack(files, &mut draft, scans, notes);
    draft.server_configs.extend(config_files_under(files, dir));
    draft
}

fn apply_image_config(
    draft: &mut Draft,
    file: &Dockerfile,
    target: Option<&str>,
    config: &ImageConfig,
) {
    let path = file.path.as_str();
    if let Some(base) = &config.base_image {
        draft.service.base_image = Some(base.value.clone());
        let stage = target.map_or("final stage".to_string(), |t| format!("stage `{t}`"));
        draft.evidence(path, Some(base.line), format!("{stage} is based on {}", base.value));
        let role = role_of(&base.value);
        if role.is_backing() {
            draft.service.role = role;
        }
        draft.web_server_base = WEB_SERVERS.contains(&image_name(&base.value));
    }
    for port in &config.expose {
        let p = port.value;
        draft.port(p.port, None, p.udp, PortOrigin::Exposed);
        let proto = if p.udp { "/udp" } else { "" };
        draft.evidence(path, Some(port.line), format!("EXPOSE {}{proto}", p.port));
    }
    for env in &config.env {
        draft.env.push(EnvFact {
            name: env.value.0.clone(),
            value: Some(env.value.1.clone()),
            evidence: Evidence::at(path, Some(env.line), format!("ENV {}", env.value.0)),
            origin: EnvOrigin::Image,
            credential: None,
        });
    }
    if let Some(check) = &config.healthcheck {
        match &check.value {
            Healthcheck::Disabled => draft.evidence(path, Some(check.line), "HEALTHCHECK NONE"),
            Healthcheck::Check(command) => match dockerfile::health_from_check(&command.words()) {
                Some(health) => {
                    let what = format!("HEALTHCHECK: {}", describe_health(&health));
                    draft.health.push((health, Evidence::at(path, Some(check.line), what)));
                }
                None => draft.evidence(
                    path,
                    Some(check.line),
                    "HEALTHCHECK runs a command; no HTTP/TCP/gRPC equivalent",
                ),
            },
        }
    }
    if let Some(user) = &config.user {
        draft.evidence(path, Some(user.line), format!("runs as user {}", user.value));
        if draft.service.user.is_none() {
            draft.service.user = Some(user.value.clone());
        }
    }
    if let Some(workdir) = &config.workdir {
        draft.evidence(path, Some(workdir.line), format!("working directory {}", workdir.value));
    }
    for volume in &config.volumes {
        // A declared VOLUME is where the image expects data that outlives the container,
        // unless it is scratch space (`VOLUME /tmp`) or a cache.
        let data = !is_cache_path(&volume.value);
        draft.volume(&volume.value, data);
        let what = if data {
            format!("VOLUME {}", volume.value)
        } else {
            format!("VOLUME {} holds scratch space or a cache, not data", volume.value)
        };
        draft.evidence(path, Some(volume.line), what);
    }
    if let Some(command) = config.command() {
        // The image built from this stage runs it already: it is evidence, not an override
        // (`Service.command` is only for commands that replace the image's own).
        let line = command.value.join(" ");
        let line = source::mask_secret_shapes(&line, "***").unwrap_or(line);
        let line = links::mask_url_password(&line).unwrap_or(line);
        let what = format!("command of the built stage: {line}");
        let evidence = Evidence::at(path, Some(command.line), what);
        draft.commands.push((command.value.clone(), evidence.clone()));
        draft.service.evidence.push(evidence);
    }
    if draft.service.language.is_none() {
        if let Some((language, image)) = language_of_images(&config.images) {
            draft.service.language = Some(language);
            draft.evidence(
                path,
                None,
                format!("language {} from image {image}", language.as_str()),
            );
        }
    }
}

/// Language, framework, conventions and source facts of the service's folder.
fn apply_stack(
    files: &RepoFiles,
    draft: &mut Draft,
    scans: &mut FolderScans,
    notes: &mut Vec<Note>,
) {
    let dir = draft.service.path.clone();
    let (stack, facts) = scans
        .entry(dir.clone())
        .or_insert_with(|| (manifest::detect(files, &dir, notes), source::scan(files, &dir, notes)))
        .clone();
    if stack.language.is_some() {
        draft.service.language = stack.language;
    }
    draft.service.framework = stack.framework.clone();
    draft.service.evidence.extend(stack.evidence.iter().cloned());
    let first = stack.evidence.first().cloned();
    let stack_evidence = |what: String| {
        let (file, line) = first.as_ref().map_or((dir.clone(), None), |e| (e.file.clone(), e.line));
        Evidence::at(file, line, what)
    };
    if let Some(port) = stack.default_port {
        let framework = stack.framework.as_deref().unwrap_or("the framework");
        draft.framework_port =
            Some((port, stack_evidence(format!("{framework} listens on {port} by default"))));
    }
    if let Some(path) = &stack.health_path {
        draft.framework_health =
            Some((path.clone(), stack_evidence(format!("conventional health path {path}"))));
    }
    draft.grpc |= stack.grpc;
    if draft.service.role == Role::App {
        for backing in &stack.backing {
            let evidence = stack_evidence(format!("uses a {backing} client"));
            draft.service.evidence.push(evidence.clone());
            draft.service.clients.push(Client { backing: backing.clone(), evidence });
        }
    }

    for (name, default, evidence) in facts.env {
        let origin = EnvOrigin::Code;
        draft.env.push(EnvFact { name, value: default, evidence, origin, credential: None });
    }
    draft.code_literals = facts.hosts;
    draft.required_env = facts.required;
    for (port, evidence) in facts.ports {
        draft.port(port, None, false, PortOrigin::Code);
        draft.service.evidence.push(evidence);
    }
    if let Some(evidence) = facts.grpc {
        draft.grpc = true;
        draft.service.evidence.push(evidence);
    }
    if let Some((path, evidence)) = facts.health_paths.into_iter().next() {
        draft
            .health
            .push((Health { kind: HealthKind::Http, path: Some(path), port: None }, evidence));
    }
    // After the HTTP route: a service serving both keeps the check it had.
    if let Some(evidence) = facts.grpc_health {
        draft.grpc = true;
        draft.health.push((Health { kind: HealthKind::Grpc, path: None, port: None }, evidence));
    }
    if draft.web_server_base {
        // A web server's image serves the files its build copies in; a framework read from a
        // manifest (react, angular) is how they were built.
        draft.service.language = Some(Language::Static);
    }
}

fn add_described(
    drafts: &mut Vec<Draft>,
    described: descriptors::DescribedService,
    notes: &mut Vec<Note>,
) {
    // Same name, else the only service built from the descriptor's folder (image services
    // have no folder of their own).
    let index = drafts.iter().position(|d| d.service.name == described.name).or_else(|| {
        let built_here: Vec<usize> = (0..drafts.len())
            .filter(|i| {
                let service = &drafts[*i].service;
                service.source == Source::Build && service.path == described.dir
            })
            .collect();
        (built_here.len() == 1).then(|| built_here[0])
    });
    // A job file a person wrote is evidence about services found elsewhere, never a new
    // service by itself: its groups may be helpers (a volume-owner step, a sidecar) or other
    // applications' jobs.
    if index.is_none() && described.kind == "nomad job" && !drafts.is_empty() {
        let (file, line) = described
            .evidence
            .first()
            .map_or((described.dir.clone(), None), |e| (e.file.clone(), e.line));
        notes.push(Note {
            file: Some(file),
            line,
            message: format!(
                "job file task `{}` matches no service of the repository; read as evidence only",
                described.name
            ),
        });
        return;
    }
    let draft = match index {
        Some(i) => &mut drafts[i],
        None => {
            let source = if described.image.is_some() { Source::Image } else { Source::Build };
            let mut draft = Draft::new(&described.name, source, &described.dir);
            if let Some(image) = &described.image {
                draft.service.role = role_of(image);
            }
            drafts.push(draft);
            let last = drafts.len() - 1;
            &mut drafts[last]
        }
    };
    if draft.service.image.is_none() {
        draft.service.image = described.image.clone();
    }
    for port in &described.ports {
        let udp = port.protocol == Protocol::Udp;
        draft.port(port.container, port.published, udp, PortOrigin::Declared);
        if let Some(last) = draft.ports.last_mut() {
            last.grpc = port.protocol == Protocol::Grpc;
        }
    }
    let first = described.evidence.first().cloned();
    for env in &described.env {
        let evidence =
            first.clone().unwrap_or_else(|| Evidence::at(&described.dir, None, "descriptor"));
        draft.env.push(EnvFact {
            name: env.name.clone(),
            value: env.default.clone(),
            evidence,
            origin: EnvOrigin::Given,
            credential: None,
        });
    }
    if let Some(health) = &described.health {
        let evidence = first.clone().unwrap_or_else(|| Evidence::at(&described.dir, None, "probe"));
        draft.health.push((health.clone(), evidence));
    }
    if draft.described_resources.is_none() {
        draft.described_resources = described.resources.clone();
    }
    if draft.service.command.is_none() {
        draft.service.command = described.command.clone();
    }
    draft.service.evidence.extend(described.evidence);
}

/// Dependencies and ports that only show when services are seen together: env values and
/// proxy configurations naming another service.
fn link_services(files: &RepoFiles, drafts: &mut [Draft], notes: &mut Vec<Note>) {
    let names: Vec<(usize, Vec<String>)> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut names = vec![d.service.name.clone()];
            names.extend(d.aliases.iter().cloned());
            (i, names)
        })
        .collect();
    let find =
        |host: &str| names.iter().find(|(_, n)| n.iter().any(|n| n == host)).map(|(i, _)| *i);
    let mut reached: Vec<(usize, u16, Evidence)> = Vec::new();
    for i in 0..drafts.len() {
        let mut found: Vec<(usize, Option<u16>, Evidence)> = Vec::new();
        for env in &drafts[i].env {
            let Some(value) = &env.value else { continue };
            for target in links::targets_in_value(value) {
                if let Some(j) = find(&target.host).filter(|j| *j != i) {
                    let what = format!("{} names service {}", env.name, drafts[j].service.name);
                    found.push((
                        j,
                        target.port,
                        Evidence::at(&env.evidence.file, env.evidence.line, what),
                    ));
                }
            }
        }
        let mut configs = drafts[i].server_configs.clone();
        configs.sort();
        configs.dedup();
        for config in configs {
            let Some(text) = files.read_text(&config, notes) else { continue };
            let targets = links::proxy_targets(&text);
            if !targets.is_empty() && drafts[i].web_server_base {
                drafts[i].web_server_base = false;
                if drafts[i].service.language == Some(Language::Static) {
                    drafts[i].service.language = None;
                }
                if drafts[i].service.role == Role::App {
                    drafts[i].service.role = Role::Proxy;
                }
            }
            for (target, line) in targets {
                if let Some(j) = find(&target.host).filter(|j| *j != i) {
                    let what = format!("proxies to service {}", drafts[j].service.name);
                    found.push((j, target.port, Evidence::at(&config, Some(line), what)));
                }
            }
        }
        for (j, port, evidence) in found {
            let name = drafts[j].service.name.clone();
            if !drafts[i].depends_on.contains(&name) {
                drafts[i].depends_on.push(name);
            }
            if let Some(port) = port {
                let what = format!(
                    "{} reaches {} at port {port}",
                    drafts[i].service.name, drafts[j].service.name
                );
                reached.push((j, port, Evidence::at(&evidence.file, evidence.line, what)));
            }
            drafts[i].service.evidence.push(evidence);
        }
    }
    let name_list: Vec<String> = names.iter().flat_map(|(_, n)| n.iter().cloned()).collect();
    let name_refs: Vec<&str> = name_list.iter().map(String::as_str).collect();
    for i in 0..drafts.len() {
        let mut found: Vec<(usize, Option<u16>, Evidence)> = Vec::new();
        let own = drafts[i].service.name.clone();
        // Delivered files, and the image's own files that name a service (kept only then).
        let baked = std::mem::take(&mut drafts[i].baked);
        let delivered = drafts[i].service.files.len();
        drafts[i].service.files.extend(baked);
        let mut keep = Vec::new();
        for (index, file) in drafts[i].service.files.iter_mut().enumerate() {
            let Some(text) = &file.content else {
                keep.push(index < delivered);
                continue;
            };
            for (host, port, line) in links::hosts_in_text(text, &name_refs) {
                let Some(j) = find(&host).filter(|j| *j != i) else { continue };
                let service = names[j].1[0].clone();
                let what = format!("{} names {service} as {host}", file.source);
                found.push((j, port, Evidence::at(&file.source, Some(line), what)));
                file.hosts.push(FileHost { host, service, port, line });
            }
            keep.push(index < delivered || !file.hosts.is_empty());
        }
        let mut index = 0;
        drafts[i].service.files.retain(|_| {
            index += 1;
            keep[index - 1]
        });
        for file in drafts[i].service.files.iter().skip(delivered) {
            drafts[i].service.evidence.push(file.evidence.clone());
        }
        // Docker secrets those files read and nothing gives the service.
        let given: Vec<String> =
            drafts[i].service.files.iter().map(|f| f.destination.clone()).collect();
        let given: Vec<&str> = given.iter().map(String::as_str).collect();
        let unprovided: Vec<RuntimeFile> = drafts[i]
            .service
            .files
            .iter()
            .flat_map(|file| run_files::secrets_read_by(file, &given))
            .collect();
        for secret in unprovided {
            if drafts[i].service.files.iter().any(|f| f.destination == secret.destination) {
                continue;
            }
            drafts[i].service.evidence.push(secret.evidence.clone());
            drafts[i].service.files.push(secret);
        }
        // Host names written into the code; a literal that is an env read's default is a
        // setting (its variable overrides it), not a name the code is stuck with.
        let literals = std::mem::take(&mut drafts[i].code_literals);
        for (literal, file) in literals {
            let Some(j) = find(&literal.host).filter(|j| *j != i) else { continue };
            let overridable = drafts[i].env.iter().any(|env| {
                env.origin == EnvOrigin::Code
                    && env.value.as_deref().is_some_and(|v| v.contains(&literal.host))
                    && env.evidence.file == file
                    && env.evidence.line == Some(literal.line)
            });
            if overridable {
                continue;
            }
            let service = names[j].1[0].clone();
            let evidence = Evidence::at(
                &file,
                Some(literal.line),
                format!("the code dials {service} as `{}`", literal.text),
            );
            if drafts[i].service.code_hosts.iter().any(|c| {
                c.service == service
                    && c.evidence.file == file
                    && c.evidence.line == Some(literal.line)
            }) {
                continue;
            }
            found.push((j, literal.port, evidence.clone()));
            drafts[i].service.code_hosts.push(CodeHost {
                service,
                text: literal.text,
                port: literal.port,
                evidence,
                setting: literal.setting,
                with_password: literal.with_password,
            });
        }
        for (j, port, evidence) in found {
            let name = drafts[j].service.name.clone();
            if !drafts[i].depends_on.contains(&name) {
                drafts[i].depends_on.push(name);
            }
            if let Some(port) = port {
                let what = format!("{own} reaches {} at port {port}", drafts[j].service.name);
                reached.push((j, port, Evidence::at(&evidence.file, evidence.line, what)));
            }
            drafts[i].service.evidence.push(evidence);
        }
    }
    for (j, port, evidence) in reached {
        drafts[j].port(port, None, false, PortOrigin::Reached);
        drafts[j].service.evidence.push(evidence);
    }
    group_credentials(drafts);
    for draft in drafts.iter_mut() {
        let mut own: Vec<(u16, Evidence)> = Vec::new();
        for env in &draft.env {
            let Some(port) = env.value.as_deref().and_then(|v| links::listen_port(&env.name, v))
            else {
                continue;
            };
            // The code's default (`process.env.PORT || 8080`) is only a fallback: when the
            // image or compose sets the variable, the process listens where they say.
            let set = draft.env.iter().find(|other| {
                env.origin == EnvOrigin::Code
                    && other.origin != EnvOrigin::Code
                    && other.name == env.name
                    && other.value.as_deref().is_some_and(|v| !v.trim().is_empty())
            });
            let what = match set {
                Some(set) => {
                    let by = match set.origin {
                        EnvOrigin::Image => "the image",
                        _ => "the service's environment",
                    };
                    let (name, value) = (&env.name, set.value.as_deref().unwrap_or_default());
                    let value = value.trim();
                    format!("{name} is {port} in the code only: {by} sets it to {value}")
                }
                None => format!("{} sets the listen port {port}", env.name),
            };
            let evidence = Evidence::at(&env.evidence.file, env.evidence.line, what);
            match set {
                Some(_) => draft.service.evidence.push(evidence),
                None => own.push((port, evidence)),
            }
        }
        for (port, evidence) in own {
            draft.port(port, None, false, PortOrigin::Bound);
            draft.service.evidence.push(evidence);
        }
    }
}

/// Ports the process binds by its command (`gunicorn -b 0.0.0.0:8000`, `--port 3000`) or by
/// the server configuration it is given (`listen 80;` in a delivered nginx file).
fn bound_ports(draft: &mut Draft) {
    // A command compose gives replaces the image's own: only the first one runs.
    let command = draft
        .commands
        .iter()
        .find(|(_, e)| e.what.starts_with("compose"))
        .or_else(|| draft.commands.first())
        .cloned();
    if let Some((words, evidence)) = command {
        if let Some(port) = manifest::port_in_command(&words.join(" ")) {
            draft.port(port, None, false, PortOrigin::Bound);
            let what = format!("its command binds port {port}");
            draft.service.evidence.push(Evidence::at(&evidence.file, evidence.line, what));
        }
    }
    let serves_files = draft.web_server_base
        || draft.service.role == Role::Proxy
        || [&draft.service.image, &draft.service.base_image]
            .into_iter()
            .flatten()
            .any(|image| WEB_SERVERS.contains(&image_name(image)));
    if !serves_files {
        return;
    }
    let mut found = Vec::new();
    for file in draft.service.files.iter().chain(&draft.baked) {
        let Some(text) = &file.content else { continue };
        for (port, line) in links::listen_ports(text) {
            found
                .push((port, Evidence::at(&file.source, Some(line), format!("listens on {port}"))));
        }
    }
    for (port, evidence) in found {
        draft.port(port, None, false, PortOrigin::Bound);
        draft.service.evidence.push(evidence);
    }
}

/// Gives every secret value that more than one variable holds one name (`credential-1`), so
/// that both ends of one credential (an app's `DB_PASSWORD` and its database's
/// `POSTGRES_PASSWORD`, a `DATABASE_URL`'s password and `MYSQL_ROOT_PASSWORD`) read one secret.
/// Only the names leave this function; the values stay in the drafts until `finish` drops
/// them.
fn group_credentials(drafts: &mut [Draft]) {
    let mut holders: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for (i, draft) in drafts.iter().enumerate() {
        let secret_files: Vec<&str> = secret_destinations(&draft.service);
        for (k, env) in draft.env.iter().enumerate() {
            let Some(value) = env.value.as_deref().filter(|v| !v.is_empty()) else { continue };
            if secret_files.contains(&value) {
                continue;
            }
            let secret = match links::url_password(value) {
                Some(password) => Some(password.to_string()),
                None if source::holds_secret(&env.name, value) => Some(value.to_string()),
                None => None,
            };
            let Some(secret) = secret else { continue };
            match holders.iter_mut().find(|(s, _)| *s == secret) {
                Some((_, list)) => list.push((i, k)),
                None => holders.push((secret, vec![(i, k)])),
            }
        }
    }
    // One credential is shared by a client and its server (the app's `DB_PASSWORD` and its
    // database's `POSTGRES_PASSWORD`): holders in services that never meet hold the same value
    // by chance (pgAdmin's login and Postgres' password, both `changeit` in a sample `.env`).
    let linked = |a: usize, b: usize| {
        a == b
            || drafts[a].depends_on.contains(&drafts[b].service.name)
            || drafts[b].depends_on.contains(&drafts[a].service.name)
    };
    let mut number = 0;
    let mut shared = Vec::new();
    for (_, list) in holders {
        let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
        for holder in list {
            let meets: Vec<usize> = (0..groups.len())
                .filter(|&g| groups[g].iter().any(|&(i, _)| linked(i, holder.0)))
                .collect();
            let mut merged = vec![holder];
            for g in meets.into_iter().rev() {
                merged.extend(groups.remove(g));
            }
            groups.push(merged);
        }
        for group in groups.into_iter().filter(|group| group.len() >= 2) {
            number += 1;
            shared.extend(group.into_iter().map(|(i, k)| (i, k, format!("credential-{number}"))));
        }
    }
    for (i, k, credential) in shared {
        drafts[i].env[k].credential = Some(credential);
    }
}

/// Where the service's compose secrets are mounted (`/run/secrets/db-password`).
fn secret_destinations(service: &Service) -> Vec<&str> {
    service
        .files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Secret { .. }))
        .map(|f| f.destination.as_str())
        .collect()
}

/// Settles ports, protocols, health, env, resources.
fn finish(mut draft: Draft) -> Service {
    // What runs: a published image, or for a built one the image it is built FROM (its own
    // tag, `atsea_db`, says nothing about it).
    let image = match draft.service.source {
        Source::Build => draft.service.base_image.clone().or(draft.service.image.clone()),
        _ => draft.service.image.clone().or(draft.service.base_image.clone()),
    };
    let image_port = image.as_deref().and_then(|image| {
        let port = conventional_image_port(image)?;
        let source = draft.service.evidence.iter().find(|e| e.what.ends_with(image));
        let (file, line) =
            source.map_or((draft.service.path.clone(), None), |e| (e.file.clone(), e.line));
        Some((port, Evidence::at(file, line, format!("{image} listens on {port} by convention"))))
    });
    bound_ports(&mut draft);
    let framework_port = draft.framework_port.take();
    // A web server image serves on its own port whatever framework built the files.
    let convention = if draft.web_server_base || draft.service.language == Some(Language::Static) {
        image_port.or(framework_port)
    } else {
        framework_port.or(image_port)
    };
    let mut convention_evidence = None;
    if let Some((port, evidence)) = convention {
        draft.port(port, None, false, PortOrigin::Convention);
        convention_evidence = Some(evidence);
    }
    // Declared ports settle the list; inferred ones count only when nothing is declared, and
    // then only the most trusted kind of inference. A port the process binds wins over what
    // the image's EXPOSE says: an exposed port nothing binds is left out (compose's own
    // `ports` and `expose` stay: another service or a person may use them).
    let best = draft.ports.iter().map(|p| p.origin).min();
    let keep = |origin: PortOrigin| match best {
        Some(PortOrigin::Bound) => {
            matches!(origin, PortOrigin::Bound | PortOrigin::Published | PortOrigin::Declared)
        }
        Some(best) if best <= PortOrigin::Declared => origin <= PortOrigin::Declared,
        Some(best) => origin == best,
        None => false,
    };
    if best == Some(PortOrigin::Bound) {
        let bound: Vec<u16> = draft
            .ports
            .iter()
            .filter(|p| p.origin == PortOrigin::Bound)
            .map(|p| p.container)
            .collect();
        let unbound: Vec<u16> = draft
            .ports
            .iter()
            .filter(|p| p.origin == PortOrigin::Exposed && !bound.contains(&p.container))
            .map(|p| p.container)
            .collect();
        for port in unbound {
            let (file, line) = draft
                .service
                .evidence
                .iter()
                .find(|e| e.what == format!("EXPOSE {port}"))
                .map_or((draft.service.path.clone(), None), |e| (e.file.clone(), e.line));
            let list: Vec<String> = bound.iter().map(u16::to_string).collect();
            let what = format!("EXPOSE {port} left out: the process binds {}", list.join(", "));
            draft.service.evidence.push(Evidence::at(file, line, what));
        }
    }
    let mut ports: Vec<PortFact> = Vec::new();
    let mut candidates: Vec<PortFact> =
        draft.ports.iter().filter(|p| keep(p.origin)).cloned().collect();
    candidates.sort_by_key(|p| p.origin);
    for p in candidates {
        match ports.iter_mut().find(|q| q.container == p.container && q.udp == p.udp) {
            Some(q) => {
                q.published = q.published.or(p.published);
                q.grpc |= p.grpc;
            }
            None => ports.push(p),
        }
    }
    if best == Some(PortOrigin::Convention) {
        draft.service.evidence.extend(convention_evidence);
    }
    // The main port is the one the image is known to serve on, and never a debugger's.
    let known = image.as_deref().and_then(conventional_image_port);
    if let Some(at) = ports.iter().position(|p| Some(p.container) == known && !p.udp) {
        let port = ports.remove(at);
        ports.insert(0, port);
    }
    ports.sort_by_key(|p| model::DEBUGGER_PORTS.contains(&p.container));
    let main = ports.first().map(|p| p.container);
    // A descriptor naming the gRPC port settles which one it is; otherwise it is the main one.
    let named_grpc = ports.iter().any(|p| p.grpc);
    draft.grpc |= named_grpc;

    let mut health = draft.health.first().cloned();
    if health.is_none() {
        if let Some((path, evidence)) = draft.framework_health.clone() {
            health =
                Some((Health { kind: HealthKind::Http, path: Some(path), port: None }, evidence));
        }
    }
    let facts = image.as_deref().and_then(images::facts);
    if let (None, Some(facts)) = (&health, &facts) {
        if let (Some(check), Some(fact)) =
            (facts.health.as_ref(), facts.source(images::Fact::Health))
        {
            let mut check = check.check.clone();
            if check.port.is_some_and(|port| Some(port) == main) {
                check.port = None;
            }
            let what =
                format!("{} is checked at {} ({fact})", facts.family, describe_health(&check));
            health = Some((check, Evidence::at(&draft.service.path, None, what)));
        }
    }
    // An image built FROM a database or a broker (init scripts or settings added to
    // `postgres`) is that database: it keeps data and is deployed as one.
    if draft.service.source == Source::Build && draft.service.role == Role::App {
        let base_role = facts.as_ref().and_then(|f| f.role).filter(|r| r.is_backing());
        if let (Some(role), Some(base)) = (base_role, draft.service.base_image.clone()) {
            draft.service.role = role;
            let what = format!("built FROM {base}: a {role:?} like it", role = role);
            draft.service.evidence.push(Evidence::at(
                &draft.service.path,
                None,
                what.to_lowercase(),
            ));
        }
    }
    if let Some(facts) = &facts {
        // A database or a broker keeps its data where the image writes it: without a volume
        // there, every restart of the task starts from nothing.
        if matches!(draft.service.role, Role::Database | Role::Queue) {
            let source = facts.source(images::Fact::Data).unwrap_or("the image facts");
            for path in &facts.data {
                move_up_older_layouts(&mut draft, path, &facts.family, source);
                let covered = draft
                    .service
                    .volumes
                    .iter()
                    .any(|v| v.path == *path || (v.persistent && is_below(path, &v.path)));
                if covered {
                    continue;
                }
                draft.volume(path, true);
                let what = format!("{} keeps its data in {path} ({source})", facts.family);
                draft.service.evidence.push(Evidence::at(&draft.service.path, None, what));
            }
        }
    }
    if let Some((mut check, mut evidence)) = health {
        if let Some(masked) = source::mask_secret_shapes(&evidence.what, "***") {
            evidence.what = masked;
        }
        if check.port.is_some() && check.port == main {
            check.port = None;
        }
        // A token in the health URL would reach the job file and every report: the service is
        // checked by its port instead, and the path is never kept.
        if check.path.as_deref().is_some_and(|p| source::secret_shape(p).is_some()) {
            check = Health { kind: HealthKind::Tcp, path: None, port: check.port };
            let what = "its health URL carries a token: checked by port, the URL not kept";
            draft.service.evidence.push(Evidence::at(&evidence.file, evidence.line, what));
        }
        draft.service.evidence.push(evidence);
        draft.service.health = Some(check);
    }
    let http_health_port = draft
        .service
        .health
        .as_ref()
        .filter(|h| h.kind == HealthKind::Http)
        .map(|h| h.port.or(main));
    let web = draft.service.framework.is_some()
        || draft.service.language == Some(Language::Static)
        || draft.service.role == Role::Proxy
        || draft.web_server_base;
    draft.service.ports = ports
        .iter()
        .map(|p| {
            let is_main = Some(p.container) == main;
            let protocol = if p.udp {
                Protocol::Udp
            } else if p.grpc || (is_main && draft.grpc && !named_grpc) {
                Protocol::Grpc
            } else if http_health_port == Some(Some(p.container))
                || (is_main && web)
                || matches!(p.container, 80 | 8080)
            {
                Protocol::Http
            } else {
                Protocol::Tcp
            };
            Port { container: p.container, published: p.published, protocol }
        })
        .collect();

    let mut env: Vec<EnvVar> = Vec::new();
    let secret_files: Vec<String> =
        secret_destinations(&draft.service).into_iter().map(str::to_string).collect();
    // A path to a secret file the job renders is not itself a secret (`*_FILE` variables,
    // `DATABASE_PASSWORD=/run/secrets/db-password`): the variable keeps pointing at it, whatever
    // else (the code reading it) says about the name.
    let pointing: Vec<String> = draft
        .env
        .iter()
        .filter(|f| f.value.as_deref().is_some_and(|v| secret_files.iter().any(|s| s == v)))
        .map(|f| f.name.clone())
        .collect();
    for fact in draft.env {
        let points_at_file = pointing.contains(&fact.name);
        let secret = !points_at_file
            && match fact.value.as_deref() {
                Some(value) if fact.origin == EnvOrigin::Code => {
                    source::holds_secret(&fact.name, value)
                }
                Some(value) => source::given_value_holds_secret(&fact.name, value),
                None => source::looks_secret(&fact.name),
            };
        let masked = fact.value.as_deref().filter(|_| secret).and_then(links::mask_url_password);
        match env.iter_mut().find(|e| e.name == fact.name) {
            Some(existing) => {
                existing.secret |= secret;
                if existing.default.is_none() && existing.origin == fact.origin {
                    existing.default = fact.value;
                }
            }
            None => {
                draft.service.evidence.push(fact.evidence);
                env.push(EnvVar {
                    name: fact.name,
                    secret,
                    default: fact.value,
                    origin: fact.origin,
                    required: false,
                    masked,
                    credential: fact.credential,
                });
            }
        }
    }
    for var in &mut env {
        if var.secret {
            // Secret values never leave the analyzer.
            var.default = None;
        }
        var.required = var.default.is_none()
            && var.origin == EnvOrigin::Code
            && draft.required_env.contains(&var.name);
    }
    if let Some(command) = &mut draft.service.command {
        withhold_command_secrets(command, &mut env);
    }
    draft.service.env = env;
    draft.service.depends_on = draft.depends_on;
    draft.service.aliases = draft.aliases;

    let suggested = resources::suggest(
        draft.service.language,
        draft.service.framework.as_deref(),
        draft.service.role,
    );
    // Memory a person wrote down (compose limits, a descriptor) is theirs to keep.
    let memory_given = draft.described_resources.is_some()
        || draft.limits.as_ref().is_some_and(|(limits, _)| limits.memory.is_some());
    draft.service.resources = match (draft.limits, draft.described_resources) {
        (Some((limits, evidence)), _) => {
            let reason = match (limits.cpu, limits.memory) {
                (Some(_), Some(_)) => "compose deploy.resources".to_string(),
                _ => format!("compose deploy.resources, the rest: {}", suggested.reason),
            };
            draft.service.evidence.push(evidence);
            Resources {
                cpu: limits.cpu.unwrap_or(suggested.cpu),
                memory: limits.memory.unwrap_or(suggested.memory),
                reason,
            }
        }
        (None, Some(described)) => described,
        (None, None) => suggested,
    };
    // A fixed JVM heap needs room beside it, or Nomad kills the task at its memory limit.
    let options = draft.service.env.iter().filter_map(|e| e.default.as_deref());
    let args = draft.service.command.iter().flatten().map(String::as_str);
    if let Some((heap, needed)) = resources::jvm_memory_mb(options.chain(args)) {
        if draft.service.resources.memory < needed {
            draft.service.resources.memory = needed;
            draft.service.resources.reason =
                format!("a {heap} MB JVM heap (-Xmx) plus what lives beside it: {needed} MB");
        }
    }
    // An image known to need more to start than its class suggests (Kibana, SQL Server).
    let needed = facts.as_ref().and_then(|f| Some((f.memory_mb?, &f.family)));
    if let (Some((needed, family)), false) = (needed, memory_given) {
        if draft.service.resources.memory < needed {
            draft.service.resources.memory = needed;
            draft.service.resources.reason =
                format!("{family} needs about {needed} MB to start and serve (the image facts)");
        }
    }
    draft.service
}

/// A volume compose mounts below where the image keeps its data is the image's older layout
/// (postgres kept its data in `/var/lib/postgresql/data` up to 17; from 18 on it keeps it in
/// `/var/lib/postgresql/18/docker` and refuses to start with a mount at the old path): the
/// volume moves up to `data`, where the image writes. A volume the service points the image
/// at (`PGDATA=/var/lib/postgresql/data`) stays where it is.
fn move_up_older_layouts(draft: &mut Draft, data: &str, family: &str, source: &str) {
    let pointed = |volume: &str| {
        draft
            .env
            .iter()
            .filter_map(|e| e.value.as_deref())
            .any(|v| v == volume || is_below(v, volume))
    };
    let older: Vec<String> = draft
        .service
        .volumes
        .iter()
        .filter(|v| v.persistent && is_below(&v.path, data) && !pointed(&v.path))
        .map(|v| v.path.clone())
        .collect();
    for path in older {
        draft.service.volumes.retain(|v| v.path != path);
        draft.volume(data, true);
        let what = format!(
            "the volume at {path} is mounted at {data}: {family} keeps its data there ({source}), \
             and {path} is where an older version of the image kept it"
        );
        draft.service.evidence.push(Evidence::at(&draft.service.path, None, what));
    }
}

/// Whether `path` is strictly inside the folder `folder`.
fn is_below(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder.trim_end_matches('/'))
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
}

/// Secrets written on a command line (`--requirepass s3cret`, `--token=ghp_...`, a URL with a
/// password) become secret env vars the command names (`${REQUIREPASS_SECRET}`): Nomad puts
/// the task's environment, which Vault renders, into `args` when the task starts, so the job
/// file never holds the value. A value is a secret after a flag whose name says so, or by its
/// shape wherever it stands.
fn withhold_command_secrets(command: &mut [String], env: &mut Vec<EnvVar>) {
    let mut flag: Option<String> = None;
    for arg in command.iter_mut() {
        let before = flag.take();
        let (prefix, flag_name, value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with('-') => {
                (format!("{name}="), Some(name.to_string()), value.to_string())
            }
            _ if arg.starts_with('-') => {
                flag = Some(arg.clone());
                continue;
            }
            _ => (String::new(), before, arg.clone()),
        };
        let by_flag = flag_name.as_deref().is_some_and(names_secret)
            && !value.is_empty()
            && !value.starts_with("${");
        if !by_flag && source::secret_shape(&value).is_none() {
            continue;
        }
        let name = secret_name_for(flag_name.as_deref(), env);
        *arg = format!("{prefix}${{{name}}}");
        env.push(EnvVar {
            name,
            secret: true,
            default: None,
            origin: EnvOrigin::Given,
            required: false,
            masked: links::mask_url_password(&value),
            credential: None,
        });
    }
}

/// Whether a command-line flag names a secret (`--password`, `--api-key`, redis's
/// `--requirepass` and `--masterauth`).
fn names_secret(flag: &str) -> bool {
    let bare = flag.trim_start_matches('-');
    let upper = bare.to_ascii_uppercase();
    source::looks_secret(bare) || upper.ends_with("PASS") || upper.ends_with("AUTH")
}

/// A name for the env var that carries a command line's secret: the flag's, in env spelling,
/// with `_SECRET` unless it says secret already (so every check by name sees it), or
/// `COMMAND_SECRET`; numbered when the service has one of that name already.
fn secret_name_for(flag: Option<&str>, env: &[EnvVar]) -> String {
    let base = match flag {
        Some(flag) => {
            let name: String = flag
                .trim_start_matches('-')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                .collect();
            if source::looks_secret(&name) {
                name
            } else {
                format!("{name}_SECRET")
            }
        }
        None => "COMMAND_SECRET".to_string(),
    };
    let taken = |name: &str| env.iter().any(|e| e.name == name);
    let mut name = base.clone();
    let mut number = 1;
    while taken(&name) {
        number += 1;
        name = format!("{base}_{number}");
    }
    name
}

fn describe_health(health: &Health) -> String {
    let kind = match health.kind {
        HealthKind::Http => "http",
        HealthKind::Grpc => "grpc",
        HealthKind::Tcp => "tcp",
    };
    let mut text = kind.to_string();
    if let Some(path) = &health.path {
        text.push(' ');
        text.push_str(path);
    }
    if let Some(port) = health.port {
        text.push_str(&format!(" on port {port}"));
    }
    text
}

/// What a published image is for: the image facts' role when they know the image, else the
/// name rules of `resources`.
fn role_of(image: &str) -> Role {
    images::facts(image)
        .and_then(|facts| facts.role)
        .unwrap_or_else(|| resources::role_of_image(image))
}

/// Images that are web servers serving files or forwarding requests.
const WEB_SERVERS: [&str; 4] = ["nginx", "httpd", "caddy", "lighttpd"];

/// The image's repository name without registry, namespace or tag (`library/nginx:1` → `nginx`).
pub fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// The port a well-known image listens on: the image facts' port, else the name rules.
fn conventional_image_port(image: &str) -> Option<u16> {
    if let Some(port) = images::facts(image).and_then(|facts| facts.port) {
        return Some(port.number);
    }
    let name = image_name(image);
    Some(match name {
        "postgres" | "postgis" => 5432,
        "mysql" | "mariadb" | "percona" => 3306,
        "redis" | "redismod" | "redis-stack" | "redis-stack-server" | "valkey" | "keydb" => 6379,
        "mongo" | "mongodb" => 27017,
        "memcached" => 11211,
        "rabbitmq" => 5672,
        "nats" => 4222,
        "elasticsearch" | "opensearch" => 9200,
        "kibana" => 5601,
        "zookeeper" => 2181,
        "cassandra" => 9042,
        "nginx" | "httpd" | "caddy" | "lighttpd" => 80,
        _ => return None,
    })
}

/// Language from the images a Dockerfile uses, target chain first.
fn language_of_images(images: &[String]) -> Option<(Language, String)> {
    for image in images {
        let lower = image.to_ascii_lowercase();
        let name = image_name(&lower);
        let language = match name {
            "node" => Language::Node,
            "python" | "pypy" => Language::Python,
            "golang" => Language::Go,
            "rust" => Language::Rust,
            "ruby" | "jruby" => Language::Ruby,
            "php" | "composer" => Language::Php,
            "openjdk" | "eclipse-temurin" | "amazoncorretto" | "maven" | "gradle" | "ibmjava"
            | "adoptopenjdk" | "sapmachine" => Language::Java,
            _ if lower.starts_with("mcr.microsoft.com/dotnet/") => Language::Dotnet,
            _ => continue,
        };
        return Some((language, image.clone()));
    }
    None
}

/// Web server configuration files below a folder (`*.conf`, `*.conf.template`, `Caddyfile`).
fn config_files_under(files: &RepoFiles, dir: &str) -> Vec<String> {
    files
        .under(dir)
        .filter(|f| {
            let name = walk::file_name(&f.path);
            name.ends_with(".conf") || name.ends_with(".conf.template") || name == "Caddyfile"
        })
        .map(|f| f.path.clone())
        .take(20)
        .collect()
}

/// Whether a file name is a Dockerfile (`Dockerfile`, `Dockerfile.*`, `*.Dockerfile`).
pub fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dockerfile" || lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile")
}

/// Dockerfiles grouped by folder, the plain `Dockerfile` first in each.
fn dockerfiles_by_folder(files: &RepoFiles) -> BTreeMap<String, Vec<String>> {
    let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files.files {
        if is_dockerfile(walk::file_name(&file.path)) {
            by_dir
                .entry(walk::parent_dir(&file.path).to_string())
                .or_default()
                .push(file.path.clone());
        }
    }
    for paths in by_dir.values_mut() {
        paths.sort_by_key(|p| (walk::file_name(p) != "Dockerfile", p.clone()));
    }
    by_dir
}

/// Folder names that say where code sits rather than what it is.
const GENERIC_FOLDERS: [&str; 7] =
    ["src", "app", "docker", "build", "deploy", ".docker", "dockerfiles"];

/// A meaningful name for a folder: its own name unless generic, then its parent's; the
/// repository's name for the root.
fn folder_name(files: &RepoFiles, dir: &str) -> String {
    let root_name = || files.root_name().unwrap_or_else(|| "app".to_string());
    if dir == "." {
        return root_name();
    }
    let parts: Vec<&str> = dir.split('/').collect();
    for part in parts.iter().rev() {
        if !GENERIC_FOLDERS.contains(&part.to_ascii_lowercase().as_str()) {
            return part.to_string();
        }
    }
    root_name()
}

/// Two folder services with the same name get their paths as names.
fn unique_names(drafts: &mut [Draft]) {
    let clashing: Vec<usize> = (0..drafts.len())
        .filter(|&i| {
            let name = &drafts[i].service.name;
            drafts.iter().enumerate().any(|(j, d)| j != i && &d.service.name == name)
        })
        .collect();
    for i in clashing {
        if drafts[i].service.path != "." {
            drafts[i].service.name = drafts[i].service.path.replace('/', "-");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_secrets_become_secret_env_vars() {
        let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let mut command: Vec<String> = [
            "redis-server",
            "--requirepass",
            "s3cret-pass",
            "--port",
            "6379",
            "--masterauth=other-pass",
            &format!("--token={token}"),
            "postgres://app:pw123@db:5432/app",
            "--password",
            "${FROM_ENV}",
            "--api-key",
        ]
        .map(str::to_string)
        .to_vec();
        let mut env =
            vec![EnvVar { name: "COMMAND_SECRET".into(), secret: true, ..EnvVar::default() }];
        withhold_command_secrets(&mut command, &mut env);
        assert_eq!(
            command,
            [
                "redis-server",
                "--requirepass",
                "${REQUIREPASS_SECRET}",
                "--port",
                "6379",
                "--masterauth=${MASTERAUTH_SECRET}",
                "--token=${TOKEN}",
                "${COMMAND_SECRET_2}",
                "--password",
                "${FROM_ENV}",
                "--api-key",
            ]
        );
        let added: Vec<(&str, bool, Option<&str>)> = env[1..]
            .iter()
            .map(|e| (e.name.as_str(), e.secret && e.default.is_none(), e.masked.as_deref()))
            .collect();
        assert_eq!(
            added,
            [
                ("REQUIREPASS_SECRET", true, None),
                ("MASTERAUTH_SECRET", true, None),
                ("TOKEN", true, None),
                ("COMMAND_SECRET_2", true, Some("postgres://app:***@db:5432/app")),
            ]
        );
    }

    #[test]
    fn descriptors_join_the_service_of_their_folder_or_add_one() {
        let mut api = Draft::new("api", Source::Build, "api");
        api.port(3000, Some(80), false, PortOrigin::Published);
        let db = Draft::new("db", Source::Image, ".");
        let mut drafts = vec![api, db];
        let evidence = vec![Evidence::at("k8s/api.yaml", Some(12), "Deployment api-deployment")];
        add_described(
            &mut drafts,
            descriptors::DescribedService {
                name: "api-deployment".into(),
                dir: "api".into(),
                image: Some("registry/api:1".into()),
                ports: vec![Port { container: 9090, published: None, protocol: Protocol::Grpc }],
                env: vec![EnvVar {
                    name: "MODE".into(),
                    secret: false,
                    default: Some("prod".into()),
                    ..EnvVar::default()
                }],
                health: Some(Health {
                    kind: HealthKind::Http,
                    path: Some("/ready".into()),
                    port: None,
                }),
                resources: Some(Resources { cpu: 250, memory: 300, reason: "k8s limits".into() }),
                evidence: evidence.clone(),
                ..Default::default()
            },
            &mut Vec::new(),
        );
        add_described(
            &mut drafts,
            descriptors::DescribedService {
                name: "worker".into(),
                dir: ".".into(),
                image: Some("registry/worker:1".into()),
                evidence,
                ..Default::default()
            },
            &mut Vec::new(),
        );
        let services: Vec<Service> = drafts.into_iter().map(finish).collect();
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api", "db", "worker"]);
        let api = &services[0];
        let ports: Vec<(u16, Protocol)> =
            api.ports.iter().map(|p| (p.container, p.protocol)).collect();
        assert_eq!(ports, [(3000, Protocol::Http), (9090, Protocol::Grpc)]);
        assert_eq!(api.image.as_deref(), Some("registry/api:1"));
        assert_eq!(api.health.as_ref().and_then(|h| h.path.as_deref()), Some("/ready"));
        assert_eq!(api.resources.reason, "k8s limits");
        assert_eq!(api.env[0].default.as_deref(), Some("prod"));
        assert!(api.evidence.iter().any(|e| e.file == "k8s/api.yaml"));
        assert_eq!(services[2].source, Source::Image);
        assert_eq!(services[2].image.as_deref(), Some("registry/worker:1"));
    }

    #[test]
    fn image_names() {
        assert_eq!(image_name("nginx"), "nginx");
        assert_eq!(image_name("nginx:1.13-alpine"), "nginx");
        assert_eq!(image_name("redislabs/redismod"), "redismod");
        assert_eq!(image_name("mcr.microsoft.com/dotnet/aspnet:6.0"), "aspnet");
        assert_eq!(image_name("localhost:5000/app:1@sha256:abc"), "app");
    }

    #[test]
    fn languages_from_images() {
        let images = ["scratch".to_string(), "golang:1.22".to_string()];
        assert_eq!(language_of_images(&images).map(|l| l.0), Some(Language::Go));
        let dotnet = ["mcr.microsoft.com/dotnet/sdk:6.0".to_string()];
        assert_eq!(language_of_images(&dotnet).map(|l| l.0), Some(Language::Dotnet));
        assert_eq!(language_of_images(&["debian:12".to_string()]), None);
    }

    #[test]
    fn dockerfile_names() {
        for name in
            ["Dockerfile", "dockerfile", "Dockerfile.prod", "api.Dockerfile", "x.dockerfile"]
        {
            assert!(is_dockerfile(name), "{name}");
        }
        for name in ["Dockerfile-notes.md", "compose.yaml", ".dockerignore"] {
            assert!(!is_dockerfile(name), "{name}");
        }
    }
}
