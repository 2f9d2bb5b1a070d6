//! The repository's cluster conventions: `.nomad-spec.toml`, read strictly.
//!
//! This module owns the configuration types, their defaults and their loading; it does not
//! decide anything about a job (that is `jobspec::build`). Every option is optional: an empty file
//! (or no file) means "Nomad's defaults, dynamic ports, Nomad service discovery, Vault KV v2
//! under `kv/data/<job>`". Unknown keys are errors, so a typo never silently changes a job.
//!
//! ```toml
//! job_prefix = "acme-"                 # prepended to every job name
//! output = "deploy/{job}.nomad.hcl"    # where `generate` writes, relative to the repository
//! registry = "ghcr.io/acme"            # default image of built services: <registry>/<service>:latest
//! datacenters = ["dc1"]                # default datacenters (answers win)
//! namespace = "apps"                   # default namespace
//! node_pool = "default"                # default node pool
//! architecture = "amd64"               # constraint on ${attr.cpu.arch}: amd64 or arm64
//! service_provider = "consul"          # "nomad" (default; "consul" with [fabio])
//! nomad_version = "1.9"                # the cluster's Nomad; the job uses what it has
//!
//! [terraform]
//! datacenters_variable = "datacenter"  # datacenters = ["${datacenter}"], the rest escaped
//!
//! [classes.large]                      # a service class and its resource defaults
//! cpu = 1000
//! memory = 1024
//! memory_max = 2048
//!
//! [service_classes]                    # service name -> class (else the class named after
//! api = "large"                        # the service's role: app, database, cache, ...)
//!
//! [volumes]
//! type = "csi"                         # "host" (default) or "csi"
//! fix_permissions = true               # prestart task that chowns the volume (default true)
//! init_image = "busybox:1.36"
//! default_owner = "1000:1000"
//!
//! [compose_names]                     # host names the code dials (`Redis(host="redis")`)
//! proxy = true                         # a sidecar answers them on the loopback (default true)
//! image = "nginx:1.30-alpine"          # the image of that sidecar
//!
//! [fabio]
//! tag_prefix = "urlprefix-"            # the presence of [fabio] turns routing tags on
//! hostname_suffix = "apps.example.com" # suggested host names: <service>.<suffix>
//!
//! [templates]
//! left_delimiter = "[["
//! right_delimiter = "]]"
//!
//! [vault]
//! mount = "kv"
//! path = "{job}"                       # secret path under <mount>/data/; {job}, {service}
//! role = "nomad-workloads"             # or policies = [...] for pre-1.7 token auth
//! kv_version = 2                       # 1 for a KV v1 mount: paths without data/, .Data.KEY
//! use_secret_blocks = true             # Nomad 1.11+ task `secret` blocks instead of templates
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::features::NomadFeatures;
use super::parse::LineIndex;
use super::Constraint;

/// The file name looked up at the repository root.
pub const FILE_NAME: &str = ".nomad-spec.toml";

/// Largest configuration file read: far above any real one.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The default output path pattern, relative to the repository root.
pub const DEFAULT_OUTPUT: &str = "deploy/{job}.nomad.hcl";

/// Repository conventions for generated jobs (`.nomad-spec.toml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Prepended to every generated job name (`acme-` gives `acme-shop`).
    pub job_prefix: Option<String>,
    /// Output path pattern relative to the repository; `{job}` is the job name.
    pub output: Option<String>,
    /// Registry prefix for the default image of built services (`ghcr.io/acme`).
    pub registry: Option<String>,
    /// Datacenters used when the answers name none.
    pub datacenters: Option<Vec<String>>,
    /// Namespace used when the answers name none.
    pub namespace: Option<String>,
    /// Node pool used when the answers name none.
    pub node_pool: Option<String>,
    /// CPU architecture every job is constrained to.
    pub architecture: Option<Architecture>,
    /// Service registration provider; `consul` also enables grpc checks.
    pub service_provider: Option<ServiceProvider>,
    /// Render the job as a Terraform `templatefile` template.
    pub terraform: Option<TerraformConfig>,
    /// Resource classes by name.
    #[serde(default)]
    pub classes: BTreeMap<String, ServiceClass>,
    /// Class of each service by service name.
    #[serde(default)]
    pub service_classes: BTreeMap<String, String>,
    /// How persistent volumes are provided.
    pub volumes: Option<VolumeConfig>,
    /// How compose names written into the code are answered.
    pub compose_names: Option<ComposeNamesConfig>,
    /// Fabio routing tags for public hostnames.
    pub fabio: Option<FabioConfig>,
    /// Template settings.
    pub templates: Option<TemplateConfig>,
    /// Vault settings for secrets.
    pub vault: Option<VaultConfig>,
    /// Facts from the cluster (Consul conventions and services), filled at run time.
    #[serde(skip)]
    pub cluster: ClusterFacts,
    /// The cluster's Nomad version (`1.9`); the generated job uses only what it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad_version: Option<String>,
}

/// The CPU architectures a constraint can pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Amd64,
    Arm64,
}

impl Architecture {
    /// The value of `${attr.cpu.arch}` on such nodes.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The constraint that keeps a job on such nodes, as generated jobs carry it (and as
    /// fixes recognise it, to keep it).
    pub fn constraint(self) -> Constraint {
        Constraint {
            l_target: Some("${attr.cpu.arch}".into()),
            r_target: Some(self.as_str().into()),
            operand: Some("=".into()),
        }
    }
}

/// Who registers services and runs their checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProvider {
    /// Nomad's built-in service discovery (http and tcp checks only).
    #[default]
    Nomad,
    /// Consul (all check kinds, `service` template lookups).
    Consul,
}

impl ServiceProvider {
    /// The `provider` value in a service block.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceProvider::Nomad => "nomad",
            ServiceProvider::Consul => "consul",
        }
    }
}

/// Terraform `templatefile` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformConfig {
    /// Template variable holding the datacenter: `datacenters = ["${<name>}"]`.
    pub datacenters_variable: String,
}

/// Resource defaults of a class of services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceClass {
    /// CPU in MHz.
    pub cpu: Option<u32>,
    /// Memory in MB.
    pub memory: Option<u32>,
    /// Memory oversubscription ceiling in MB.
    pub memory_max: Option<u32>,
}

/// Kinds of persistent volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    /// A host volume declared in the client configuration.
    #[default]
    Host,
    /// A CSI volume registered with Nomad.
    Csi,
}

impl VolumeType {
    /// The `type` value of a group volume.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Host => "host",
            VolumeType::Csi => "csi",
        }
    }
}

/// Persistent volume conventions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeConfig {
    /// Volume type for persistent paths (default `host`).
    pub r#type: Option<VolumeType>,
    /// Add a prestart task that chowns the volume to the image's user (default true).
    pub fix_permissions: Option<bool>,
    /// Image of that task (default `busybox:1.36`).
    pub init_image: Option<String>,
    /// Owner (`uid:gid`) when the image's user is unknown (default: asked, `1000:1000`).
    pub default_owner: Option<String>,
    /// CSI access mode (default `single-node-writer`).
    pub access_mode: Option<String>,
    /// CSI attachment mode (default `file-system`).
    pub attachment_mode: Option<String>,
}

/// The default image of the sidecar that answers compose names: nginx's stable line, whose
/// official image has the `stream` module (a TCP proxy) built in.
pub const COMPOSE_NAMES_IMAGE: &str = "nginx:1.30-alpine";

/// Compose names written into the code, which no Nomad job can change: a sidecar in the
/// group answers them on the loopback and forwards to where each dependency runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeNamesConfig {
    /// Add the sidecar (default true); false leaves the names unreachable, each a question.
    pub proxy: Option<bool>,
    /// Image of the sidecar (default [`COMPOSE_NAMES_IMAGE`]); it runs `nginx -c FILE` with a
    /// `stream` configuration.
    pub image: Option<String>,
}

/// Fabio routing conventions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FabioConfig {
    /// Tag prefix Fabio watches (default `urlprefix-`).
    pub tag_prefix: Option<String>,
    /// Public host names are `<service>.<suffix>`; used to suggest free host names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_suffix: Option<String>,
}

/// What was learned from the cluster (Consul) for this run; never read from the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterFacts {
    /// Settings filled from the Consul conventions (`datacenters`, `classes.large`, ...).
    pub from_conventions: std::collections::BTreeSet<String>,
    /// Services the analysis depends on that Consul's catalog has, by analysis name.
    pub services: BTreeMap<String, CatalogService>,
    /// Vault path pattern by kind of secret, from the conventions (`{app_name}` in them).
    pub vault_paths: BTreeMap<String, String>,
    /// Environment variable → `path#key`, from the conventions.
    pub secret_locations: BTreeMap<String, String>,
}

/// A service found in Consul's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogService {
    /// Its name in Consul.
    pub name: String,
    /// Instances whose checks all pass.
    pub passing: usize,
    /// Instances registered.
    pub instances: usize,
}

/// Template conventions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Left delimiter of every generated template (default `{{`).
    pub left_delimiter: Option<String>,
    /// Right delimiter of every generated template (default `}}`).
    pub right_delimiter: Option<String>,
}

/// Vault conventions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// KV v2 mount (default `kv`).
    pub mount: Option<String>,
    /// Path under `<mount>/data/` for unanswered secrets; `{job}` and `{service}` are replaced
    /// (default `{job}`).
    pub path: Option<String>,
    /// Workload identity role (Nomad 1.7+).
    pub role: Option<String>,
    /// Legacy token policies (before workload identity); exclusive with `role`.
    pub policies: Option<Vec<String>>,
    /// KV engine version of the mount, 1 or 2 (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_version: Option<u8>,
    /// Read secrets with Nomad 1.11 task `secret` blocks instead of templates (on older
    /// clusters templates are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_secret_blocks: Option<bool>,
}

impl Config {
    /// Parses configuration text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text).map_err(|err| toml_error(text, file, &err))?;
        config.check().with_context(|| format!("{file}: invalid configuration"))?;
        Ok(config)
    }

    /// Loads a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = crate::file::read_text(path, MAX_FILE_BYTES)?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Loads `<root>/.nomad-spec.toml`, or the defaults when there is none.
    pub fn load_from_repository(root: &Path) -> anyhow::Result<Config> {
        let path = root.join(FILE_NAME);
        // Something that is not a file there (a folder, a link to a device) is an error, not
        // the defaults: the repository meant to configure something.
        if crate::file::is_regular(&path)? {
            Config::load(&path)
        } else {
            Ok(Config::default())
        }
    }

    /// The features of the cluster's Nomad (`nomad_version`), else of the newest Nomad.
    pub fn nomad_features(&self) -> NomadFeatures {
        self.nomad_version
            .as_deref()
            .and_then(|version| NomadFeatures::parse(version).ok())
            .unwrap_or(NomadFeatures::LATEST)
    }

    /// Rules serde cannot express.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(version) = &self.nomad_version {
            if let Err(err) = NomadFeatures::parse(version) {
                anyhow::bail!("nomad_version: {err}");
            }
        }
        if let Some(version) = self.vault.as_ref().and_then(|v| v.kv_version) {
            if version != 1 && version != 2 {
                anyhow::bail!("[vault] kv_version must be 1 or 2, not {version}");
            }
        }
        if let Some(vault) = &self.vault {
            if vault.role.is_some() && vault.policies.is_some() {
                anyhow::bail!(
                    "[vault] sets both `role` (workload identity) and `policies` (legacy \
                     tokens); choose one"
                );
            }
        }
        if let Some(templates) = &self.templates {
            if templates.left_delimiter.is_some() != templates.right_delimiter.is_some() {
                anyhow::bail!("[templates] needs both `left_delimiter` and `right_delimiter`");
            }
            for delimiter in [&templates.left_delimiter, &templates.right_delimiter].into_iter() {
                if delimiter.as_deref().is_some_and(|d| d.trim().is_empty() || d.contains('\n')) {
                    anyhow::bail!("[templates] delimiters must be non-blank and on one line");
                }
            }
        }
        if let Some(terraform) = &self.terraform {
            if hcl::Identifier::new(terraform.datacenters_variable.as_str()).is_err() {
                anyhow::bail!(
                    "[terraform] datacenters_variable `{}` is not a template variable name",
                    terraform.datacenters_variable
                );
            }
        }
        if let Some(prefix) = &self.job_prefix {
            // The prefix becomes part of file names and Nomad IDs.
            let ok = prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && prefix.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                anyhow::bail!(
                    "`job_prefix` must be letters, digits, `-`, `_` or `.`, starting with a \
                     letter or digit"
                );
            }
        }
        if let Some(owner) = self.volumes.as_ref().and_then(|v| v.default_owner.as_ref()) {
            let numeric = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
            let ok = match owner.split_once(':') {
                Some((uid, gid)) => numeric(uid) && numeric(gid),
                None => numeric(owner),
            };
            if !ok {
                anyhow::bail!("[volumes] default_owner must be a numeric `uid` or `uid:gid`");
            }
        }
        if let Some(vault) = &self.vault {
            // Both end up inside a template's `secret "..."` call.
            let plain = |text: &str, extra: &str| {
                text.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c) || extra.contains(c))
            };
            if vault.mount.as_deref().is_some_and(|mount| mount.is_empty() || !plain(mount, "")) {
                anyhow::bail!("[vault] mount must be a plain path like `kv` or `secret`");
            }
            if vault.path.as_deref().is_some_and(|path| path.is_empty() || !plain(path, "{}")) {
                anyhow::bail!("[vault] path must be a plain path, with `{{job}}` or `{{service}}`");
            }
        }
        for (service, class) in &self.service_classes {
            if !self.classes.contains_key(class) {
                anyhow::bail!("[service_classes] {service} = \"{class}\": no [classes.{class}]");
            }
        }
        if let Some(output) = &self.output {
            if !output.contains("{job}") {
                anyhow::bail!("`output` must contain `{{job}}` so that jobs get their own files");
            }
            if Path::new(output).is_absolute() || output.split('/').any(|part| part == "..") {
                anyhow::bail!("`output` must be a path inside the repository");
            }
        }
        Ok(())
    }

    /// The output path pattern.
    pub fn output_pattern(&self) -> &str {
        self.output.as_deref().unwrap_or(DEFAULT_OUTPUT)
    }

    /// The service provider: as configured, else Consul when Fabio routes (Fabio reads
    /// Consul's catalog), else Nomad.
    pub fn provider(&self) -> ServiceProvider {
        match (self.service_provider, &self.fabio) {
            (Some(provider), _) => provider,
            (None, Some(_)) => ServiceProvider::Consul,
            (None, None) => ServiceProvider::Nomad,
        }
    }

    /// The template delimiters (`{{`, `}}` unless configured).
    pub fn delimiters(&self) -> (&str, &str) {
        let templates = self.templates.as_ref();
        (
            templates.and_then(|t| t.left_delimiter.as_deref()).unwrap_or("{{"),
            templates.and_then(|t| t.right_delimiter.as_deref()).unwrap_or("}}"),
        )
    }
}

/// A TOML error as `FILE:LINE:COLUMN: message` (`FILE: message` when it has no position).
pub(crate) fn toml_error(text: &str, file: &str, err: &toml::de::Error) -> anyhow::Error {
    let position = err
        .span()
        .map(|span| {
            let (line, column) = LineIndex::new(text).position(span.start);
            format!(":{line}:{column}")
        })
        .unwrap_or_default();
    anyhow::anyhow!("{file}{position}: {}", err.message().trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_defaults() {
        let config = Config::from_toml("", "c.toml").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.output_pattern(), "deploy/{job}.nomad.hcl");
        assert_eq!(config.delimiters(), ("{{", "}}"));
    }

    #[test]
    fn the_documented_example_loads() {
        let doc: String = include_str!("config.rs")
            .lines()
            .skip_while(|line| !line.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let config = Config::from_toml(&doc, "doc.toml").unwrap();
        assert_eq!(config.architecture, Some(Architecture::Amd64));
        assert_eq!(config.classes["large"].memory, Some(1024));
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let table = [
            ("job_prefix = \"a\"\nregistyr = \"x\"\n", "c.toml:2:1: unknown field `registyr`"),
            ("architecture = \"sparc\"\n", "c.toml:1:16: unknown variant `sparc`"),
            ("[vault]\nrole = \"r\"\npolicies = [\"p\"]\n", "choose one"),
            ("[service_classes]\napi = \"huge\"\n", "no [classes.huge]"),
            ("output = \"deploy/x.hcl\"\n", "must contain `{job}`"),
            ("output = \"../{job}.hcl\"\n", "inside the repository"),
            ("[templates]\nleft_delimiter = \"[[\"\n", "needs both"),
            ("[terraform]\ndatacenters_variable = \"a b\"\n", "not a template variable"),
            ("job_prefix = \"../\"\n", "`job_prefix` must be"),
            ("[volumes]\ndefault_owner = \"app\"\n", "default_owner must be a numeric"),
            ("[vault]\nmount = \"kv\\\" }}\"\n", "mount must be a plain path"),
            ("[vault]\npath = \"{job}\\\"\"\n", "path must be a plain path"),
            ("[vault]\nkv_version = 3\n", "kv_version must be 1 or 2, not 3"),
            ("nomad_version = \"one\"\n", "`one` is not a Nomad version"),
        ];
        for (text, expected) in table {
            let err = format!("{:#}", Config::from_toml(text, "c.toml").unwrap_err());
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
