//! The `Analysis` data model: what the analyzer learned about a repository.
//!
//! This is the stable JSON contract of `nomad-spec analyze --format json` (documented in the
//! README) and the input of the job spec builder. It owns only types; the analysis itself is in
//! the sibling modules. Field order here is the order of the JSON output.

use serde::{Deserialize, Serialize};

/// Everything the analyzer found in one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Deployable services, in a stable order (compose order, then by path).
    pub services: Vec<Service>,
    /// Things the analyzer could not read or decided to skip, and bounds it hit.
    pub notes: Vec<Note>,
}

/// One service: a compose service, or a folder with a Dockerfile, or a descriptor's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Compose service name, or a meaningful folder name.
    pub name: String,
    /// Other names other services reach it by (`container_name`, `hostname`, a fixed address
    /// on a compose network).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Whether the service is built from source here or runs a published image.
    pub source: Source,
    /// The service's folder relative to the analyzed root (`.` for the root itself).
    pub path: String,
    /// The Dockerfile that builds it, relative to the analyzed root.
    pub dockerfile: Option<String>,
    /// The build stage compose builds (`build.target`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_target: Option<String>,
    /// The image it runs (`image:` in compose, or the image a descriptor names).
    pub image: Option<String>,
    /// The base image of the final build stage.
    pub base_image: Option<String>,
    /// Main language, one of the documented values, or null when unknown.
    pub language: Option<Language>,
    /// Web or RPC framework when one is recognised (`express`, `flask`, `spring-boot`, ...).
    pub framework: Option<String>,
    /// What the service is for; backing services are not deployed by default.
    pub role: Role,
    /// Listening ports, main port first.
    pub ports: Vec<Port>,
    /// How to tell the service is healthy, when known.
    pub health: Option<Health>,
    /// Environment variables the service reads or is given.
    pub env: Vec<EnvVar>,
    /// Paths the service writes to that may need to outlive it.
    pub volumes: Vec<Volume>,
    /// Names of other services of this analysis (or external ones) it needs.
    pub depends_on: Vec<String>,
    /// The command that overrides the image's default, when one is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The entrypoint that overrides the image's, when one is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Suggested resources with the reason for them.
    pub resources: Resources,
    /// Where each conclusion above came from.
    pub evidence: Vec<Evidence>,
    /// Files of the repository the service is given at run time: compose bind mounts of
    /// files, compose `configs` and `secrets` with `file:`, and configuration files a built
    /// image copies in that name other services. A job must deliver each one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<RuntimeFile>,
    /// Mounts that a job cannot reproduce as they are (a folder of code, a host path, the
    /// Docker socket), each with what it means for the job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_mounts: Vec<HostMount>,
    /// Services of this analysis that the code dials by a host name written into it, with
    /// no setting to change it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_hosts: Vec<CodeHost>,
    /// The user the service's process runs as (compose `user:`, the image's `USER`), when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Compose profiles the service belongs to: an optional part, not started by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The signal that stops the process gracefully when it is not SIGTERM (compose
    /// `stop_signal`: Flask's development server and many CLIs stop on SIGINT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Images the repository publishes for a service it builds (compose `image:` beside
    /// `build:`, deployment manifests, CI workflows), best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published_images: Vec<PublishedImage>,
    /// What the container needs from the Docker daemon beyond the defaults (`cap_add`, host
    /// networking, a runtime, sysctls), each a setting a Nomad client must allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<Privilege>,
    /// Backing services its dependency manifest has a client library for (`postgres`,
    /// `redis`), with where: what the code talks to, whatever address it is given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<Client>,
}

impl Service {
    /// A service with nothing known about it yet but its name, source and folder.
    pub fn new(name: &str, source: Source, path: &str) -> Service {
        Service {
            name: name.to_string(),
            aliases: Vec::new(),
            source,
            path: path.to_string(),
            dockerfile: None,
            build_target: None,
            image: None,
            base_image: None,
            language: None,
            framework: None,
            role: Role::App,
            ports: Vec::new(),
            health: None,
            env: Vec::new(),
            volumes: Vec::new(),
            depends_on: Vec::new(),
            command: None,
            entrypoint: None,
            resources: Resources { cpu: 0, memory: 0, reason: String::new() },
            evidence: Vec::new(),
            files: Vec::new(),
            host_mounts: Vec::new(),
            code_hosts: Vec::new(),
            user: None,
            profiles: Vec::new(),
            stop_signal: None,
            published_images: Vec::new(),
            privileges: Vec::new(),
            clients: Vec::new(),
        }
    }
}

/// A file of the repository a service reads at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeFile {
    /// The file, relative to the analyzed root (`proxy/nginx.conf`).
    pub source: String,
    /// Where the container reads it (`/etc/nginx/conf.d/default.conf`).
    pub destination: String,
    /// What kind of file it is, which decides how a job delivers it.
    pub kind: FileKind,
    /// The file's text, for configuration files small enough to deliver (never for secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `sha256:<hex>` of the file as it is in the repository (configuration files only), so
    /// a copy in a job can be told from a changed file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Services of this analysis the file names as hosts (`proxy_pass http://backend:8000`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<FileHost>,
    /// The file is run (a script), so it must be executable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// Where the service is given the file (the compose line, or the Dockerfile `COPY`).
    pub evidence: Evidence,
}

/// How a run-time file reaches the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FileKind {
    /// A configuration file mounted or given as a compose config: its text goes into the job.
    Config,
    /// A compose secret: rendered from Vault; `name` is the compose secret's name. Its
    /// content is never read.
    Secret {
        /// The compose secret's name (`db-password`).
        name: String,
    },
    /// A configuration file copied into a built image that names other services: the image's
    /// copy cannot reach them on Nomad, so the job delivers it with the hosts rewritten.
    Baked,
}

/// A service named as a host in a run-time file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHost {
    /// The host as written (`backend`).
    pub host: String,
    /// The service of the analysis it names.
    pub service: String,
    /// The port written with it, or implied by the scheme.
    pub port: Option<u16>,
    /// 1-based line in the file.
    pub line: u32,
}

/// A mount a job cannot reproduce as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMount {
    /// What is mounted, as compose writes it (`./app`, `/var/run/docker.sock`).
    pub source: String,
    /// Where, in the container.
    pub target: String,
    /// What it is.
    pub kind: HostMountKind,
    /// The compose line.
    pub evidence: Evidence,
}

/// Kinds of mounts a job cannot reproduce as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum HostMountKind {
    /// A folder of the repository the image already copies to the same place (a compose
    /// mount for live reloading while developing): the image's copy serves on Nomad.
    CodeInImage {
        /// The Dockerfile instruction that copies it (`Dockerfile:12`).
        copied_at: String,
    },
    /// A folder of the repository that is not in the image and too large to deliver as
    /// files: it needs an image that contains it.
    Folder {
        /// Files in the folder.
        files: usize,
    },
    /// A Unix socket of the host (the Docker socket gives the container the host).
    Socket,
    /// A path of the host's system (`/lib/modules`, `/sys`): the job needs a host volume the
    /// client declares.
    HostSystem,
    /// A path of the repository that is not in it (a log file the compose user has locally,
    /// an ignored folder): nothing to deliver.
    NotInRepository,
}

/// A host name of another service written into the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeHost {
    /// The service of the analysis it names.
    pub service: String,
    /// The text as written (`tcp(db:3306)`, `host="db"`).
    pub text: String,
    /// The port written with it, when one is.
    pub port: Option<u16>,
    /// File and line.
    pub evidence: Evidence,
    /// A setting that overrides it, when the framework has one: the variable and the value
    /// the code has (`SPRING_DATASOURCE_URL`, `jdbc:postgresql://db:5432/shop`; a password in
    /// it masked as `***`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<(String, String)>,
    /// The same line writes a password: the code logs in with credentials written in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_password: bool,
}

/// A backing service the code has a client library for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The kind of backing service (`postgres`, `mysql`, `redis`).
    pub backing: String,
    /// The manifest that lists the library.
    pub evidence: Evidence,
}

/// An image the repository publishes for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedImage {
    /// The image reference (`ghcr.io/acme/api`, `dockersamples/examplevotingapp_vote`).
    pub image: String,
    /// Where it is named.
    pub evidence: Evidence,
}

/// Something the container needs from the Docker daemon that a Nomad client must allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privilege {
    /// The compose key (`cap_add`, `network_mode`, `runtime`, `sysctls`, `privileged`,
    /// `devices`, `platform`).
    pub key: String,
    /// Its value (`NET_ADMIN`, `host`, `io.containerd.wasmedge.v1`).
    pub value: String,
    /// The compose line.
    pub evidence: Evidence,
}

/// Where a service comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Built from a Dockerfile in the repository.
    Build,
    /// A published image used as is.
    Image,
}

/// Languages the analyzer recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Go,
    Python,
    Node,
    Java,
    Dotnet,
    Php,
    Rust,
    Ruby,
    /// A web server serving files (nginx, httpd, caddy with static content).
    Static,
}

impl Language {
    /// The lowercase name used in the JSON contract (`go`, `python`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Go => "go",
            Language::Python => "python",
            Language::Node => "node",
            Language::Java => "java",
            Language::Dotnet => "dotnet",
            Language::Php => "php",
            Language::Rust => "rust",
            Language::Ruby => "ruby",
            Language::Static => "static",
        }
    }
}

/// What a service is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The team's own application.
    #[default]
    App,
    /// A database (postgres, mysql, mongo, ...).
    Database,
    /// A cache (redis, memcached, ...).
    Cache,
    /// A message broker or queue (rabbitmq, kafka, nats, ...).
    Queue,
    /// A reverse proxy or load balancer in front of other services.
    Proxy,
    /// A third-party tool run from its published image.
    Tool,
}

impl Role {
    /// Backing services are pointed at rather than deployed by default.
    pub fn is_backing(self) -> bool {
        matches!(self, Role::Database | Role::Cache | Role::Queue)
    }
}

/// A listening port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Port inside the container.
    pub container: u16,
    /// Port published on the host, when the source asks for one.
    pub published: Option<u16>,
    /// Application protocol.
    pub protocol: Protocol,
}

/// Ports debuggers listen on by convention: Node's inspector (9229, 9230), the JVM's JDWP
/// (5005), Python's debugpy (5678) and Go's Delve (2345). A development compose file publishes
/// them; a deployment never needs them.
pub const DEBUGGER_PORTS: [u16; 5] = [9229, 9230, 5005, 5678, 2345];

impl Port {
    /// Whether a debugger listens on it (see [`DEBUGGER_PORTS`]).
    pub fn is_debugger(&self) -> bool {
        DEBUGGER_PORTS.contains(&self.container)
    }
}

/// Port protocols as the job spec needs them (http and grpc get matching checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
    Tcp,
    Udp,
}

/// A health check the service supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Kind of check.
    #[serde(rename = "type")]
    pub kind: HealthKind,
    /// HTTP path for `http` checks.
    pub path: Option<String>,
    /// Container port the check targets, when it is not the main port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// Health check kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    Http,
    Grpc,
    Tcp,
}

/// An environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// The name looks like it holds a secret; its value is never reported.
    pub secret: bool,
    /// Default value found in the repository; always null for secrets.
    pub default: Option<String>,
    /// Where the value comes from; decides whether a job sets it.
    #[serde(default, skip_serializing_if = "EnvOrigin::is_default")]
    pub origin: EnvOrigin,
    /// The code reads it in a way that fails without it (`os.environ["X"]`,
    /// `env::var("X")?`) and nothing in the repository gives it a value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// For a secret: the value with its secret part masked, when the rest says something the
    /// job needs (`mysql://root:***@db:3306/app`, a connection URL naming a service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    /// For a secret: one name for every variable of the analysis that holds the same secret
    /// value (`credential-1`), so that both ends of one credential read one secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvOrigin {
    /// The compose file (`environment`, `env_file`) or a deployment descriptor sets it.
    #[default]
    Given,
    /// The image sets it (a Dockerfile `ENV`): the container has it already.
    Image,
    /// Only the code reads it; the default is the code's own.
    Code,
}

impl EnvOrigin {
    fn is_default(&self) -> bool {
        *self == EnvOrigin::Given
    }
}

/// A path the service writes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Path inside the container.
    pub path: String,
    /// Data must survive a restart (named volume, database data directory).
    pub persistent: bool,
}

/// Suggested resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in MHz.
    pub cpu: u32,
    /// Memory in MB.
    pub memory: u32,
    /// Why these figures.
    pub reason: String,
}

/// One piece of evidence for a conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// File relative to the analyzed root.
    pub file: String,
    /// 1-based line, when the conclusion comes from one line.
    pub line: Option<u32>,
    /// What was concluded from it.
    pub what: String,
}

/// Something the analyzer could not read, skipped, or bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// File relative to the analyzed root, when the note is about one.
    pub file: Option<String>,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// What happened, in words.
    pub message: String,
}

impl Note {
    /// A note about a whole file.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Note { file: Some(file.into()), line: None, message: message.into() }
    }

    /// A note about one line of a file.
    pub fn line(file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Note { file: Some(file.into()), line: Some(line), message: message.into() }
    }

    /// A note about the analysis as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        Note { file: None, line: None, message: message.into() }
    }
}

impl Evidence {
    /// Evidence from one line of a file.
    pub fn at(file: impl Into<String>, line: Option<u32>, what: impl Into<String>) -> Self {
        Evidence { file: file.into(), line, what: what.into() }
    }
}
