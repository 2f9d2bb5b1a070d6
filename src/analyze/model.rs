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
    /// Whether the service is built from source here or runs a published image.
    pub source: Source,
    /// The service's folder relative to the analyzed root (`.` for the root itself).
    pub path: String,
    /// The Dockerfile that builds it, relative to the analyzed root.
    pub dockerfile: Option<String>,
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
    /// Suggested resources with the reason for them.
    pub resources: Resources,
    /// Where each conclusion above came from.
    pub evidence: Vec<Evidence>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// The name looks like it holds a secret; its value is never reported.
    pub secret: bool,
    /// Default value found in the repository; always null for secrets.
    pub default: Option<String>,
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
