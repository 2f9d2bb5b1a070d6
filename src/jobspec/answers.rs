//! A person's answers to the builder's questions, and the questions themselves.
//!
//! `Answers` is what `generate --answers FILE` reads (TOML, YAML or JSON, strictly: unknown
//! keys are errors) and what the PR conversation will produce from `/nomad-spec set KEY=VALUE`
//! (`Answers::set`). A `Question` is what the builder could not decide alone: a key of that
//! `KEY=VALUE` grammar, a prompt, the default it will use, and why. This module only holds and
//! checks values; using them is `jobspec::build`'s job.
//!
//! The `KEY=VALUE` grammar (SERVICE is a service name, VAR an environment variable):
//!
//! | key | value | example |
//! |---|---|---|
//! | `job` | job name | `job=shop` |
//! | `datacenters` | comma-separated list | `datacenters=dc1,dc2` |
//! | `namespace`, `node_pool` | name | `namespace=apps` |
//! | `deploy.SERVICE` | `true`/`false` | `deploy.db=true` |
//! | `image.SERVICE` | image reference | `image.api=ghcr.io/acme/api:1.4` |
//! | `count.SERVICE` | instances | `count.api=3` |
//! | `cpu.SERVICE`, `memory.SERVICE`, `memory_max.SERVICE` | MHz, MB | `memory.api=512` |
//! | `class.SERVICE` | class of `.nomad-spec.toml` | `class.api=large` |
//! | `hostname.SERVICE` | `host[/path]` | `hostname.web=shop.example.com` |
//! | `route_port.SERVICE` | Fabio TCP listener port | `route_port.db=5432` |
//! | `static_port.SERVICE[.CONTAINER_PORT]` | host port | `static_port.web=80` |
//! | `volume.SERVICE./PATH` | `host[:SOURCE]`, `csi[:SOURCE]` or `ephemeral` | `volume.db./data=csi:pgdata` |
//! | `owner.SERVICE` | `uid[:gid]` owning its volumes | `owner.db=999:999` |
//! | `endpoint.SERVICE` | `host:port` of an existing instance | `endpoint.db=db.internal:5432` |
//! | `env.SERVICE.VAR` | any text | `env.api.LOG_LEVEL=debug` |
//! | `secret.VAR` | Vault KV v2 `path#key` | `secret.DB_PASSWORD=kv/data/shop/db#password` |

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::parse::LineIndex;

/// Everything a person decided, all optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// Job name (before the configured prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Datacenters to run in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
    /// Nomad namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Nomad node pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    /// Secret environment variables → Vault KV v2 `path#key`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Answers about one service, by service name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceAnswers>,
}

/// Answers about one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAnswers {
    /// Deploy it (backing services default to no, the others to yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<bool>,
    /// Image reference to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Number of instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// CPU in MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Memory in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Memory oversubscription ceiling in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<u32>,
    /// Resource class of `.nomad-spec.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Public `host[/path]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Fabio TCP listener port routed to the service's main port (`urlprefix-:PORT proto=tcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_port: Option<u16>,
    /// Static host ports by container port (`"8080" = 80`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub static_ports: BTreeMap<String, u16>,
    /// Volumes by path in the container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeAnswer>,
    /// `uid[:gid]` owning the service's volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `host:port` of an existing instance the other services use instead of a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Environment values set verbatim (override the repository's defaults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Variables the service's code reads a dependency's `host:port` from, by dependency
    /// (`address.web.db=DB_ADDR`): for a host the code had written in, once the code reads it
    /// from a variable instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, String>,
}

/// How one container path is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeAnswer {
    /// `host`, `csi` or `ephemeral` (lost when the allocation goes).
    pub r#type: VolumeKind,
    /// Host or CSI volume name (defaults to `<job>-<service>-<n>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Volume kinds an answer can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeKind {
    Host,
    Csi,
    Ephemeral,
}

/// Something the builder could not decide alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The `KEY` of `KEY=VALUE` that answers it.
    pub key: String,
    /// What is asked, in words.
    pub prompt: String,
    /// The value used when nobody answers.
    pub default: String,
    /// Why that default.
    pub reason: String,
    /// The default is a guess that will probably not work as is (an image nobody pushed).
    pub needs_answer: bool,
}

/// A `KEY=VALUE` answer that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No `=` in the text.
    #[error("`{0}` is not KEY=VALUE")]
    NotKeyValue(String),
    /// The key is not part of the grammar.
    #[error("unknown answer key `{0}` (known: {KNOWN_KEYS})")]
    UnknownKey(String),
    /// The value does not fit the key.
    #[error("bad value for `{key}`: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// Largest answers file read: far above any real one.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

const KNOWN_KEYS: &str = "job, datacenters, namespace, node_pool, deploy.S, image.S, count.S, \
    cpu.S, memory.S, memory_max.S, class.S, hostname.S, route_port.S, static_port.S[.PORT], volume.S./PATH, \
    owner.S, endpoint.S, env.S.VAR, secret.VAR";

impl Answers {
    /// Loads an answers file; the format follows the extension (`.toml`, `.yaml`/`.yml`,
    /// `.json`).
    pub fn load(path: &Path) -> anyhow::Result<Answers> {
        let text = crate::file::read_text(path, MAX_FILE_BYTES)?;
        let file = path.display().to_string();
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        match extension.to_ascii_lowercase().as_str() {
            "toml" => Answers::from_toml(&text, &file),
            "yaml" | "yml" => Answers::from_yaml(&text, &file),
            "json" => Answers::from_json(&text, &file),
            _ => anyhow::bail!("{file}: answers files end in .toml, .yaml, .yml or .json"),
        }
    }

    /// Parses TOML answers.
    pub fn from_toml(text: &str, file: &str) -> anyhow::Result<Answers> {
        let answers: Answers = toml::from_str(text).map_err(|err| {
            let position = err
                .span()
                .map(|span| {
                    let (line, column) = LineIndex::new(text).position(span.start);
                    format!(":{line}:{column}")
                })
                .unwrap_or_default();
            anyhow::anyhow!("{file}{position}: {}", err.message())
        })?;
        answers.check().map_err(|err| anyhow::anyhow!("{file}: {err}"))?;
        Ok(answers)
    }

    /// Parses YAML answers.
    pub fn from_yaml(text: &str, file: &str) -> anyhow::Result<Answers> {
        let answers: Answers = serde_saphyr::from_str(text).map_err(|err| {
            // The position goes up front like the other formats; the source snippet is dropped.
            let message = err.without_snippet().to_string();
            let message = message.trim_start_matches("error: ");
            let message = match message.split_once(": ") {
                Some((position, rest)) if position.starts_with("line ") => rest,
                _ => message,
            };
            let message = message.rsplit_once(" at line ").map_or(message, |(m, _)| m);
            match err.location() {
                Some(at) => anyhow::anyhow!("{file}:{}:{}: {message}", at.line(), at.column()),
                None => anyhow::anyhow!("{file}: {message}"),
            }
        })?;
        answers.check().map_err(|err| anyhow::anyhow!("{file}: {err}"))?;
        Ok(answers)
    }

    /// Parses JSON answers.
    pub fn from_json(text: &str, file: &str) -> anyhow::Result<Answers> {
        let answers: Answers = serde_json::from_str(text).map_err(|err| {
            // serde_json appends the position in words; it is shown up front instead.
            let message = err.to_string();
            let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
            anyhow::anyhow!("{file}:{}:{}: {message}", err.line(), err.column())
        })?;
        answers.check().map_err(|err| anyhow::anyhow!("{file}: {err}"))?;
        Ok(answers)
    }

    /// Checks every value with the same rules as `set`.
    pub fn check(&self) -> Result<(), AnswerError> {
        if let Some(job) = &self.job {
            check_job_name("job", job)?;
        }
        if let Some(datacenters) = &self.datacenters {
            check_datacenters("datacenters", datacenters)?;
        }
        if let Some(namespace) = &self.namespace {
            check_name("namespace", namespace)?;
        }
        if let Some(pool) = &self.node_pool {
            check_name("node_pool", pool)?;
        }
        for (var, reference) in &self.secrets {
            let key = format!("secret.{var}");
            check_secret_name(&key, var)?;
            SecretRef::parse(&key, reference)?;
        }
        for (service, answers) in &self.services {
            answers.check(service)?;
        }
        Ok(())
    }

    /// Applies one `KEY=VALUE` answer.
    pub fn set(&mut self, assignment: &str) -> Result<(), AnswerError> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| AnswerError::NotKeyValue(assignment.to_string()))?;
        let key = key.trim();
        // Values are kept verbatim except surrounding blanks; env values keep everything.
        let trimmed = value.trim();
        let (kind, rest) = key.split_once('.').unwrap_or((key, ""));
        let unknown = || AnswerError::UnknownKey(key.to_string());
        match (kind, rest) {
            ("job", "") => {
                check_job_name(key, trimmed)?;
                self.job = Some(trimmed.to_string());
            }
            ("datacenters", "") => {
                let list: Vec<String> = trimmed.split(',').map(|d| d.trim().to_string()).collect();
                check_datacenters(key, &list)?;
                self.datacenters = Some(list);
            }
            ("namespace", "") => {
                check_name(key, trimmed)?;
                self.namespace = Some(trimmed.to_string());
            }
            ("node_pool", "") => {
                check_name(key, trimmed)?;
                self.node_pool = Some(trimmed.to_string());
            }
            ("secret", var) if !var.is_empty() => {
                check_secret_name(key, var)?;
                SecretRef::parse(key, trimmed)?;
                self.secrets.insert(var.to_string(), trimmed.to_string());
            }
            ("env", rest) => {
                let (service, var) = rest.rsplit_once('.').ok_or_else(unknown)?;
                check_service_name(key, service)?;
                check_env_name(key, var)?;
                self.service(service).env.insert(var.to_string(), value.to_string());
            }
            ("volume", rest) => {
                let (service, path) =
                    rest.split_once("./").ok_or_else(|| AnswerError::BadValue {
                        key: key.to_string(),
                        reason: "expected volume.SERVICE./absolute/path".to_string(),
                    })?;
                check_service_name(key, service)?;
                let path = format!("/{path}");
                let volume = VolumeAnswer::parse(key, trimmed)?;
                check_container_path(key, &path)?;
                self.service(service).volumes.insert(path, volume);
            }
            ("address", rest) => {
                let (service, dependency) =
                    rest.split_once('.').ok_or_else(|| AnswerError::BadValue {
                        key: key.to_string(),
                        reason: "expected address.SERVICE.DEPENDENCY=VARIABLE".to_string(),
                    })?;
                check_service_name(key, service)?;
                check_service_name(key, dependency)?;
                check_env_name(key, trimmed)?;
                self.service(service).addresses.insert(dependency.to_string(), trimmed.to_string());
            }
            ("static_port", rest) if !rest.is_empty() => {
                // `static_port.web.8080` names a container port; `static_port.web` the main one.
                let (service, container) = match rest.rsplit_once('.') {
                    Some((service, port)) if port.parse::<u16>().is_ok() => (service, port),
                    _ => (rest, "main"),
                };
                check_service_name(key, service)?;
                let port = parse_number::<u16>(key, trimmed, 1, u16::MAX as u64)?;
                self.service(service).static_ports.insert(container.to_string(), port);
            }
            (field, service) if !service.is_empty() => {
                check_service_name(key, service)?;
                let answers = self.service(service);
                match field {
                    "deploy" => answers.deploy = Some(parse_bool(key, trimmed)?),
                    "image" => {
                        check_image(key, trimmed)?;
                        answers.image = Some(trimmed.to_string());
                    }
                    "count" => answers.count = Some(parse_number(key, trimmed, 0, 1000)?),
                    "cpu" => answers.cpu = Some(parse_number(key, trimmed, 1, 1_000_000)?),
                    "memory" => answers.memory = Some(parse_number(key, trimmed, 10, 4_000_000)?),
                    "memory_max" => {
                        answers.memory_max = Some(parse_number(key, trimmed, 10, 4_000_000)?)
                    }
                    "class" => {
                        check_name(key, trimmed)?;
                        answers.class = Some(trimmed.to_string());
                    }
                    "hostname" => {
                        check_hostname(key, trimmed)?;
                        answers.hostname = Some(trimmed.to_string());
                    }
                    "route_port" => {
                        answers.route_port = Some(parse_number(key, trimmed, 1, u16::MAX as u64)?)
                    }
                    "owner" => {
                        check_owner(key, trimmed)?;
                        answers.owner = Some(trimmed.to_string());
                    }
                    "endpoint" => {
                        check_endpoint(key, trimmed)?;
                        answers.endpoint = Some(trimmed.to_string());
                    }
                    _ => return Err(unknown()),
                }
            }
            _ => return Err(unknown()),
        }
        Ok(())
    }

    /// The answers about `service`, created empty when absent.
    fn service(&mut self, service: &str) -> &mut ServiceAnswers {
        self.services.entry(service.to_string()).or_default()
    }

    /// The answers about `service`, when there are any.
    pub fn for_service(&self, service: &str) -> Option<&ServiceAnswers> {
        self.services.get(service)
    }
}

impl ServiceAnswers {
    fn check(&self, service: &str) -> Result<(), AnswerError> {
        let key = |field: &str| format!("{field}.{service}");
        check_service_name(&key("services"), service)?;
        if let Some(image) = &self.image {
            check_image(&key("image"), image)?;
        }
        if let Some(hostname) = &self.hostname {
            check_hostname(&key("hostname"), hostname)?;
        }
        if let Some(owner) = &self.owner {
            check_owner(&key("owner"), owner)?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(&key("endpoint"), endpoint)?;
        }
        if let Some(class) = &self.class {
            check_name(&key("class"), class)?;
        }
        for (dependency, variable) in &self.addresses {
            let key = format!("address.{service}.{dependency}");
            check_service_name(&key, dependency)?;
            check_env_name(&key, variable)?;
        }
        for (field, value, min) in
            [("cpu", self.cpu, 1), ("memory", self.memory, 10), ("memory_max", self.memory_max, 10)]
        {
            if value.is_some_and(|v| v < min) {
                return Err(bad(&key(field), format!("must be at least {min}")));
            }
        }
        if self.route_port == Some(0) {
            return Err(bad(&key("route_port"), "ports go from 1 to 65535"));
        }
        for (container, port) in &self.static_ports {
            let key = format!("static_port.{service}.{container}");
            if container != "main" && container.parse::<u16>().is_err() {
                return Err(bad(&key, "container ports are numbers (or `main`)"));
            }
            if *port == 0 {
                return Err(bad(&key, "host ports go from 1 to 65535"));
            }
        }
        for (path, volume) in &self.volumes {
            let key = format!("volume.{service}.{path}");
            check_container_path(&key, path)?;
            if let Some(source) = &volume.source {
                check_name(&key, source)?;
            }
        }
        for var in self.env.keys() {
            check_env_name(&format!("env.{service}.{var}"), var)?;
        }
        Ok(())
    }
}

impl VolumeAnswer {
    /// `host[:SOURCE]`, `csi[:SOURCE]` or `ephemeral`.
    fn parse(key: &str, value: &str) -> Result<VolumeAnswer, AnswerError> {
        let (kind, source) = match value.split_once(':') {
            Some((kind, source)) => (kind, Some(source)),
            None => (value, None),
        };
        let r#type = match kind {
            "host" => VolumeKind::Host,
            "csi" => VolumeKind::Csi,
            "ephemeral" if source.is_none() => VolumeKind::Ephemeral,
            _ => return Err(bad(key, "expected host[:SOURCE], csi[:SOURCE] or ephemeral")),
        };
        if let Some(source) = source {
            check_name(key, source)?;
        }
        Ok(VolumeAnswer { r#type, source: source.map(str::to_string) })
    }
}

/// A Vault KV v2 secret reference: `path#key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The API path, `kv/data/shop/db`.
    pub path: String,
    /// The key inside the secret.
    pub key: String,
}

impl SecretRef {
    /// Parses `path#key`; both end up inside a template, so only plain path characters pass.
    pub fn parse(answer_key: &str, value: &str) -> Result<SecretRef, AnswerError> {
        let (path, key) = value
            .split_once('#')
            .ok_or_else(|| bad(answer_key, "expected a Vault KV v2 `path#key`"))?;
        let path_ok = !path.is_empty()
            && !path.starts_with('/')
            && !path.split('/').any(|part| part.is_empty() || part == "..")
            && path.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
        if !path_ok {
            return Err(bad(answer_key, "the path must be like `kv/data/app/db`"));
        }
        let key_ok =
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !key_ok {
            return Err(bad(
                answer_key,
                "the key after `#` must be letters, digits, `_`, `-` or `.`",
            ));
        }
        Ok(SecretRef { path: path.to_string(), key: key.to_string() })
    }
}

fn bad(key: &str, reason: impl Into<String>) -> AnswerError {
    AnswerError::BadValue { key: key.to_string(), reason: reason.into() }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, AnswerError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(bad(key, "expected true or false")),
    }
}

fn parse_number<T: TryFrom<u64>>(
    key: &str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<T, AnswerError> {
    let number: u64 =
        value.parse().map_err(|_| bad(key, format!("expected a whole number, got `{value}`")))?;
    if !(min..=max).contains(&number) {
        return Err(bad(key, format!("must be between {min} and {max}")));
    }
    T::try_from(number).map_err(|_| bad(key, "out of range"))
}

/// Job names become file names and Nomad IDs: letters, digits, `-`, `_`, `.`.
pub(crate) fn check_job_name(key: &str, value: &str) -> Result<(), AnswerError> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(
            key,
            "a job name is 1-100 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
        ))
    }
}

fn check_name(key: &str, value: &str) -> Result<(), AnswerError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(key, format!("`{value}` is not a name (letters, digits, `-`, `_`, `.`)")))
    }
}

fn check_service_name(key: &str, value: &str) -> Result<(), AnswerError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(key, "missing or blank service name"));
    }
    Ok(())
}

fn check_datacenters(key: &str, list: &[String]) -> Result<(), AnswerError> {
    if list.is_empty() {
        return Err(bad(key, "name at least one datacenter"));
    }
    for datacenter in list {
        let ok = !datacenter.is_empty()
            && datacenter.chars().all(|c| c.is_ascii_alphanumeric() || "-_.*".contains(c));
        if !ok {
            return Err(bad(key, format!("`{datacenter}` is not a datacenter name")));
        }
    }
    Ok(())
}

/// Environment variable names: what a shell and an env file accept.
pub(crate) fn check_env_name(key: &str, value: &str) -> Result<(), AnswerError> {
    if is_env_name(value) {
        Ok(())
    } else {
        Err(bad(key, format!("`{value}` is not an environment variable name")))
    }
}

/// A secret's name: an env variable's, or a compose secret's (`db-password`).
fn check_secret_name(key: &str, value: &str) -> Result<(), AnswerError> {
    let ok = value.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(key, format!("`{value}` is not a secret name (letters, digits, `_`, `-`, `.`)")))
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Image references are passed to Docker as they are; whitespace never belongs in one.
fn check_image(key: &str, value: &str) -> Result<(), AnswerError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(key, "an image reference has no blanks, like `ghcr.io/acme/api:1.4`"));
    }
    Ok(())
}

/// Hostnames become routing tags; keep them to DNS characters and a plain path.
fn check_hostname(key: &str, value: &str) -> Result<(), AnswerError> {
    let (host, path) = match value.split_once('/') {
        Some((host, path)) => (host, path),
        None => (value, ""),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        && !host.starts_with(['-', '.']);
    let path_ok = path.chars().all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c));
    if host_ok && path_ok {
        Ok(())
    } else {
        Err(bad(key, "expected a host name with an optional path, like `shop.example.com/api`"))
    }
}

fn check_owner(key: &str, value: &str) -> Result<(), AnswerError> {
    let numeric = |part: &str| {
        !part.is_empty() && part.len() <= 10 && part.chars().all(|c| c.is_ascii_digit())
    };
    let ok = match value.split_once(':') {
        Some((uid, gid)) => numeric(uid) && numeric(gid),
        None => numeric(value),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(key, "expected a numeric `uid` or `uid:gid`, like `999:999`"))
    }
}

fn check_endpoint(key: &str, value: &str) -> Result<(), AnswerError> {
    let ok = value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if ok {
        Ok(())
    } else {
        Err(bad(key, "expected `host:port`, like `db.internal:5432`"))
    }
}

fn check_container_path(key: &str, path: &str) -> Result<(), AnswerError> {
    let ok = path.starts_with('/')
        && !path.split('/').any(|part| part == "..")
        && !path.chars().any(|c| c.is_control());
    if ok {
        Ok(())
    } else {
        Err(bad(key, "volume paths are absolute paths in the container"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_all(lines: &[&str]) -> Result<Answers, AnswerError> {
        let mut answers = Answers::default();
        for line in lines {
            answers.set(line)?;
        }
        Ok(answers)
    }

    #[test]
    fn every_documented_key_sets_its_field() {
        let answers = set_all(&[
            "job=shop",
            "datacenters=dc1, dc2",
            "namespace=apps",
            "node_pool=edge",
            "deploy.db=yes",
            "image.api=ghcr.io/acme/api:1.4",
            "count.api=3",
            "cpu.api=300",
            "memory.api=512",
            "memory_max.api=1024",
            "class.api=large",
            "hostname.web=shop.example.com/app",
            "route_port.db=15432",
            "static_port.web=80",
            "static_port.web.9090=9090",
            "volume.db./var/lib/postgresql/data=csi:pgdata",
            "owner.db=999:999",
            "endpoint.cache=redis.internal:6379",
            "env.api.GREETING= hello = world ",
            "secret.DB_PASSWORD=kv/data/shop/db#password",
        ])
        .unwrap();
        insta::assert_snapshot!(toml::to_string(&answers).unwrap(), @r#"
        job = "shop"
        datacenters = ["dc1", "dc2"]
        namespace = "apps"
        node_pool = "edge"

        [secrets]
        DB_PASSWORD = "kv/data/shop/db#password"

        [services.api]
        image = "ghcr.io/acme/api:1.4"
        count = 3
        cpu = 300
        memory = 512
        memory_max = 1024
        class = "large"

        [services.api.env]
        GREETING = " hello = world "

        [services.cache]
        endpoint = "redis.internal:6379"

        [services.db]
        deploy = true
        route_port = 15432
        owner = "999:999"

        [services.db.volumes."/var/lib/postgresql/data"]
        type = "csi"
        source = "pgdata"

        [services.web]
        hostname = "shop.example.com/app"

        [services.web.static_ports]
        9090 = 9090
        main = 80
        "#);
        answers.check().unwrap();
    }

    #[test]
    fn bad_keys_and_values_are_explained() {
        let table = [
            ("image.api", "`image.api` is not KEY=VALUE"),
            ("colour.api=red", "unknown answer key `colour.api`"),
            ("image=x", "unknown answer key `image`"),
            ("count.api=many", "bad value for `count.api`: expected a whole number, got `many`"),
            ("count.api=5000", "must be between 0 and 1000"),
            ("memory.api=5", "must be between 10 and"),
            ("deploy.db=maybe", "expected true or false"),
            ("image.api=ghcr.io/a b", "no blanks"),
            ("hostname.web=shop.example.com\"}", "expected a host name"),
            ("secret.DB_PASSWORD=kv/data/db", "expected a Vault KV v2 `path#key`"),
            ("secret.DB_PASSWORD=kv/data/db\"}}#x", "the path must be like"),
            ("secret.DB_PASSWORD=kv/../x#k", "the path must be like"),
            ("secret.DB_PASSWORD=kv/x#a b", "the key after `#`"),
            ("secret.DB/PASSWORD=kv/x#k", "not a secret name"),
            ("job=../etc", "a job name is"),
            ("datacenters=dc1,", "`` is not a datacenter name"),
            ("volume.db=/data", "expected volume.SERVICE./absolute/path"),
            ("volume.db./data=nfs", "expected host[:SOURCE]"),
            ("volume.db./../x=host", "absolute paths"),
            ("owner.db=postgres", "numeric"),
            ("endpoint.db=db.internal", "host:port"),
            ("static_port.web=0", "between 1 and 65535"),
            ("route_port.db=70000", "between 1 and 65535"),
            ("env.api.BAD-NAME=x", "not an environment variable name"),
        ];
        for (line, expected) in table {
            let err = set_all(&[line]).unwrap_err().to_string();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn files_load_in_every_format_with_positions_in_errors() {
        let toml = "job = \"shop\"\n[services.api]\nimage = \"a:1\"\n";
        let yaml = "job: shop\nservices:\n  api:\n    image: a:1\n";
        let json = r#"{"job":"shop","services":{"api":{"image":"a:1"}}}"#;
        let from_toml = Answers::from_toml(toml, "a.toml").unwrap();
        assert_eq!(from_toml, Answers::from_yaml(yaml, "a.yaml").unwrap());
        assert_eq!(from_toml, Answers::from_json(json, "a.json").unwrap());

        let err = Answers::from_toml("job = \"shop\"\n[services.api]\nimgae = \"a\"\n", "a.toml");
        assert!(format!("{:#}", err.unwrap_err()).starts_with("a.toml:3:1: unknown field `imgae`"));
        let err = Answers::from_json("{\n\"jobs\": 1}", "a.json").unwrap_err().to_string();
        assert!(err.starts_with("a.json:2:6: unknown field `jobs`"), "{err}");
        let err = Answers::from_yaml("job: shop\nnamespce: x\n", "a.yaml").unwrap_err().to_string();
        assert!(err.starts_with("a.yaml:2:1: unknown field `namespce`"), "{err}");
        let err = Answers::from_yaml("services:\n  web:\n    count: lots\n", "a.yaml").unwrap_err();
        assert_eq!(err.to_string(), "a.yaml:3:12: invalid u32");
        let err = Answers::from_toml("[secrets]\nX = \"nope\"\n", "a.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.toml: bad value for `secret.X`: expected a Vault KV v2 `path#key`"
        );
    }
}
