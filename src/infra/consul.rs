//! Consul: the team's conventions in KV and the services of the catalog.
//!
//! This module owns a small typed client of Consul's HTTP API (KV read, catalog services,
//! service health), configured like the `consul` CLI: `CONSUL_HTTP_ADDR` (`host:port` or a
//! URL; `https://` or `CONSUL_HTTP_SSL=true` for TLS), `CONSUL_HTTP_TOKEN` (sent as
//! `X-Consul-Token`) and `CONSUL_CACERT`. It also owns the conventions schema. It does not
//! decide anything about a job: `jobspec::build` reads what this module found.
//!
//! Why not `rs-consul` (the crate first chosen): with `default-features = false` it still adds
//! 29 crates to the build, among them a second, blocking HTTP client (`ureq`), the `bon` and
//! `darling` proc macros and `flate2`; it does not URL-encode query parameters and has no
//! keys-only listing. The three GET calls needed here are a few lines on the `reqwest` client
//! the crate already uses for Nomad.
//!
//! # Conventions
//!
//! Read from the KV key `config/nomad-agent/conventions` (another with
//! `NOMAD_SPEC_CONVENTIONS_KEY`), JSON, every part optional, unknown keys are errors.
//! `.nomad-spec.toml` wins over it. Example (also in `examples/conventions.json`):
//!
//! ```json
//! {
//!   "vault_paths": {
//!     "default": "secret/data/{app_name}",
//!     "database": "secret/data/{app_name}/db",
//!     "aws": "secret/data/aws/{app_name}"
//!   },
//!   "env": {
//!     "DATABASE_PASSWORD": { "path": "secret/data/{app_name}/db", "key": "password" },
//!     "AWS_ACCESS_KEY_ID": { "path": "secret/data/aws/{app_name}", "key": "access_key" }
//!   },
//!   "fabio": { "port": 9999, "hostname_suffix": "apps.example.com" },
//!   "datacenters": ["dc1", "dc2"],
//!   "service_classes": {
//!     "small": { "cpu": 200, "memory": 256 },
//!     "large": { "cpu": 1000, "memory": 1024, "memory_max": 2048 }
//!   }
//! }
//! ```
//!
//! - `vault_paths`: Vault KV path pattern by kind of secret (`default`, `database`, `aws`, ...);
//!   `{app_name}` is replaced by the job's name.
//! - `env`: environment variable → Vault `path` and `key` (patterns too).
//! - `fabio.port`: Fabio's HTTP listener; `fabio.hostname_suffix`: public host names are
//!   `<service>.<suffix>`.
//! - `datacenters`: default datacenters of jobs.
//! - `service_classes`: resource classes (CPU MHz, memory MB) by name.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::http::retry::{self, Repeat, RetryPolicy, Transience};
use crate::http::{shown_address, Redactor};
use crate::jobspec::config::{Config, FabioConfig, ServiceClass};
use crate::settings::{ConsulSettings, Secret, Settings};

/// KV key of the conventions unless `NOMAD_SPEC_CONVENTIONS_KEY` names another.
pub use crate::settings::DEFAULT_CONVENTIONS_KEY;

/// The team's conventions (see the module documentation for the schema).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conventions {
    /// Vault KV path pattern by kind of secret; `{app_name}` is the job's name.
    #[serde(default)]
    pub vault_paths: BTreeMap<String, String>,
    /// Environment variable → where its secret lives.
    #[serde(default)]
    pub env: BTreeMap<String, SecretLocation>,
    /// Fabio defaults.
    pub fabio: Option<FabioConventions>,
    /// Default datacenters.
    pub datacenters: Option<Vec<String>>,
    /// Resource classes by name.
    #[serde(default)]
    pub service_classes: BTreeMap<String, ServiceClass>,
}

/// A Vault KV `path` and `key` (both may hold `{app_name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretLocation {
    /// KV path (`secret/data/{app_name}/db`).
    pub path: String,
    /// Key in the secret (`password`).
    pub key: String,
}

/// Fabio defaults of the team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FabioConventions {
    /// Fabio's HTTP listener port (informational: jobs route by host name or TCP tags).
    pub port: Option<u16>,
    /// Public host names are `<service>.<suffix>`.
    pub hostname_suffix: Option<String>,
}

impl Conventions {
    /// Reads conventions JSON; errors name `origin` and the line and column.
    pub fn from_json(text: &str, origin: &str) -> anyhow::Result<Conventions> {
        let conventions: Conventions = serde_json::from_str(text).map_err(|err| {
            if !text.trim_start().starts_with('{') && err.is_data() {
                return anyhow::anyhow!(
                    "{origin}:{}:{}: the conventions must be a JSON object of the documented \
                     schema (vault_paths, env, fabio, datacenters, service_classes)",
                    err.line(),
                    err.column()
                );
            }
            anyhow::anyhow!(
                "{origin}:{}:{}: the conventions are not valid: {err}",
                err.line(),
                err.column()
            )
        })?;
        conventions.check().map_err(|problem| anyhow::anyhow!("{origin}: {problem}"))?;
        Ok(conventions)
    }

    /// Values serde cannot judge.
    fn check(&self) -> Result<(), String> {
        for (kind, pattern) in &self.vault_paths {
            if pattern.trim().is_empty() || pattern.contains('#') {
                return Err(format!(
                    "vault_paths.{kind} = {pattern:?}: a path pattern is a non-empty KV path \
                     without `#key`"
                ));
            }
        }
        for (var, location) in &self.env {
            if location.path.trim().is_empty() || location.key.trim().is_empty() {
                return Err(format!("env.{var}: both `path` and `key` must be non-empty"));
            }
        }
        if let Some(datacenters) = &self.datacenters {
            if datacenters.is_empty() || datacenters.iter().any(|dc| dc.trim().is_empty()) {
                return Err("datacenters: a non-empty list of non-empty names".into());
            }
        }
        if let Some(suffix) = self.fabio.as_ref().and_then(|f| f.hostname_suffix.as_deref()) {
            let name = suffix.trim_start_matches('.');
            if name.is_empty() || name.contains(['/', ' ', ':']) {
                return Err(format!("fabio.hostname_suffix = {suffix:?} is not a DNS suffix"));
            }
        }
        if self.fabio.as_ref().and_then(|f| f.port) == Some(0) {
            return Err("fabio.port: 0 is not a port".into());
        }
        Ok(())
    }

    /// `config` with the conventions filling what the file leaves unset (the file wins).
    /// Returns the names of the settings the conventions filled.
    pub fn fill(&self, config: &mut Config) -> Vec<String> {
        let mut filled = Vec::new();
        if config.datacenters.is_none() {
            if let Some(datacenters) = &self.datacenters {
                config.datacenters = Some(datacenters.clone());
                filled.push("datacenters".to_string());
            }
        }
        for (name, class) in &self.service_classes {
            if !config.classes.contains_key(name) {
                config.classes.insert(name.clone(), class.clone());
                filled.push(format!("classes.{name}"));
            }
        }
        if let Some(fabio) = &self.fabio {
            let file = config.fabio.get_or_insert_with(|| {
                filled.push("fabio".to_string());
                FabioConfig::default()
            });
            if file.hostname_suffix.is_none() && fabio.hostname_suffix.is_some() {
                file.hostname_suffix = fabio.hostname_suffix.clone();
                filled.push("fabio.hostname_suffix".to_string());
            }
        }
        config.cluster.from_conventions.extend(filled.iter().cloned());
        filled
    }
}

/// Why Consul could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ConsulError {
    /// The settings are unusable.
    #[error("{0}")]
    Config(String),
    /// Nothing answered, or too slowly.
    #[error("Consul at {url} is not reachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The token was refused.
    #[error("Consul refused the request to {url} (403: {body}); check CONSUL_HTTP_TOKEN")]
    Forbidden { url: String, body: String },
    /// Any other error status.
    #[error("Consul at {url} answered {status}{tries}: {body}")]
    Status { url: String, status: u16, body: String, tries: retry::Tries },
    /// The body was not of the documented shape.
    #[error("Consul at {url} answered an unexpected body: {reason}")]
    Shape { url: String, reason: String },
}

/// A client of Consul's HTTP API.
#[derive(Debug, Clone)]
pub struct ConsulClient {
    base: Url,
    token: Option<Secret>,
    conventions_key: String,
    http: reqwest::Client,
    /// Longest wait for one answer (`NOMAD_SPEC_REQUEST_TIMEOUT`).
    timeout: Duration,
    retry: RetryPolicy,
    /// The token and the address's password, cut out of what Consul sends back.
    redactor: Redactor,
}

/// One instance of a service and whether all its checks pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    /// Node name.
    pub node: String,
    /// Address the service listens on.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Every health check is `passing`.
    pub passing: bool,
}

impl ConsulClient {
    /// A client when `settings` set `CONSUL_HTTP_ADDR`; `Ok(None)` when Consul is not
    /// configured.
    pub fn configured(settings: &Settings) -> Result<Option<ConsulClient>, ConsulError> {
        let typed = settings.consul().map_err(|err| ConsulError::Config(err.to_string()))?;
        typed.map(ConsulClient::new).transpose()
    }

    /// A client for these settings.
    pub fn new(settings: ConsulSettings) -> Result<ConsulClient, ConsulError> {
        let ConsulSettings { address, token, ca_cert, conventions_key, calls } = settings;
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &ca_cert {
            builder = crate::http::trust_ca_bundle(builder, path, "CONSUL_CACERT")
                .map_err(ConsulError::Config)?;
        }
        let http = builder
            .build()
            .map_err(|err| ConsulError::Config(format!("cannot build the Consul client: {err}")))?;
        let redactor = Redactor::default().with(token.as_ref()).with_address(address.as_str());
        Ok(ConsulClient {
            base: address,
            token,
            conventions_key,
            http,
            timeout: calls.request_timeout,
            retry: calls.retry,
            redactor,
        })
    }

    /// The KV key the team's conventions are read from.
    pub fn conventions_key(&self) -> &str {
        &self.conventions_key
    }

    /// The same client, giving up on an answer after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> ConsulClient {
        self.timeout = timeout;
        self
    }

    /// The address in use.
    pub fn address(&self) -> &Url {
        &self.base
    }

    /// A GET under the retry policy: the body of a `200`, `None` for a `404`.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<String>, ConsulError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|err| ConsulError::Config(format!("bad request path {path}: {err}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let shown =
            format!("{}{}", shown_address(self.base.as_str().trim_end_matches('/')), url.path());
        let out_of_time = || ConsulError::Unreachable {
            url: shown.clone(),
            reason: retry::no_answer_within(&self.retry),
        };
        let attempt = || self.get_once(url.clone(), &shown);
        let (result, tries) = retry::call(&self.retry, Repeat::Safe, attempt, out_of_time).await;
        result.map_err(|err| match err {
            ConsulError::Status { url, status, body, .. } => {
                ConsulError::Status { url, status, body, tries }
            }
            other => other,
        })
    }

    /// One try of a GET; a failure says what it means for trying again.
    async fn get_once(
        &self,
        url: Url,
        shown: &str,
    ) -> Result<Option<String>, (ConsulError, Transience)> {
        let mut request = self.http.get(url).timeout(self.timeout);
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token.as_str());
        }
        let unreachable = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            let reason = self.redactor.redact(&transport_reason(&err.without_url()));
            (ConsulError::Unreachable { url: shown.to_string(), reason }, transience)
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let asked = retry::asked_wait_in(response.headers(), None);
        let body = response.text().await.map_err(unreachable)?;
        let said = self.redactor.redact(&first_line(&body));
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            403 => Err((
                ConsulError::Forbidden { url: shown.to_string(), body: said },
                Transience::Final,
            )),
            _ => {
                let error = ConsulError::Status {
                    url: shown.to_string(),
                    status,
                    body: said,
                    tries: retry::Tries::default(),
                };
                Err((error, retry::status_transience(status, asked)))
            }
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &str,
    ) -> Result<T, ConsulError> {
        serde_json::from_str(body).map_err(|err| ConsulError::Shape {
            url: format!("{}{path}", shown_address(self.base.as_str())),
            reason: err.to_string(),
        })
    }

    /// The value of a KV key (`GET /v1/kv/<key>`), `None` when the key does not exist.
    pub async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, ConsulError> {
        let path = format!("v1/kv/{}", encode_path(key));
        let Some(body) = self.get(&path, &[]).await? else { return Ok(None) };
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            value: Option<String>,
        }
        let entries: Vec<Entry> = self.decode(&path, &body)?;
        let Some(value) = entries.into_iter().next().and_then(|e| e.value) else {
            return Ok(Some(Vec::new()));
        };
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(value.trim()).map(Some).map_err(|err| {
            ConsulError::Shape {
                url: format!("{}{path}", shown_address(self.base.as_str())),
                reason: format!("the value is not base64: {err}"),
            }
        })
    }

    /// Service names of the catalog (`GET /v1/catalog/services`).
    pub async fn services(&self) -> Result<BTreeSet<String>, ConsulError> {
        let path = "v1/catalog/services";
        let body = self.get(path, &[]).await?.unwrap_or_else(|| "{}".into());
        let services: BTreeMap<String, serde_json::Value> = self.decode(path, &body)?;
        Ok(services.into_keys().collect())
    }

    /// The instances of a service and their health (`GET /v1/health/service/<name>`).
    pub async fn health(&self, service: &str) -> Result<Vec<ServiceInstance>, ConsulError> {
        let path = format!("v1/health/service/{}", encode_path(service));
        let body = self.get(&path, &[]).await?.unwrap_or_else(|| "[]".into());
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            node: NodeEntry,
            service: ServiceEntry,
            #[serde(default)]
            checks: Vec<CheckEntry>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct NodeEntry {
            node: String,
            #[serde(default)]
            address: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct ServiceEntry {
            #[serde(default)]
            address: String,
            #[serde(default)]
            port: u16,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct CheckEntry {
            status: String,
        }
        let entries: Vec<Entry> = self.decode(&path, &body)?;
        Ok(entries
            .into_iter()
            .map(|entry| ServiceInstance {
                address: if entry.service.address.is_empty() {
                    entry.node.address
                } else {
                    entry.service.address
                },
                node: entry.node.node,
                port: entry.service.port,
                passing: entry.checks.iter().all(|check| check.status == "passing"),
            })
            .collect())
    }

    /// The conventions under `key`: `Ok(None)` when the key does not exist.
    pub async fn conventions(&self, key: &str) -> anyhow::Result<Option<Conventions>> {
        let Some(bytes) = self.kv_get(key).await? else { return Ok(None) };
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("consul kv {key}: the value is not UTF-8 text"))?;
        Conventions::from_json(&text, &format!("consul kv {key}")).map(Some)
    }
}

/// Why a request got no answer, in words: a timeout says so, anything else gives its causes.
pub(crate) fn transport_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "no answer in time (timed out)".into();
    }
    crate::http::error_chain(err)
}

fn first_line(body: &str) -> String {
    body.lines().next().unwrap_or_default().chars().take(200).collect()
}

/// Percent-encodes each segment of a KV key or service name for a URL path.
fn encode_path(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What the catalog says about the services an analysis depends on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceLookup {
    /// Dependency (analysis service name) → what Consul has.
    pub found: BTreeMap<String, crate::jobspec::config::CatalogService>,
    /// Notes for the person: unreachable Consul, unhealthy dependencies.
    pub notes: Vec<String>,
}

/// Looks up `dependencies` (names as the analysis gives them) in Consul's catalog, each under
/// its own name and the `candidates` names given for it.
pub async fn look_up_services(
    client: &ConsulClient,
    dependencies: &BTreeMap<String, Vec<String>>,
) -> ServiceLookup {
    let mut lookup = ServiceLookup::default();
    let catalog = match client.services().await {
        Ok(catalog) => catalog,
        Err(err) => {
            lookup.notes.push(format!("service lookup skipped: {err}"));
            return lookup;
        }
    };
    for (dependency, candidates) in dependencies {
        let Some(name) = std::iter::once(dependency)
            .chain(candidates)
            .find(|name| catalog.contains(name.as_str()))
        else {
            continue;
        };
        match client.health(name).await {
            Ok(instances) => {
                let passing = instances.iter().filter(|i| i.passing).count();
                if passing == 0 {
                    lookup.notes.push(format!(
                        "{dependency}: Consul service `{name}` has no passing instance ({} \
                         registered); the application will wait for it",
                        instances.len()
                    ));
                }
                lookup.found.insert(
                    dependency.clone(),
                    crate::jobspec::config::CatalogService {
                        name: name.clone(),
                        passing,
                        instances: instances.len(),
                    },
                );
            }
            Err(err) => {
                lookup.notes.push(format!("{dependency}: health of `{name}` unknown: {err}"))
            }
        }
    }
    lookup
}

/// Fills `config` from Consul for `generate`: conventions (the file wins) and the catalog
/// entries of the services the analysis depends on. Returns notes for the person: what was
/// used, and what was skipped and why. Never fails: Consul is optional.
pub async fn enrich(
    config: &mut Config,
    analysis: &crate::analyze::Analysis,
    settings: &Settings,
) -> Vec<String> {
    let client = match ConsulClient::configured(settings) {
        Ok(Some(client)) => client,
        Ok(None) => {
            return vec![
                "Consul is not configured (CONSUL_HTTP_ADDR): conventions and service lookups \
                 skipped"
                    .into(),
            ]
        }
        Err(err) => return vec![format!("Consul skipped: {err}")],
    };
    let mut notes = Vec::new();
    let key = client.conventions_key();
    match client.conventions(key).await {
        Ok(Some(conventions)) => {
            // The Vault part feeds the secret suggestions (`infra::vault::suggest_for`).
            config.cluster.vault_paths = conventions.vault_paths.clone();
            config.cluster.secret_locations = conventions
                .env
                .iter()
                .map(|(name, at)| (name.clone(), format!("{}#{}", at.path, at.key)))
                .collect();
            let filled = conventions.fill(config);
            if !filled.is_empty() {
                notes.push(format!("from Consul conventions ({key}): {}", filled.join(", ")));
            }
        }
        Ok(None) => notes.push(format!("no conventions in Consul at {key}")),
        Err(err) => {
            notes.push(format!("Consul conventions skipped: {err:#}"));
            // A Consul that is down or refusing would only spend the probing deadline on
            // each lookup after this one.
            let down = match err.downcast_ref::<ConsulError>() {
                Some(ConsulError::Unreachable { .. }) => true,
                Some(ConsulError::Status { status, .. }) => *status == 429 || *status >= 500,
                _ => false,
            };
            if down {
                notes.push("Consul service lookups skipped: Consul did not answer".into());
                return notes;
            }
        }
    }
    let mut dependencies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for service in &analysis.services {
        if service.role.is_backing() {
            dependencies.entry(service.name.clone()).or_default();
        }
        for dependency in &service.depends_on {
            dependencies.entry(dependency.clone()).or_default();
        }
    }
    if !dependencies.is_empty() {
        let lookup = look_up_services(&client, &dependencies).await;
        for (dependency, found) in &lookup.found {
            notes.push(format!(
                "{dependency}: found in Consul as `{}` ({} of {} passing)",
                found.name, found.passing, found.instances
            ));
        }
        notes.extend(lookup.notes);
        config.cluster.services.extend(lookup.found);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_errors_name_the_place() {
        let cases = [
            (
                r#"{"datacenter": ["dc1"]}"#,
                "kv:1:13: the conventions are not valid: unknown field `datacenter`",
            ),
            (
                "{\n  \"fabio\": {\"port\": \"x\"}\n}",
                "kv:2:23: the conventions are not valid: invalid type: string \"x\"",
            ),
            (r#"{"vault_paths": {"db": "a#b"}}"#, "kv: vault_paths.db = \"a#b\""),
            (r#"{"datacenters": []}"#, "kv: datacenters: a non-empty list"),
            ("[1]", "kv:1:2: the conventions must be a JSON object"),
        ];
        for (text, expected) in cases {
            let message = match Conventions::from_json(text, "kv") {
                Ok(_) => String::from("accepted"),
                Err(err) => err.to_string(),
            };
            assert!(message.starts_with(expected), "{text}: {message}");
        }
    }

    #[test]
    fn the_example_is_valid() {
        let text = include_str!("../../examples/conventions.json");
        let conventions = Conventions::from_json(text, "examples/conventions.json");
        assert!(conventions.is_ok(), "{conventions:?}");
    }

    #[test]
    fn the_file_wins() {
        let conventions = Conventions::from_json(
            r#"{"datacenters": ["dc9"], "fabio": {"hostname_suffix": "apps.example.com"},
                "service_classes": {"large": {"cpu": 1}, "small": {"cpu": 2}}}"#,
            "kv",
        )
        .unwrap_or_default();
        let mut config = Config::from_toml(
            "datacenters = [\"dc1\"]\n[classes.large]\ncpu = 500\n",
            ".nomad-spec.toml",
        )
        .unwrap_or_default();
        let filled = conventions.fill(&mut config);
        assert_eq!(filled, ["classes.small", "fabio", "fabio.hostname_suffix"]);
        assert_eq!(config.datacenters, Some(vec!["dc1".to_string()]));
        assert_eq!(config.classes["large"].cpu, Some(500));
        assert_eq!(config.classes["small"].cpu, Some(2));
    }
}
