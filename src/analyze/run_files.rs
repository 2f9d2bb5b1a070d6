//! Files of the repository a service is given at run time, and the mounts a job cannot
//! reproduce as they are.
//!
//! Compose gives a container files in three ways that a Nomad job must reproduce: a bind mount
//! of a repository file or folder (`./proxy/nginx.conf:/etc/nginx/conf.d/default.conf`), a
//! `configs:` entry, and a `secrets:` entry backed by a `file:`. A built image can also carry a
//! configuration file of the repository (`COPY nginx.conf /etc/nginx/nginx.conf`) that names
//! other services by their compose host names; those are found here as candidates and kept by
//! the assembly only when they name a service (`links`).
//!
//! What this file decides: which mounts are files to deliver (a [`RuntimeFile`] with its text,
//! bounded), which are folders the image already holds (a compose mount for live reloading),
//! which are folders too large to deliver, the host's sockets and system paths, and which are
//! data (left to the volume rules of the assembly). It reads files through the walk only, so
//! nothing outside the repository is ever read; a secret's content is never read, and a file
//! found to hold a secret by its value (a token, a URL password) is delivered as a secret.

use sha2::{Digest, Sha256};

use super::compose::{ComposeService, FileObject, Located, Mount, VolumeSource};
use super::dockerfile::Fact;
use super::source::secret_shape;
use super::walk::{self, RepoFiles};
use super::{Evidence, FileKind, HostMount, HostMountKind, Note, RuntimeFile};

/// Largest file whose text a job carries.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Most files of a mounted folder delivered one by one.
pub const MAX_FOLDER_FILES: usize = 16;
/// Most bytes of a mounted folder delivered one by one.
pub const MAX_FOLDER_BYTES: u64 = 256 * 1024;

/// What a service's mounts, configs and secrets come to.
#[derive(Debug, Default)]
pub struct Mounted {
    /// Files to deliver.
    pub files: Vec<RuntimeFile>,
    /// Mounts a job cannot reproduce as they are.
    pub host_mounts: Vec<HostMount>,
    /// Mounts that hold data (named volumes, host folders outside the repository): the
    /// container path and whether compose names a volume for it.
    pub data: Vec<(String, bool)>,
}

/// Host paths that belong to the host's system, not to the application's data.
const SYSTEM_PATHS: [&str; 12] = [
    "/lib/modules",
    "/usr/src",
    "/sys",
    "/proc",
    "/dev",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/machine-id",
    "/var/run",
    "/run",
    "/var/lib/docker",
    "/boot",
];

/// The build context files a built image holds, and where they come from.
#[derive(Debug, Clone, Copy)]
pub struct InImage<'a> {
    /// The Dockerfile.
    pub dockerfile: &'a str,
    /// The build context folder, relative to the analyzed root.
    pub context: &'a str,
    /// (context path, path in the image, line of the instruction).
    pub copies: &'a [ImageCopy],
    /// When compose builds a target stage: its name and the copies of the Dockerfile's last
    /// stage (the image built without a target), which a development target often leaves to
    /// a mount.
    pub last_stage: Option<(&'a str, &'a [ImageCopy])>,
}

/// A copy from the build context: (context path, path in the image), with its line.
pub type ImageCopy = Fact<(String, String)>;

/// Reads a compose service's mounts, configs and secrets. `compose_dir` is the compose file's
/// folder; `in_image`, for a built service, lists the build context files its image holds.
pub fn mounted(
    files: &RepoFiles,
    service: &ComposeService,
    objects: &[Located<FileObject>],
    in_image: Option<InImage<'_>>,
    notes: &mut Vec<Note>,
) -> Mounted {
    let mut out = Mounted::default();
    for mount in &service.volumes {
        let evidence = Evidence::at(&mount.file, mount.line, describe(&mount.value));
        match &mount.value.source {
            VolumeSource::Named(_) => out.data.push((mount.value.target.clone(), true)),
            VolumeSource::Anonymous | VolumeSource::Tmpfs => {}
            VolumeSource::Bind(host) => {
                bind(files, &mount.value, host, &mount.file, evidence, in_image, &mut out, notes)
            }
        }
    }
    for (uses, secret) in [(&service.secrets, true), (&service.configs, false)] {
        for used in uses {
            let object = objects
                .iter()
                .find(|o| o.value.name == used.value.name && o.value.secret == secret);
            let what = if secret { "secret" } else { "config" };
            let evidence = Evidence::at(
                &used.file,
                used.line,
                format!("{what} `{}` mounted at {}", used.value.name, used.value.target),
            );
            if secret {
                out.files.push(RuntimeFile {
                    source: object.map(|o| o.value.file.clone()).unwrap_or_default(),
                    destination: used.value.target.clone(),
                    kind: FileKind::Secret { name: used.value.name.clone() },
                    content: None,
                    digest: None,
                    hosts: Vec::new(),
                    executable: false,
                    evidence,
                });
                continue;
            }
            match object {
                Some(object) => {
                    if let Some(file) =
                        config_file(files, &object.value.file, &used.value.target, evidence, notes)
                    {
                        out.files.push(file);
                    }
                }
                None => notes.push(Note {
                    file: Some(used.file.clone()),
                    line: used.line,
                    message: format!(
                        "config `{}` is not defined with a file of the repository; nothing to \
                         deliver",
                        used.value.name
                    ),
                }),
            }
        }
    }
    // A script a health check or the entrypoint runs must be executable.
    let runs: Vec<String> = service
        .healthcheck
        .iter()
        .filter_map(|h| match &h.value {
            super::compose::HealthTest::Check(words) => Some(words.join(" ")),
            super::compose::HealthTest::Disabled => None,
        })
        .chain(service.entrypoint.iter().map(|e| e.value.join(" ")))
        .chain(service.command.iter().map(|c| c.value.join(" ")))
        .collect();
    for file in &mut out.files {
        file.executable = file.destination.ends_with(".sh")
            || runs.iter().any(|line| line.split_whitespace().any(|w| w == file.destination));
    }
    out
}

/// One bind mount of a host path.
#[allow(clippy::too_many_arguments)]
fn bind(
    files: &RepoFiles,
    mount: &Mount,
    host: &str,
    compose_file: &str,
    evidence: Evidence,
    in_image: Option<InImage<'_>>,
    out: &mut Mounted,
    notes: &mut Vec<Note>,
) {
    let target = mount.target.trim_end_matches('/').to_string();
    let outside = host.starts_with('/') || host.starts_with('~') || host.starts_with('$');
    if outside {
        let kind = if host.ends_with(".sock") || target.ends_with(".sock") {
            Some(HostMountKind::Socket)
        } else if SYSTEM_PATHS.iter().any(|p| under(host, p)) {
            Some(HostMountKind::HostSystem)
        } else {
            None
        };
        match kind {
            Some(kind) => {
                out.host_mounts.push(HostMount { source: host.to_string(), target, kind, evidence })
            }
            None => out.data.push((target, false)),
        }
        return;
    }
    let Some(rel) = walk::join(walk::parent_dir(compose_file), host) else {
        notes.push(Note {
            file: Some(evidence.file.clone()),
            line: evidence.line,
            message: format!("bind mount {host} leaves the repository; not read"),
        });
        return;
    };
    let in_image_at = in_image.and_then(|image| copied_by_image(&rel, &target, image));
    if let (true, Some(copied_at)) = (files.contains(&rel), &in_image_at) {
        out.host_mounts.push(HostMount {
            source: host.to_string(),
            target,
            kind: HostMountKind::CodeInImage { copied_at: copied_at.clone() },
            evidence,
        });
        return;
    }
    if files.contains(&rel) {
        if let Some(file) = config_file(files, &rel, &target, evidence, notes) {
            out.files.push(file);
        }
        return;
    }
    let inside: Vec<&walk::RepoFile> = files.under(&rel).collect();
    if inside.is_empty() {
        out.host_mounts.push(HostMount {
            source: host.to_string(),
            target,
            kind: HostMountKind::NotInRepository,
            evidence,
        });
        return;
    }
    if let Some(copied_at) = in_image_at {
        out.host_mounts.push(HostMount {
            source: host.to_string(),
            target,
            kind: HostMountKind::CodeInImage { copied_at },
            evidence,
        });
        return;
    }
    let bytes: u64 = inside.iter().map(|f| f.size).sum();
    if inside.len() > MAX_FOLDER_FILES || bytes > MAX_FOLDER_BYTES {
        out.host_mounts.push(HostMount {
            source: host.to_string(),
            target,
            kind: HostMountKind::Folder { files: inside.len() },
            evidence,
        });
        return;
    }
    for file in inside {
        let below = file.path.strip_prefix(&format!("{rel}/")).unwrap_or(&file.path);
        let destination = format!("{target}/{below}");
        let what = format!("{} (in {host}) mounted at {destination}", file.path);
        let evidence = Evidence::at(&evidence.file, evidence.line, what);
        if let Some(delivered) = config_file(files, &file.path, &destination, evidence, notes) {
            out.files.push(delivered);
        }
    }
}

/// The Dockerfile instruction (`Dockerfile:12`) that copies the repository folder `rel` to
/// `target` in the image, when one does: the whole build context copied to the mount's
/// target, or that folder itself.
fn copied_by_image(rel: &str, target: &str, image: InImage<'_>) -> Option<String> {
    let InImage { dockerfile, context, copies, last_stage } = image;
    let found = |copies: &[Fact<(String, String)>]| {
        copies.iter().find_map(|copy| {
            let (source, in_image) = &copy.value;
            let source = if source == "." {
                context.to_string()
            } else if context == "." {
                source.clone()
            } else {
                format!("{context}/{source}")
            };
            // The mount puts `rel` where the copy put it: the folder itself at its copy's place,
            // or a part of it at the same place below.
            let in_image = in_image.trim_end_matches('/');
            let below = if rel == source {
                Some("")
            } else if source == "." {
                Some(rel)
            } else {
                rel.strip_prefix(&format!("{source}/"))
            };
            let same_place = below.is_some_and(|below| {
                if below.is_empty() {
                    target == in_image
                } else {
                    target == format!("{in_image}/{below}")
                }
            });
            same_place.then(|| format!("{dockerfile}:{}", copy.line))
        })
    };
    found(copies).or_else(|| {
        let (target, copies) = last_stage?;
        found(copies).map(|at| {
            format!("{at}, in the Dockerfile's last stage; compose builds target `{target}`, which expects the mount: build the last stage for the cluster")
        })
    })
}

/// A configuration file to deliver: its text when it is small enough and text.
fn config_file(
    files: &RepoFiles,
    rel: &str,
    destination: &str,
    evidence: Evidence,
    notes: &mut Vec<Note>,
) -> Option<RuntimeFile> {
    let size = files.get(rel).map_or(0, |f| f.size);
    let content = if size > MAX_FILE_BYTES {
        notes.push(Note::file(
            rel,
            format!(
                "mounted at {destination} but larger than {} KiB: not carried in a job",
                MAX_FILE_BYTES / 1024
            ),
        ));
        None
    } else {
        files.read_text(rel, notes)
    };
    // A file holding a secret by its value (a token, a URL password) is delivered from Vault
    // as a compose secret would be: its text must not go into the job.
    if let Some(what) = content.as_deref().and_then(secret_shape) {
        notes.push(Note::file(
            rel,
            format!(
                "mounted at {destination} and holds {what}: rendered from Vault, not carried in \
                 the job"
            ),
        ));
        let name: String = walk::file_name(rel)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        return Some(RuntimeFile {
            source: rel.to_string(),
            destination: destination.to_string(),
            kind: FileKind::Secret { name },
            content: None,
            digest: None,
            hosts: Vec::new(),
            executable: false,
            evidence,
        });
    }
    let digest = content.as_deref().map(digest_of);
    Some(RuntimeFile {
        source: rel.to_string(),
        destination: destination.to_string(),
        kind: FileKind::Config,
        content,
        digest,
        hosts: Vec::new(),
        executable: false,
        evidence,
    })
}

/// Configuration files of the build context a built image carries, as candidates for
/// delivery: files copied one by one (not whole folders), small and text. The assembly keeps
/// those that name another service.
pub fn baked(
    files: &RepoFiles,
    dockerfile: &str,
    context: &str,
    copies: &[Fact<(String, String)>],
) -> Vec<RuntimeFile> {
    let mut found = Vec::new();
    for copy in copies {
        let (source, in_image) = &copy.value;
        if source == "." {
            continue;
        }
        let rel = if context == "." { source.clone() } else { format!("{context}/{source}") };
        let Some(listed) = files.get(&rel) else { continue };
        if listed.size > MAX_FILE_BYTES || !looks_like_config(&rel) {
            continue;
        }
        // A candidate that cannot be read is not one; the Dockerfile's own reading reports
        // the file if it matters.
        let Some(text) = files.read_text(&rel, &mut Vec::new()) else { continue };
        // The image holds it already; a copy in the job would put its secret in the job file.
        if secret_shape(&text).is_some() {
            continue;
        }
        let evidence = Evidence::at(
            dockerfile,
            Some(copy.line),
            format!("the image carries {rel} at {in_image}"),
        );
        found.push(RuntimeFile {
            source: rel.clone(),
            destination: in_image.clone(),
            kind: FileKind::Baked,
            digest: Some(digest_of(&text)),
            content: Some(text),
            hosts: Vec::new(),
            executable: false,
            evidence,
        });
    }
    found
}

/// Docker secrets a delivered configuration file reads (`ssl_certificate
/// /run/secrets/revprox_cert;`) that the service is not given otherwise: on Docker a stack
/// file or `docker secret` provides them; on Nomad nothing does, so each becomes a secret file
/// rendered from Vault at the same path. `given` holds the paths the service already receives.
pub fn secrets_read_by(file: &RuntimeFile, given: &[&str]) -> Vec<RuntimeFile> {
    const PREFIX: &str = "/run/secrets/";
    let Some(text) = &file.content else { return Vec::new() };
    let mut found: Vec<RuntimeFile> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        // A comment names a path it does not read.
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(PREFIX) {
            let after = &rest[at + PREFIX.len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            rest = &after[name.len()..];
            let destination = format!("{PREFIX}{name}");
            if name.is_empty()
                || given.contains(&destination.as_str())
                || found.iter().any(|f| f.destination == destination)
            {
                continue;
            }
            let line = u32::try_from(number + 1).unwrap_or(u32::MAX);
            found.push(RuntimeFile {
                source: file.source.clone(),
                destination: destination.clone(),
                kind: FileKind::Secret { name },
                content: None,
                digest: None,
                hosts: Vec::new(),
                executable: false,
                evidence: Evidence::at(
                    &file.source,
                    Some(line),
                    format!(
                        "reads {destination}, a Docker secret nothing in the repository gives \
                         the service"
                    ),
                ),
            });
        }
    }
    found
}

/// Files that configure a server rather than being its code or assets.
fn looks_like_config(path: &str) -> bool {
    let name = walk::file_name(path).to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        extension,
        "conf"
            | "cfg"
            | "cnf"
            | "ini"
            | "toml"
            | "yaml"
            | "yml"
            | "json"
            | "properties"
            | "config"
            | "template"
            | "vcl"
            | "xml"
            | "env"
    ) || matches!(name.as_str(), "caddyfile" | "nginx.conf" | "haproxy.cfg" | "conf")
}

/// `sha256:<hex>` of a text.
pub fn digest_of(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Whether `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

fn describe(mount: &Mount) -> String {
    match &mount.source {
        VolumeSource::Named(name) => format!("named volume `{name}` at {}", mount.target),
        VolumeSource::Bind(host) => format!("bind mount of {host} at {}", mount.target),
        VolumeSource::Anonymous => format!("anonymous volume at {}", mount.target),
        VolumeSource::Tmpfs => format!("tmpfs at {}", mount.target),
    }
}
