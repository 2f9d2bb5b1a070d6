//! The files a service is given at run time, delivered by the job, and the mounts it cannot
//! reproduce, said in decisions.
//!
//! A configuration file compose mounts (or a config file a built image carries that names
//! other services) becomes a `template` whose data is the file's text, with the Go-template
//! delimiters chosen so the text cannot be read as template code, and every host of another
//! service rewritten to that service's lookup. The rendered file lands in the task directory
//! and the Docker driver binds it at the path compose used (`volumes` with a path relative to
//! the task directory, which Nomad allows even when host volumes are disabled). A compose
//! secret is rendered from Vault to `secrets/<name>` and bound at `/run/secrets/<name>`:
//! its content is never read. Each delivered file records where it came from and its digest,
//! so a later change of the repository's file is noticed.

use std::sync::LazyLock;

use regex::Regex;

use super::provenance::at;
use super::reach::Reach;
use super::{Builder, GroupNames};
use crate::analyze::{self, Analysis, FileKind, HostMountKind, RuntimeFile};
use crate::jobspec::{Task, Template};

/// Delimiter pairs tried in turn for a delivered file: the first whose halves do not occur in
/// the text.
const DELIMITERS: [(&str, &str); 5] =
    [("{{", "}}"), ("[[", "]]"), ("<%=", "%>"), ("{%", "%}"), ("<<<nomad-spec:", ":nomad-spec>>>")];

/// A file the job delivers, for the job file's comments and the drift check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The group and task it is delivered to.
    pub group: String,
    /// Where the template renders it, relative to the task directory.
    pub rendered: String,
    /// The repository file.
    pub source: String,
    /// Its digest when the job was generated.
    pub digest: Option<String>,
    /// Where the app is given it (compose or Dockerfile, file:line).
    pub origin: String,
    /// Where the container reads it.
    pub destination: String,
}

impl Builder<'_> {
    /// Templates and binds for the service's run-time files, and decisions for its mounts.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn files(
        &mut self,
        service: &analyze::Service,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        task: &mut Task,
        templates: &mut Vec<Template>,
    ) {
        let mut binds: Vec<String> = Vec::new();
        let mut used: Vec<String> = Vec::new();
        for file in &service.files {
            let subject = format!("{} file {}", service.name, file.destination);
            let origin = at(&file.evidence);
            match &file.kind {
                FileKind::Secret { name } => {
                    let rendered = unique(&format!("secrets/{}", file_name(name)), &mut used);
                    let owner = self.secret_owner(name, analysis, service);
                    let Some(reference) = self.secret_ref(name, &subject, &owner, names) else {
                        continue;
                    };
                    let mut template = self.template(self.secret_expression(&reference), &rendered);
                    template.envvars = None;
                    template.perms = Some("0400".into());
                    templates.push(template);
                    binds.push(format!("{rendered}:{}:ro", file.destination));
                    // A Docker secret a configuration file reads is evidenced by that file
                    // itself; compose's `secrets:` and mounts by the compose line.
                    let given = if file.evidence.file == file.source {
                        format!("{} {}", file.source, file.evidence.what)
                    } else {
                        format!("compose gives it the secret `{name}`")
                    };
                    self.decide(
                        &subject,
                        format!("rendered from Vault {}#{}", reference.path, reference.key),
                        format!("{given} ({origin}); its value never goes into the job"),
                    );
                    self.vault_access(
                        &service.name,
                        names,
                        task,
                        "compose secrets rendered from Vault",
                    );
                }
                FileKind::Config | FileKind::Baked => {
                    let Some(text) = &file.content else {
                        self.decide(
                            &subject,
                            "not delivered",
                            format!(
                                "{} ({origin}) is larger than {} KiB or not text: a job does not \
                                 carry it; build it into the image or fetch it with an `artifact`",
                                file.source,
                                analyze::run_files::MAX_FILE_BYTES / 1024
                            ),
                        );
                        continue;
                    };
                    let Some((left, right)) = delimiters_for(text) else {
                        self.decide(
                            &subject,
                            "not delivered",
                            format!(
                                "{} holds every template delimiter nomad-spec knows",
                                file.source
                            ),
                        );
                        continue;
                    };
                    let data = self.rewrite_hosts(
                        file, text, left, right, analysis, names, deployed, &subject,
                    );
                    for host in &file.hosts {
                        let Some(target) =
                            analysis.services.iter().find(|s| s.name == host.service)
                        else {
                            continue;
                        };
                        let reach = self.reach(target, host.port, names, deployed);
                        let written = format!("{}:{}", file.source, host.line);
                        self.wire(&service.name, &target.name, &reach, Some(written));
                    }
                    let rendered = unique(&format!("local/{}", file_name(&file.source)), &mut used);
                    let custom = (left, right) != ("{{", "}}");
                    templates.push(Template {
                        embedded_tmpl: Some(data),
                        dest_path: Some(rendered.clone()),
                        change_mode: Some("restart".into()),
                        left_delim: custom.then(|| left.to_string()),
                        right_delim: custom.then(|| right.to_string()),
                        perms: file.executable.then(|| "0755".to_string()),
                        ..Default::default()
                    });
                    binds.push(format!("{rendered}:{}:ro", file.destination));
                    let how = match file.kind {
                        FileKind::Baked => "the image carries its own copy, which names services by their compose names",
                        _ => "compose gives it to the container",
                    };
                    self.decide(
                        &subject,
                        format!("delivered from {}", file.source),
                        format!("{how} ({origin}); {}", digest_words(file)),
                    );
                    self.browser_localhost(file, text, analysis, &subject);
                    self.delivered.push(Delivered {
                        group: names.group(&service.name),
                        rendered,
                        source: file.source.clone(),
                        digest: file.digest.clone(),
                        origin,
                        destination: file.destination.clone(),
                    });
                }
            }
        }
        for mount in &service.host_mounts {
            self.host_mount(service, mount);
        }
        if binds.is_empty() {
            return;
        }
        let config = task.config.get_or_insert_with(Default::default);
        let list = config
            .entry("volumes".to_string())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(items) = list {
            items.extend(binds.into_iter().map(serde_json::Value::from));
        }
    }

    /// A page or script served to browsers that calls another service at `localhost:PORT`
    /// (`fetch("http://localhost:8080/orders")`): on a laptop compose publishes that service
    /// there, but the visitor's browser resolves `localhost` to the visitor's own machine, so
    /// no job can make the call work; said with the file and line, and what would.
    fn browser_localhost(
        &mut self,
        file: &RuntimeFile,
        text: &str,
        analysis: &Analysis,
        subject: &str,
    ) {
        static LOCAL_CALL: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?:https?|wss?)://(?:localhost|127\.0\.0\.1):(\d{1,5})")
                .unwrap_or_else(|e| panic!("{e}"))
        });
        let served = file.source.rsplit_once('.').is_some_and(|(_, extension)| {
            matches!(extension.to_ascii_lowercase().as_str(), "js" | "mjs" | "html" | "htm")
        });
        if !served {
            return;
        }
        for (number, line) in text.lines().enumerate() {
            for captures in LOCAL_CALL.captures_iter(line) {
                let (Some(all), Some(port)) = (captures.get(0), captures.get(1)) else { continue };
                let Ok(port) = port.as_str().parse::<u16>() else { continue };
                let Some(target) = analysis
                    .services
                    .iter()
                    .find(|s| s.ports.iter().any(|p| p.published == Some(port)))
                else {
                    continue;
                };
                let (call, name, line) = (all.as_str(), &target.name, number + 1);
                self.decide(
                    subject,
                    format!("calls {call} from the browser"),
                    format!(
                        "{}:{line} calls {call} from the visitor's browser, where compose \
                         publishes {name} on the developer's machine; on a cluster the browser's \
                         `localhost` is the visitor's own machine, so no job can make that call \
                         work: give {name} a public hostname (hostname.{name}) and make the page \
                         call it, or a path this server proxies to it",
                        file.source
                    ),
                );
                return;
            }
        }
    }

    /// The service whose Vault path holds a compose secret: the first service of the
    /// analysis that mounts it, so every service that mounts it reads one key.
    fn secret_owner(&self, name: &str, analysis: &Analysis, service: &analyze::Service) -> String {
        analysis
            .services
            .iter()
            .find(|s| s.files.iter().any(|f| f.kind == FileKind::Secret { name: name.to_string() }))
            .map_or_else(|| service.name.clone(), |s| s.name.clone())
    }

    /// The file's text with each host of another service rewritten to its lookup, each
    /// rewrite said in a decision with the file and line.
    #[allow(clippy::too_many_arguments)]
    fn rewrite_hosts(
        &mut self,
        file: &RuntimeFile,
        text: &str,
        left: &str,
        right: &str,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        subject: &str,
    ) -> String {
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        for host in &file.hosts {
            let Some(target) = analysis.services.iter().find(|s| s.name == host.service) else {
                continue;
            };
            let Some(line) = lines.get_mut(host.line.saturating_sub(1) as usize) else { continue };
            let reach = self.reach(target, host.port, names, deployed);
            let written = match host.port {
                Some(port) if line.contains(&format!("{}:{port}", host.host)) => {
                    format!("{}:{port}", host.host)
                }
                _ => host.host.clone(),
            };
            let with_port = written.contains(':') || line.contains(&format!("://{}", host.host));
            let replacement = reach.in_file(left, right, with_port);
            // Only the host as a host: `://backend`, ` backend:`, `@backend` ...
            *line = replace_host(line, &written, &replacement);
            self.decide(
                subject,
                format!("{written} → {}", reach.describe()),
                format!(
                    "{}:{} names {}; it is rewritten in the delivered copy{}",
                    file.source,
                    host.line,
                    host.service,
                    match &reach {
                        Reach::Lookup { .. } => ", address and port from the registry",
                        Reach::Endpoint(_) => "",
                    }
                ),
            );
        }
        lines.concat()
    }

    /// What the job does about a mount it cannot reproduce as it is.
    fn host_mount(&mut self, service: &analyze::Service, mount: &analyze::HostMount) {
        let subject = format!("{} mount {}:{}", service.name, mount.source, mount.target);
        let origin = at(&mount.evidence);
        match &mount.kind {
            HostMountKind::CodeInImage { copied_at } => self.decide(
                &subject,
                "not mounted: the image has it",
                format!(
                    "compose mounts the repository's {} over the image's copy for development \
                     ({origin}); the image copies it to {} already ({copied_at})",
                    mount.source, mount.target
                ),
            ),
            HostMountKind::Folder { files } => {
                self.decide(
                    &subject,
                    "not mounted: build an image that contains it",
                    format!(
                        "compose mounts the repository folder {} ({files} files, {origin}); a \
                         job cannot mount a folder of the repository: add `COPY {} {}` to an \
                         image, or run one that has it",
                        mount.source,
                        mount.source.trim_start_matches("./"),
                        mount.target
                    ),
                );
            }
            HostMountKind::Socket => self.decide(
                &subject,
                "not mounted: the host's socket",
                format!(
                    "compose mounts the host's socket {} ({origin}); the Docker socket gives the \
                     container control of the node. To allow it, enable `volumes` in the Docker \
                     plugin of the clients that may run it and add \
                     `volumes = [\"{}:{}\"]` to the task",
                    mount.source, mount.source, mount.target
                ),
            ),
            HostMountKind::HostSystem => self.decide(
                &subject,
                "not mounted: a path of the host's system",
                format!(
                    "compose mounts the host's {} ({origin}); it is the node's own (kernel \
                     modules, devices, system files), not data: enable `volumes` in the Docker \
                     plugin of the clients that may run it and add \
                     `volumes = [\"{}:{}:ro\"]` to the task",
                    mount.source, mount.source, mount.target
                ),
            ),
            HostMountKind::NotInRepository => self.decide(
                &subject,
                "not mounted: not in the repository",
                format!(
                    "compose mounts {} ({origin}) but the repository has no such file or folder \
                     (a local file of whoever runs compose); the service starts without it",
                    mount.source
                ),
            ),
        }
    }
}

fn digest_words(file: &RuntimeFile) -> String {
    match &file.digest {
        Some(digest) => format!("copied at {}", &digest[..digest.len().min(19)]),
        None => "copied".to_string(),
    }
}

/// The last component of a path.
fn file_name(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    if clean.is_empty() || clean.starts_with('.') && clean.chars().all(|c| c == '.') {
        "file".to_string()
    } else {
        clean
    }
}

/// `wanted`, or `wanted` with a number before its extension when another file took it.
fn unique(wanted: &str, used: &mut Vec<String>) -> String {
    let mut candidate = wanted.to_string();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = match wanted.rsplit_once('.') {
            Some((stem, extension)) if !stem.ends_with('/') => format!("{stem}-{n}.{extension}"),
            _ => format!("{wanted}-{n}"),
        };
        n += 1;
    }
    used.push(candidate.clone());
    candidate
}

/// Delimiters neither half of which occurs in the text.
pub(super) fn delimiters_for(text: &str) -> Option<(&'static str, &'static str)> {
    DELIMITERS.iter().copied().find(|(left, right)| !text.contains(left) && !text.contains(right))
}

/// Replaces `host` (a host or `host:port`) where it stands as a host in `line`.
fn replace_host(line: &str, host: &str, replacement: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(found) = rest.find(host) {
        let before = &rest[..found];
        let after = &rest[found + host.len()..];
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        // A `/` before the host is a path (`/srv/backend/static`) unless it ends `//`.
        let in_path = before.ends_with('/') && !before.ends_with("//");
        let bounded = !in_path
            && !before.chars().next_back().is_some_and(word)
            && !after.chars().next().is_some_and(|c| word(c) || c == ':' && !host.contains(':'));
        out.push_str(before);
        if bounded {
            out.push_str(replacement);
        } else {
            out.push_str(host);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_never_collide_with_the_text() {
        assert_eq!(delimiters_for("server { listen 80; }"), Some(("{{", "}}")));
        assert_eq!(delimiters_for("{{ .Values.x }}"), Some(("[[", "]]")));
        assert_eq!(
            delimiters_for("{{ x }} [[ y ]] <%= z %> {% w %}"),
            Some(("<<<nomad-spec:", ":nomad-spec>>>"))
        );
    }

    #[test]
    fn hosts_are_replaced_only_as_hosts() {
        assert_eq!(
            replace_host("    proxy_pass http://backend:8000;\n", "backend:8000", "X"),
            "    proxy_pass http://X;\n"
        );
        assert_eq!(
            replace_host("server backend-2:80; backend:80", "backend:80", "X"),
            "server backend-2:80; X"
        );
        assert_eq!(
            replace_host("root /srv/backend/static;", "backend", "X"),
            "root /srv/backend/static;"
        );
        assert_eq!(
            replace_host("hosts => [\"http://es:9200\"]", "es:9200", "X"),
            "hosts => [\"http://X\"]"
        );
    }

    #[test]
    fn rendered_names_are_unique_and_safe() {
        let mut used = Vec::new();
        assert_eq!(unique("local/nginx.conf", &mut used), "local/nginx.conf");
        assert_eq!(unique("local/nginx.conf", &mut used), "local/nginx-2.conf");
        assert_eq!(file_name("proxy/my conf$.txt"), "my_conf_.txt");
        assert_eq!(file_name(".."), "file");
    }
}
