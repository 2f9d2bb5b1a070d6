//! Facts about well-known images, each with its source: what a published image needs from a job.
//!
//! A stock `postgres` writes its data to one path as one user, Grafana answers health checks on
//! `/api/health`, MySQL listens on a second port that is not its service, Kibana reaches
//! Elasticsearch through `ELASTICSEARCH_HOSTS`. These facts live in `images.toml` (compiled in,
//! parsed once on first use) with, for every fact, the page or the line of the image's own
//! Dockerfile or entrypoint it comes from. This module owns that file and answers [`facts`] for
//! any image reference; it decides nothing about a job (the analyzer and the builder do).
//!
//! # How a reference finds its entry
//!
//! [`ImageRef::parse`] reads a reference as Docker does (`registry/path:tag@digest`); a
//! malformed one (uppercase repository, empty tag, spaces...) has no facts. The registry is not
//! part of the match, so `docker.io/library/postgres`, `postgres` and a mirror's
//! `mirror.gcr.io/library/postgres` are the same image. An entry's `names` are of two kinds:
//!
//! - a bare name (`postgres`) matches the last path component, whatever the namespace before it,
//!   except below a namespace listed in `rebuilt_by` (Bitnami, linuxserver.io...): those publish
//!   their own builds of popular software under the same names, with other users and paths, so
//!   `bitnami/redis` is not the official `redis`;
//! - a name with a `/` (`bitnami/postgresql`, `grafana/grafana`) matches a path that ends with
//!   it, component by component (`docker.io/bitnami/postgresql`, `my.mirror/bitnami/postgresql`).
//!
//! When several entries match, the longest name wins. No two entries may claim one name.
//!
//! # Variants
//!
//! An entry's facts describe the image's current default tag (`latest`, or no tag). A variant
//! overrides some of them for the tags it matches: `tag_contains = "alpine"` (a substring of the
//! tag), `major_below = 18` / `major_from = 8` (the tag's leading number, after an optional
//! `v`: `16-alpine` is 16, `v3.7` is 3, `latest` has none and matches neither). A variant
//! matches when all its conditions hold; every matching variant applies, in file order, each
//! replacing whole facts (a list is replaced, not extended). A digest-only reference
//! (`postgres@sha256:...`) names no tag, so it gets the entry's facts as they are.
//!
//! # Adding an image
//!
//! Add an `[[image]]` table to `images.toml` (its header comment shows every field), give every
//! fact a `sources` line (an `https://` address: the docs page and section, or the line of the
//! Dockerfile or entrypoint at a commit), and run `cargo test --lib analyze::images`: loading
//! rejects a fact without a source, a source without a fact, an unknown field and a name another
//! entry already claims. Leave out what you could not check; an absent fact is "not known", and
//! callers fall back to their own rules.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{Health, HealthKind, Protocol, Role};

/// The catalog's text, compiled in.
const CATALOG_TEXT: &str = include_str!("images.toml");

/// The facts known about `image_ref` (`postgres:16-alpine`, `docker.io/bitnami/postgresql:15`,
/// `ghcr.io/x/y@sha256:...`), variants applied; `None` for an unknown image or a malformed
/// reference.
pub fn facts(image_ref: &str) -> Option<ImageFacts> {
    let reference = ImageRef::parse(image_ref)?;
    match index() {
        Some(index) => index.facts(&reference),
        None => catalog().ok()?.facts(&reference),
    }
}

/// The compiled-in catalog split into its entries without parsing them: each entry's names
/// (read from its one `names = [...]` line) and its text, parsed alone the first time a
/// lookup lands on it. Parsing the whole 66 KB file took about 2 ms of every analysis that
/// looked up one image; `None` when the text cannot be split so (then the whole catalog is
/// parsed). The tests hold it to the whole catalog: the same names, the same facts.
fn index() -> Option<&'static Index> {
    static INDEX: OnceLock<Option<Index>> = OnceLock::new();
    INDEX.get_or_init(|| Index::split(CATALOG_TEXT)).as_ref()
}

/// The catalog as [`index`] splits it.
struct Index {
    rebuilt_by: BTreeSet<String>,
    entries: Vec<IndexedEntry>,
}

struct IndexedEntry {
    names: Vec<String>,
    text: &'static str,
    /// The entry, parsed on first use (`None` when it does not load: the tests load every one).
    parsed: OnceLock<Option<Entry>>,
}

impl Index {
    /// The table header each entry starts with, on a line of its own.
    const ENTRY: &'static str = "\n[[image]]\n";

    fn split(text: &'static str) -> Option<Index> {
        let mut starts: Vec<usize> =
            text.match_indices(Self::ENTRY).map(|(at, _)| at + 1).collect();
        let preamble = &text[..*starts.first()?];
        let raw: RawCatalog = toml::from_str(preamble).ok()?;
        starts.push(text.len());
        let entries = starts
            .windows(2)
            .map(|pair| {
                let text = &text[pair[0]..pair[1]];
                Some(IndexedEntry { names: names_line(text)?, text, parsed: OnceLock::new() })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Index { rebuilt_by: raw.rebuilt_by.into_iter().collect(), entries })
    }

    fn facts(&self, reference: &ImageRef) -> Option<ImageFacts> {
        let names = self.entries.iter().map(|entry| entry.names.as_slice());
        let indexed = &self.entries[best_entry(&self.rebuilt_by, names, reference)?];
        let entry = indexed.parsed.get_or_init(|| {
            let raw: RawCatalog = toml::from_str(indexed.text).ok()?;
            let raw_entry = raw.image.into_iter().next()?;
            load_entry(raw_entry, indexed.names.first()?).ok()
        });
        entry.as_ref().map(|entry| entry.facts_for(reference))
    }
}

/// The names an entry's text gives on its `names = ["a", "b"]` line; `None` when it has no
/// such line on one line, or a name that is not a plain quoted string.
fn names_line(entry: &str) -> Option<Vec<String>> {
    let line = entry.lines().find_map(|line| line.strip_prefix("names"))?;
    let list = line.trim_start().strip_prefix('=')?.trim();
    let inner = list.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let name = item.strip_prefix('"')?.strip_suffix('"')?;
            (!name.contains(['"', '\\'])).then(|| name.to_string())
        })
        .collect()
}

/// The compiled-in catalog, parsed on first use.
///
/// The file ships inside the binary and the test suite loads it, so an error here is a build
/// that skipped its tests; [`facts`] then knows nothing rather than failing the caller.
pub fn catalog() -> Result<&'static Catalog, &'static CatalogError> {
    static LOADED: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let loaded = Catalog::parse(CATALOG_TEXT);
            if let Err(error) = &loaded {
                tracing::error!("{error}");
            }
            loaded
        })
        .as_ref()
}

/// Why the catalog could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The text is not TOML of the catalog's shape (unknown field, wrong type...).
    #[error("images.toml: {0}")]
    Format(String),
    /// One entry breaks a rule of the catalog.
    #[error("images.toml, image {entry}: {problem}")]
    Entry {
        /// The entry's first name, or its position when it has none.
        entry: String,
        /// What is wrong, naming the field.
        problem: String,
    },
}

/// An image reference, split the way Docker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port), when the reference names one (`ghcr.io`, `localhost:5000`).
    pub registry: Option<String>,
    /// Repository path below the registry (`library/postgres`, `bitnami/postgresql`, `nginx`).
    pub path: String,
    /// Tag, when one is given (`16-alpine`).
    pub tag: Option<String>,
    /// Digest, when one is given (`sha256:...`).
    pub digest: Option<String>,
}

impl ImageRef {
    /// Reads `[registry/]path[:tag][@digest]`; `None` when it is not a valid reference.
    ///
    /// Grammar (Docker's distribution reference): path components are lowercase letters and
    /// digits joined by `.`, `_`, `__` or runs of `-`; the first component is a registry when
    /// there are more and it has a `.` or a `:` or is `localhost`; a tag is up to 128 of
    /// `[A-Za-z0-9_.-]`, not starting with `.` or `-`; a digest is `algorithm:hex`.
    pub fn parse(text: &str) -> Option<ImageRef> {
        let text = text.trim();
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(valid_digest(digest)?.to_string())),
            None => (text, None),
        };
        // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].find(':') {
            Some(i) => {
                let tag = &name_and_tag[last_slash + i + 1..];
                (&name_and_tag[..last_slash + i], Some(valid_tag(tag)?.to_string()))
            }
            None => (name_and_tag, None),
        };
        let mut components: Vec<&str> = name.split('/').collect();
        let registry = match components.first() {
            Some(first)
                if components.len() > 1
                    && (first.contains('.') || first.contains(':') || *first == "localhost") =>
            {
                let host = valid_registry(first)?.to_string();
                components.remove(0);
                Some(host)
            }
            _ => None,
        };
        if components.iter().any(|c| !is_path_component(c)) {
            return None;
        }
        let path = components.join("/");
        // Docker's limit on a repository name.
        if path.len() > 255 {
            return None;
        }
        Some(ImageRef { registry, path, tag, digest })
    }

    /// The last path component (`postgres` for `docker.io/library/postgres:16`).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Whether the reference pins nothing: no digest, and no tag or `latest`.
    pub fn is_unpinned(&self) -> bool {
        self.digest.is_none() && matches!(self.tag.as_deref(), None | Some("latest"))
    }

    /// The tag's leading number after an optional `v` (`16-alpine` → 16, `v3.7` → 3).
    fn major(&self) -> Option<u32> {
        let tag = self.tag.as_deref()?;
        let tag = tag.strip_prefix('v').unwrap_or(tag);
        let digits = tag.len() - tag.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        tag[..digits].parse().ok()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.first().is_none_or(|b| !alnum(b)) || bytes.last().is_none_or(|b| !alnum(b)) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(&b) {
            let allowed = separator.is_empty()
                || separator == "."
                || separator == "_"
                || separator == "__"
                || separator.bytes().all(|s| s == b'-');
            if !allowed {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(char::from(b));
        } else {
            return false;
        }
    }
    true
}

fn valid_tag(tag: &str) -> Option<&str> {
    let first = tag.bytes().next()?;
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok =
        tag.len() <= 128 && word(first) && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    ok.then_some(tag)
}

fn valid_digest(digest: &str) -> Option<&str> {
    let (algorithm, encoded) = digest.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let hex = |len: usize| encoded.len() == len && encoded.bytes().all(|b| b.is_ascii_hexdigit());
    let encoded_ok = match algorithm {
        "sha256" => hex(64),
        "sha512" => hex(128),
        _ => {
            encoded.len() >= 32
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        }
    };
    (algorithm_ok && encoded_ok).then_some(digest)
}

/// `host[:port]`, the host made of letters, digits, `-` and dots.
fn valid_registry(registry: &str) -> Option<&str> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then_some(registry)
}

/// One kind of fact an entry can state; every one present needs a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// What the image is for.
    Role,
    /// The port the service is reached on.
    Port,
    /// Ports it listens on that are not the service.
    OtherPorts,
    /// How to check it from Nomad.
    Health,
    /// Paths that hold data to persist.
    Data,
    /// The `uid:gid` that writes the data.
    User,
    /// Whether the entrypoint starts as root and fixes the data's ownership itself.
    ChownsData,
    /// Memory it needs to start and run a small workload.
    MemoryMb,
    /// The variables that set its own credentials.
    Credentials,
    /// Variables it refuses to start without (other than credentials).
    RequiredEnv,
    /// Variables it works without: unset, its own default applies.
    OptionalEnv,
    /// Variables through which it reaches other services.
    Addresses,
    /// A pinned tag to propose for an unpinned reference.
    StableTag,
}

impl Fact {
    /// Every kind of fact, in file order.
    pub const ALL: [Fact; 13] = [
        Fact::Role,
        Fact::Port,
        Fact::OtherPorts,
        Fact::Health,
        Fact::Data,
        Fact::User,
        Fact::ChownsData,
        Fact::MemoryMb,
        Fact::Credentials,
        Fact::RequiredEnv,
        Fact::OptionalEnv,
        Fact::Addresses,
        Fact::StableTag,
    ];

    /// The key the fact has in `images.toml` and in `sources`.
    pub fn key(self) -> &'static str {
        match self {
            Fact::Role => "role",
            Fact::Port => "port",
            Fact::OtherPorts => "other_ports",
            Fact::Health => "health",
            Fact::Data => "data",
            Fact::User => "user",
            Fact::ChownsData => "chowns_data",
            Fact::MemoryMb => "memory_mb",
            Fact::Credentials => "credentials",
            Fact::RequiredEnv => "required_env",
            Fact::OptionalEnv => "optional_env",
            Fact::Addresses => "addresses",
            Fact::StableTag => "stable_tag",
        }
    }
}

/// Where each fact comes from: an `https://` address, with the section or line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    role: Option<String>,
    port: Option<String>,
    other_ports: Option<String>,
    health: Option<String>,
    data: Option<String>,
    user: Option<String>,
    chowns_data: Option<String>,
    memory_mb: Option<String>,
    credentials: Option<String>,
    required_env: Option<String>,
    optional_env: Option<String>,
    addresses: Option<String>,
    stable_tag: Option<String>,
}

impl Sources {
    /// The source of one fact.
    pub fn get(&self, fact: Fact) -> Option<&str> {
        self.slot(fact).as_deref()
    }

    fn slot(&self, fact: Fact) -> &Option<String> {
        match fact {
            Fact::Role => &self.role,
            Fact::Port => &self.port,
            Fact::OtherPorts => &self.other_ports,
            Fact::Health => &self.health,
            Fact::Data => &self.data,
            Fact::User => &self.user,
            Fact::ChownsData => &self.chowns_data,
            Fact::MemoryMb => &self.memory_mb,
            Fact::Credentials => &self.credentials,
            Fact::RequiredEnv => &self.required_env,
            Fact::OptionalEnv => &self.optional_env,
            Fact::Addresses => &self.addresses,
            Fact::StableTag => &self.stable_tag,
        }
    }

    fn slot_mut(&mut self, fact: Fact) -> &mut Option<String> {
        match fact {
            Fact::Role => &mut self.role,
            Fact::Port => &mut self.port,
            Fact::OtherPorts => &mut self.other_ports,
            Fact::Health => &mut self.health,
            Fact::Data => &mut self.data,
            Fact::User => &mut self.user,
            Fact::ChownsData => &mut self.chowns_data,
            Fact::MemoryMb => &mut self.memory_mb,
            Fact::Credentials => &mut self.credentials,
            Fact::RequiredEnv => &mut self.required_env,
            Fact::OptionalEnv => &mut self.optional_env,
            Fact::Addresses => &mut self.addresses,
            Fact::StableTag => &mut self.stable_tag,
        }
    }
}

/// The port a service is reached on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    /// Port inside the container.
    pub number: u16,
    /// Application protocol (`http` gets an HTTP check, `udp` none).
    pub protocol: Protocol,
    /// The variable that moves the port, when the image reads one (`PGADMIN_LISTEN_PORT`).
    pub env: Option<String>,
}

/// A port the image listens on that is not where clients reach the service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherPort {
    /// Port inside the container.
    pub number: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// What it serves (`X Protocol`, `cluster transport`, `management UI`).
    pub what: String,
    /// Served with the image's defaults and part of what people use it for (Pi-hole's web
    /// interface), so a check of it says something; the others depend on configuration and
    /// are registered without one.
    #[serde(default)]
    pub checked: bool,
}

/// How to check the image from Nomad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthFact {
    /// The check, with the port it targets always set.
    pub check: Health,
    /// A `NAME=value` the job must set for the endpoint to exist (`KC_HEALTH_ENABLED=true`).
    pub enabled_by: Option<String>,
}

/// A numeric `uid:gid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Owner {
    /// Reads `uid:gid`, both numeric.
    pub fn parse(text: &str) -> Option<Owner> {
        let (uid, gid) = text.split_once(':')?;
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        Some(Owner { uid: number(uid)?, gid: number(gid)? })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// The variables that set the image's own credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Variables naming the user it creates (aliases of one another when several).
    #[serde(default)]
    pub user: Vec<String>,
    /// Variables setting that user's password.
    #[serde(default)]
    pub password: Vec<String>,
    /// Variables setting a separate superuser's password (`MYSQL_ROOT_PASSWORD`).
    #[serde(default)]
    pub root_password: Vec<String>,
    /// Variables naming the database it creates.
    #[serde(default)]
    pub database: Vec<String>,
    /// Variables holding `user/password` in one value (`NEO4J_AUTH`).
    #[serde(default)]
    pub user_and_password: Vec<String>,
    /// Whether each of these also reads a file named by `NAME_FILE` (the path is the job's to
    /// render); absent when not known.
    pub file_variants: Option<bool>,
    /// What a first start needs: one of these groups, every variable of the group set.
    #[serde(default)]
    pub required: Vec<Vec<String>>,
}

impl Credentials {
    fn variables(&self) -> impl Iterator<Item = &String> {
        self.user
            .iter()
            .chain(&self.password)
            .chain(&self.root_password)
            .chain(&self.database)
            .chain(&self.user_and_password)
    }
}

/// How an address variable's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressForm {
    /// A URL with scheme, host and port (`http://elasticsearch:9200`).
    Url,
    /// A host name alone; the port, if any, goes in `port_env` or is the other side's default.
    Host,
    /// `host:port`.
    HostPort,
    /// DNS upstreams: `ip#port`, several separated by `;` (Pi-hole).
    DnsUpstream,
}

/// A variable through which the image reaches another service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The variable (`ELASTICSEARCH_HOSTS`).
    pub env: String,
    /// How its value is written.
    pub form: AddressForm,
    /// Names of catalog entries it reaches (`elasticsearch`), when it is one of them.
    #[serde(default)]
    pub reaches: Vec<String>,
    /// The value the image uses when the variable is unset; absent when it has none.
    pub default: Option<String>,
    /// The variable holding the port, when the address carries none.
    pub port_env: Option<String>,
    /// The variable with the user it logs in as there.
    pub user_env: Option<String>,
    /// The variable with that user's password (one secret with the other side's).
    pub password_env: Option<String>,
    /// The variable with the database it uses there.
    pub database_env: Option<String>,
}

/// A pinned tag to propose, and when it was checked to be a current supported line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StableTag {
    /// The tag (`18`, `1.30`).
    pub tag: String,
    /// The day it was checked (`2026-08-21`).
    pub checked: String,
}

/// What the catalog knows about one image reference, variants applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFacts {
    /// The matched entry's first name: the image family (`postgres`, `bitnami/postgresql`).
    pub family: String,
    /// The reference the facts are for.
    pub reference: ImageRef,
    /// What the image is for.
    pub role: Option<Role>,
    /// The port the service is reached on.
    pub port: Option<ServicePort>,
    /// Ports it also listens on that are not the service: never give them the service's check.
    pub other_ports: Vec<OtherPort>,
    /// How to check it, when more is known than a TCP connect to its port.
    pub health: Option<HealthFact>,
    /// Paths that hold data to persist.
    pub data: Vec<String>,
    /// The `uid:gid` that writes the data.
    pub user: Option<Owner>,
    /// Whether the entrypoint starts as root and gives the data to `user` itself.
    pub chowns_data: Option<bool>,
    /// Memory in MB it needs to start and run a small workload.
    pub memory_mb: Option<u32>,
    /// The variables that set its own credentials.
    pub credentials: Option<Credentials>,
    /// Variables it refuses to start without, other than credentials (`EULA`).
    pub required_env: Vec<String>,
    /// Variables it works without, its own default applying when unset (`SERVERURL`, which
    /// linuxserver's WireGuard then detects): a placeholder there is left out, not asked.
    pub optional_env: Vec<String>,
    /// Variables through which it reaches other services.
    pub addresses: Vec<Address>,
    /// A pinned tag to propose when the reference pins none.
    pub stable_tag: Option<StableTag>,
    /// Where each fact above comes from.
    pub sources: Sources,
}

impl ImageFacts {
    /// The source of one fact, when the fact is present.
    pub fn source(&self, fact: Fact) -> Option<&str> {
        self.sources.get(fact)
    }

    /// The stable tag to propose, only when the reference pins no version (no tag, or `latest`,
    /// and no digest).
    pub fn proposed_tag(&self) -> Option<&StableTag> {
        self.stable_tag.as_ref().filter(|_| self.reference.is_unpinned())
    }

    /// The check to give the service: the known one (whose `enabled_by`, when present, the job
    /// must also set), else a TCP connect to the service port; a UDP service gets none (Nomad
    /// cannot check it without a script).
    pub fn health_check(&self) -> Option<Health> {
        if let Some(health) = &self.health {
            return Some(health.check.clone());
        }
        let port = self.port.as_ref().filter(|p| p.protocol != Protocol::Udp)?;
        Some(Health { kind: HealthKind::Tcp, path: None, port: Some(port.number) })
    }
}

/// The loaded catalog.
#[derive(Debug)]
pub struct Catalog {
    rebuilt_by: BTreeSet<String>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    names: Vec<String>,
    facts: Facts,
    variants: Vec<Variant>,
}

#[derive(Debug)]
struct Variant {
    when: TagCondition,
    facts: Facts,
}

/// The tags a variant applies to; every condition given must hold.
#[derive(Debug, Clone, Default)]
struct TagCondition {
    tag_contains: Option<String>,
    major_below: Option<u32>,
    major_from: Option<u32>,
}

impl TagCondition {
    fn is_empty(&self) -> bool {
        self.tag_contains.is_none() && self.major_below.is_none() && self.major_from.is_none()
    }

    fn matches(&self, reference: &ImageRef) -> bool {
        let tag = reference.tag.as_deref();
        let contains = self
            .tag_contains
            .as_deref()
            .is_none_or(|needle| tag.is_some_and(|t| t.contains(needle)));
        let major = reference.major();
        let below = self.major_below.is_none_or(|limit| major.is_some_and(|m| m < limit));
        let from = self.major_from.is_none_or(|limit| major.is_some_and(|m| m >= limit));
        contains && below && from
    }
}

/// The facts one entry or variant states, each with its source.
#[derive(Debug, Clone, Default)]
struct Facts {
    role: Option<Role>,
    port: Option<ServicePort>,
    other_ports: Option<Vec<OtherPort>>,
    health: Option<HealthFact>,
    data: Option<Vec<String>>,
    user: Option<Owner>,
    chowns_data: Option<bool>,
    memory_mb: Option<u32>,
    credentials: Option<Credentials>,
    required_env: Option<Vec<String>>,
    optional_env: Option<Vec<String>>,
    addresses: Option<Vec<Address>>,
    stable_tag: Option<StableTag>,
    sources: Sources,
}

impl Facts {
    fn has(&self, fact: Fact) -> bool {
        match fact {
            Fact::Role => self.role.is_some(),
            Fact::Port => self.port.is_some(),
            Fact::OtherPorts => self.other_ports.is_some(),
            Fact::Health => self.health.is_some(),
            Fact::Data => self.data.is_some(),
            Fact::User => self.user.is_some(),
            Fact::ChownsData => self.chowns_data.is_some(),
            Fact::MemoryMb => self.memory_mb.is_some(),
            Fact::Credentials => self.credentials.is_some(),
            Fact::RequiredEnv => self.required_env.is_some(),
            Fact::OptionalEnv => self.optional_env.is_some(),
            Fact::Addresses => self.addresses.is_some(),
            Fact::StableTag => self.stable_tag.is_some(),
        }
    }

    /// Replaces the facts `other` states, with their sources.
    fn overlay(&mut self, other: &Facts) {
        for fact in Fact::ALL.into_iter().filter(|f| other.has(*f)) {
            match fact {
                Fact::Role => self.role = other.role,
                Fact::Port => self.port = other.port.clone(),
                Fact::OtherPorts => self.other_ports = other.other_ports.clone(),
                Fact::Health => self.health = other.health.clone(),
                Fact::Data => self.data = other.data.clone(),
                Fact::User => self.user = other.user,
                Fact::ChownsData => self.chowns_data = other.chowns_data,
                Fact::MemoryMb => self.memory_mb = other.memory_mb,
                Fact::Credentials => self.credentials = other.credentials.clone(),
                Fact::RequiredEnv => self.required_env = other.required_env.clone(),
                Fact::OptionalEnv => self.optional_env = other.optional_env.clone(),
                Fact::Addresses => self.addresses = other.addresses.clone(),
                Fact::StableTag => self.stable_tag = other.stable_tag.clone(),
            }
            *self.sources.slot_mut(fact) = other.sources.slot(fact).clone();
        }
    }
}

impl Catalog {
    /// Reads and checks a catalog text (the compiled-in one is [`catalog`]).
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog =
            toml::from_str(text).map_err(|e| CatalogError::Format(e.to_string()))?;
        load(raw)
    }

    /// The facts for a parsed reference, variants applied; `None` when no entry matches.
    pub fn facts(&self, reference: &ImageRef) -> Option<ImageFacts> {
        let names = self.entries.iter().map(|entry| entry.names.as_slice());
        let entry = &self.entries[best_entry(&self.rebuilt_by, names, reference)?];
        Some(entry.facts_for(reference))
    }

    /// Every name the catalog knows, each with the family (first name) it belongs to.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().flat_map(|entry| {
            let family = entry.names.first().map_or("", String::as_str);
            entry.names.iter().map(move |name| (name.as_str(), family))
        })
    }
}

impl Entry {
    /// Its facts for `reference`, the variants whose tags it matches applied in order.
    fn facts_for(&self, reference: &ImageRef) -> ImageFacts {
        let mut facts = self.facts.clone();
        for variant in self.variants.iter().filter(|v| v.when.matches(reference)) {
            facts.overlay(&variant.facts);
        }
        ImageFacts {
            family: self.names.first().cloned().unwrap_or_default(),
            reference: reference.clone(),
            role: facts.role,
            port: facts.port,
            other_ports: facts.other_ports.unwrap_or_default(),
            health: facts.health,
            data: facts.data.unwrap_or_default(),
            user: facts.user,
            chowns_data: facts.chowns_data,
            memory_mb: facts.memory_mb,
            credentials: facts.credentials,
            required_env: facts.required_env.unwrap_or_default(),
            optional_env: facts.optional_env.unwrap_or_default(),
            addresses: facts.addresses.unwrap_or_default(),
            stable_tag: facts.stable_tag,
            sources: facts.sources,
        }
    }
}

/// The entry (by position) whose names match `reference` best: a name with a `/` matches the
/// end of the path, the longest such winning; a bare name the last component, unless the path
/// is below a namespace of `rebuilt_by`.
fn best_entry<'n>(
    rebuilt_by: &BTreeSet<String>,
    entries: impl Iterator<Item = &'n [String]>,
    reference: &ImageRef,
) -> Option<usize> {
    let path: Vec<&str> = reference.path.split('/').collect();
    let (last, namespaces) = path.split_last()?;
    let rebuilt = namespaces.iter().any(|n| rebuilt_by.contains(*n));
    let mut best: Option<(usize, usize)> = None;
    for (at, names) in entries.enumerate() {
        for name in names {
            let parts: Vec<&str> = name.split('/').collect();
            let matched = match parts.as_slice() {
                [bare] => !rebuilt && bare == last,
                _ => path.ends_with(&parts),
            };
            if matched && best.is_none_or(|(length, _)| parts.len() > length) {
                best = Some((parts.len(), at));
            }
        }
    }
    best.map(|(_, at)| at)
}

/// The file as written: one table per image, variants nested.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    rebuilt_by: Vec<String>,
    #[serde(default)]
    image: Vec<RawEntry>,
}

/// One `[[image]]` or `[[image.variants]]` table; which fields each may hold is checked on load.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    names: Vec<String>,
    tag_contains: Option<String>,
    major_below: Option<u32>,
    major_from: Option<u32>,
    role: Option<Role>,
    port: Option<ServicePort>,
    other_ports: Option<Vec<OtherPort>>,
    health: Option<RawHealth>,
    data: Option<Vec<String>>,
    user: Option<String>,
    chowns_data: Option<bool>,
    memory_mb: Option<u32>,
    credentials: Option<Credentials>,
    required_env: Option<Vec<String>>,
    optional_env: Option<Vec<String>>,
    addresses: Option<Vec<Address>>,
    stable_tag: Option<RawStableTag>,
    #[serde(default)]
    sources: Sources,
    #[serde(default)]
    variants: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(rename = "type")]
    kind: HealthKind,
    path: Option<String>,
    port: u16,
    enabled_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStableTag {
    tag: String,
    checked: toml::value::Datetime,
}

/// Checks the raw file and builds the catalog.
fn load(raw: RawCatalog) -> Result<Catalog, CatalogError> {
    for namespace in &raw.rebuilt_by {
        if !is_path_component(namespace) {
            return Err(entry_error("rebuilt_by", format!("`{namespace}` is not a namespace")));
        }
    }
    let mut entries = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for (index, raw_entry) in raw.image.into_iter().enumerate() {
        let label = raw_entry.names.first().cloned().unwrap_or_else(|| format!("#{}", index + 1));
        let entry = load_entry(raw_entry, &label)?;
        for name in &entry.names {
            if !claimed.insert(name.clone()) {
                return Err(entry_error(
                    &label,
                    format!("the name `{name}` is already claimed by another image"),
                ));
            }
        }
        entries.push(entry);
    }
    // Addresses may name entries further down the file, so they are checked once all are in.
    for entry in &entries {
        let label = entry.names.first().map_or("", String::as_str);
        let all_facts =
            std::iter::once(&entry.facts).chain(entry.variants.iter().map(|v| &v.facts));
        for address in all_facts.flat_map(|f| f.addresses.iter().flatten()) {
            if let Some(unknown) = address.reaches.iter().find(|name| !claimed.contains(*name)) {
                return Err(entry_error(
                    label,
                    format!(
                        "addresses: `{}` reaches `{unknown}`, which no image claims",
                        address.env
                    ),
                ));
            }
        }
    }
    Ok(Catalog { rebuilt_by: raw.rebuilt_by.into_iter().collect(), entries })
}

fn load_entry(mut raw: RawEntry, label: &str) -> Result<Entry, CatalogError> {
    if raw.names.is_empty() {
        return Err(entry_error(label, "names is missing or empty".into()));
    }
    for name in &raw.names {
        if name.split('/').any(|c| !is_path_component(c)) {
            return Err(entry_error(label, format!("names: `{name}` is not a repository path")));
        }
    }
    if raw.tag_contains.is_some() || raw.major_below.is_some() || raw.major_from.is_some() {
        return Err(entry_error(
            label,
            "tag conditions belong in a variant, not in the image".into(),
        ));
    }
    let names = raw.names.clone();
    let raw_variants = std::mem::take(&mut raw.variants);
    let facts = load_facts(&raw, label)?;
    let mut variants = Vec::new();
    for (index, variant) in raw_variants.into_iter().enumerate() {
        let at = format!("{label}, variant {}", index + 1);
        if !variant.names.is_empty() {
            return Err(entry_error(&at, "a variant has no names of its own".into()));
        }
        if !variant.variants.is_empty() {
            return Err(entry_error(&at, "a variant has no variants of its own".into()));
        }
        let when = TagCondition {
            tag_contains: variant.tag_contains.clone(),
            major_below: variant.major_below,
            major_from: variant.major_from,
        };
        if when.is_empty() {
            return Err(entry_error(&at, "needs tag_contains, major_below or major_from".into()));
        }
        let variant_facts = load_facts(&variant, &at)?;
        if !Fact::ALL.iter().any(|f| variant_facts.has(*f)) {
            return Err(entry_error(&at, "states no fact".into()));
        }
        let mut merged = facts.clone();
        merged.overlay(&variant_facts);
        check_consistency(&merged, &at)?;
        variants.push(Variant { when, facts: variant_facts });
    }
    if !Fact::ALL.iter().any(|f| facts.has(*f)) {
        return Err(entry_error(label, "states no fact".into()));
    }
    check_consistency(&facts, label)?;
    Ok(Entry { names, facts, variants })
}

/// Checks each fact on its own and pairs it with its source.
fn load_facts(raw: &RawEntry, label: &str) -> Result<Facts, CatalogError> {
    let bad =
        |fact: Fact, problem: String| entry_error(label, format!("{}: {problem}", fact.key()));
    let health = match &raw.health {
        Some(h) => Some(load_health(h).map_err(|p| bad(Fact::Health, p))?),
        None => None,
    };
    let user = match &raw.user {
        Some(text) => Some(
            Owner::parse(text)
                .ok_or_else(|| bad(Fact::User, format!("`{text}` is not a numeric uid:gid")))?,
        ),
        None => None,
    };
    let stable_tag = match &raw.stable_tag {
        Some(s) => Some(load_stable_tag(s).map_err(|p| bad(Fact::StableTag, p))?),
        None => None,
    };
    if let Some(port) = &raw.port {
        check_port(port.number).map_err(|p| bad(Fact::Port, p))?;
        check_env_names(port.env.iter()).map_err(|p| bad(Fact::Port, p))?;
    }
    if let Some(others) = &raw.other_ports {
        for (i, other) in others.iter().enumerate() {
            check_port(other.number).map_err(|p| bad(Fact::OtherPorts, p))?;
            if other.what.trim().is_empty() {
                return Err(bad(
                    Fact::OtherPorts,
                    format!("port {} needs `what` it serves", other.number),
                ));
            }
            if others[..i]
                .iter()
                .any(|o| o.number == other.number && same_transport(o.protocol, other.protocol))
            {
                return Err(bad(
                    Fact::OtherPorts,
                    format!("port {} is listed twice", other.number),
                ));
            }
        }
    }
    if let Some(paths) = &raw.data {
        if let Some(path) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(bad(Fact::Data, format!("`{path}` is not an absolute path")));
        }
    }
    if raw.memory_mb == Some(0) {
        return Err(bad(Fact::MemoryMb, "must be more than 0".into()));
    }
    if let Some(credentials) = &raw.credentials {
        load_credentials(credentials).map_err(|p| bad(Fact::Credentials, p))?;
    }
    if let Some(names) = &raw.required_env {
        if names.is_empty() {
            return Err(bad(Fact::RequiredEnv, "is empty".into()));
        }
        check_env_names(names.iter()).map_err(|p| bad(Fact::RequiredEnv, p))?;
    }
    if let Some(names) = &raw.optional_env {
        if names.is_empty() {
            return Err(bad(Fact::OptionalEnv, "is empty".into()));
        }
        check_env_names(names.iter()).map_err(|p| bad(Fact::OptionalEnv, p))?;
    }
    if let Some(addresses) = &raw.addresses {
        for address in addresses {
            let names = std::iter::once(&address.env)
                .chain(&address.port_env)
                .chain(&address.user_env)
                .chain(&address.password_env)
                .chain(&address.database_env);
            check_env_names(names).map_err(|p| bad(Fact::Addresses, p))?;
        }
    }
    let facts = Facts {
        role: raw.role,
        port: raw.port.clone(),
        other_ports: raw.other_ports.clone(),
        health,
        data: raw.data.clone(),
        user,
        chowns_data: raw.chowns_data,
        memory_mb: raw.memory_mb,
        credentials: raw.credentials.clone(),
        required_env: raw.required_env.clone(),
        optional_env: raw.optional_env.clone(),
        addresses: raw.addresses.clone(),
        stable_tag,
        sources: raw.sources.clone(),
    };
    for fact in Fact::ALL {
        match (facts.has(fact), facts.sources.get(fact)) {
            (true, None) => return Err(bad(fact, "has no source (add it under `sources`)".into())),
            (false, Some(_)) => return Err(bad(fact, "has a source but no fact".into())),
            (true, Some(source)) if !source.starts_with("https://") => {
                return Err(bad(fact, format!("its source `{source}` is not an https:// address")))
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// Rules across facts, checked on each view a lookup can produce (the image, the image with
/// one variant): the check targets a port the image declares.
fn check_consistency(facts: &Facts, label: &str) -> Result<(), CatalogError> {
    let Some(health) = &facts.health else { return Ok(()) };
    let Some(port) = health.check.port else { return Ok(()) };
    let declared = facts.port.as_ref().is_some_and(|p| p.number == port)
        || facts.other_ports.iter().flatten().any(|p| p.number == port);
    if declared {
        Ok(())
    } else {
        Err(entry_error(
            label,
            format!("health: port {port} is neither `port` nor one of `other_ports`"),
        ))
    }
}

fn load_health(raw: &RawHealth) -> Result<HealthFact, String> {
    check_port(raw.port)?;
    match (raw.kind, raw.path.as_deref()) {
        (HealthKind::Http, Some(path)) if path.starts_with('/') => {}
        (HealthKind::Http, _) => return Err("an http check needs a path starting with `/`".into()),
        (_, Some(_)) => return Err("only an http check has a path".into()),
        (_, None) => {}
    }
    if let Some(assignment) = &raw.enabled_by {
        let name = assignment.split_once('=').map(|(name, _)| name);
        if name.is_none_or(|n| !is_env_name(n)) {
            return Err(format!("enabled_by `{assignment}` is not NAME=value"));
        }
    }
    Ok(HealthFact {
        check: Health { kind: raw.kind, path: raw.path.clone(), port: Some(raw.port) },
        enabled_by: raw.enabled_by.clone(),
    })
}

fn load_stable_tag(raw: &RawStableTag) -> Result<StableTag, String> {
    if valid_tag(&raw.tag).is_none() || raw.tag == "latest" {
        return Err(format!("`{}` is not a pinned tag", raw.tag));
    }
    match (raw.checked.date, raw.checked.time, raw.checked.offset) {
        (Some(date), None, None) => {
            Ok(StableTag { tag: raw.tag.clone(), checked: date.to_string() })
        }
        _ => Err(format!("checked `{}` is not a day like 2026-08-21", raw.checked)),
    }
}

fn load_credentials(credentials: &Credentials) -> Result<(), String> {
    if credentials.variables().next().is_none() {
        return Err("names no variable".into());
    }
    check_env_names(credentials.variables())?;
    for group in &credentials.required {
        if group.is_empty() {
            return Err("a required group is empty".into());
        }
        if let Some(name) = group.iter().find(|n| !credentials.variables().any(|v| v == *n)) {
            return Err(format!("required `{name}` is not one of its variables"));
        }
    }
    Ok(())
}

fn check_port(number: u16) -> Result<(), String> {
    if number == 0 {
        Err("port 0 is not a port".into())
    } else {
        Ok(())
    }
}

fn check_env_names<'a>(mut names: impl Iterator<Item = &'a String>) -> Result<(), String> {
    match names.find(|n| !is_env_name(n)) {
        Some(name) => Err(format!("`{name}` is not a variable name")),
        None => Ok(()),
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// UDP and the TCP-based protocols can share a number; two TCP-based ones cannot.
fn same_transport(a: Protocol, b: Protocol) -> bool {
    (a == Protocol::Udp) == (b == Protocol::Udp)
}

fn entry_error(entry: &str, problem: String) -> CatalogError {
    CatalogError::Entry { entry: entry.to_string(), problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_split_catalog_gives_what_the_whole_one_gives() {
        let whole = catalog().unwrap_or_else(|e| panic!("{e}"));
        let Some(index) = index() else { panic!("the catalog text no longer splits by entry") };
        let split: Vec<(&str, &str)> = index
            .entries
            .iter()
            .flat_map(|e| e.names.iter().map(move |n| (n.as_str(), e.names[0].as_str())))
            .collect();
        assert_eq!(split, whole.names().collect::<Vec<_>>(), "the same names, in order");
        assert_eq!(index.rebuilt_by, whole.rebuilt_by);
        for (name, _) in whole.names() {
            for tag in ["", ":latest", ":alpine", ":15-alpine", ":8", ":18", ":3.12-slim"] {
                for prefix in ["", "docker.io/library/", "ghcr.io/acme/", "bitnami/"] {
                    let image = format!("{prefix}{name}{tag}");
                    let Some(reference) = ImageRef::parse(&image) else { continue };
                    assert_eq!(index.facts(&reference), whole.facts(&reference), "{image}");
                }
            }
        }
        assert_eq!(names_line("names = [\"a\", \"b/c\"]\n"), Some(vec!["a".into(), "b/c".into()]));
        assert_eq!(names_line("names = [\n  \"a\",\n]\n"), None, "only a one-line list");
    }

    fn known(image: &str) -> ImageFacts {
        facts(image).unwrap_or_else(|| panic!("no facts for {image}"))
    }

    /// One line per lookup, so a table row reads as what the builder will be told.
    fn summary(facts: &ImageFacts) -> String {
        let port = facts
            .port
            .as_ref()
            .map_or("-".to_string(), |p| format!("{:?} {}", p.protocol, p.number));
        let user = match (facts.user, facts.chowns_data) {
            (Some(user), Some(true)) => format!("{user} chowns"),
            (Some(user), _) => user.to_string(),
            (None, Some(true)) => "- chowns".to_string(),
            (None, _) => "-".to_string(),
        };
        let data = if facts.data.is_empty() { "-".to_string() } else { facts.data.join(",") };
        let check = facts.health_check().map_or("-".to_string(), |h| {
            let path = h.path.map(|p| format!(" {p}")).unwrap_or_default();
            format!("{:?}{path} {}", h.kind, h.port.unwrap_or_default())
        });
        let pin = facts.proposed_tag().map_or("-", |t| t.tag.as_str());
        format!("{}; port {port}; user {user}; data {data}; check {check}; pin {pin}", facts.family)
    }

    fn parse_error(text: &str) -> String {
        match Catalog::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_catalog_loads_and_every_fact_it_states_has_a_source() {
        let catalog = catalog().unwrap_or_else(|error| panic!("{error}"));
        assert!(catalog.entries.len() >= 50, "{} entries", catalog.entries.len());
        for entry in &catalog.entries {
            let views =
                std::iter::once(&entry.facts).chain(entry.variants.iter().map(|v| &v.facts));
            for facts in views {
                for fact in Fact::ALL {
                    let source = facts.sources.get(fact);
                    assert_eq!(facts.has(fact), source.is_some(), "{:?} {fact:?}", entry.names);
                    assert!(
                        source.is_none_or(|s| s.starts_with("https://")),
                        "{:?} {fact:?}",
                        entry.names
                    );
                }
            }
        }
    }

    #[test]
    fn no_two_images_claim_one_name() {
        let catalog = catalog().unwrap_or_else(|error| panic!("{error}"));
        let mut seen = BTreeSet::new();
        for (name, family) in catalog.names() {
            assert!(seen.insert(name), "{name} (in {family}) is claimed twice");
        }
        let twice = "[[image]]\nnames = [\"redis\"]\nrole = \"cache\"\n[image.sources]\nrole = \"https://a\"\n\
                     [[image]]\nnames = [\"valkey\", \"redis\"]\nrole = \"cache\"\n[image.sources]\nrole = \"https://b\"\n";
        assert_eq!(
            parse_error(twice),
            "images.toml, image valkey: the name `redis` is already claimed by another image"
        );
    }

    #[test]
    fn a_fact_without_a_source_or_a_source_without_a_fact_is_refused() {
        let unsourced = "[[image]]\nnames = [\"x\"]\nport = { number = 80, protocol = \"http\" }\n";
        assert_eq!(
            parse_error(unsourced),
            "images.toml, image x: port: has no source (add it under `sources`)"
        );
        let stale = "[[image]]\nnames = [\"x\"]\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\ndata = \"https://b\"\n";
        assert_eq!(parse_error(stale), "images.toml, image x: data: has a source but no fact");
        let not_an_address =
            "[[image]]\nnames = [\"x\"]\nrole = \"app\"\n[image.sources]\nrole = \"the docs\"\n";
        assert_eq!(
            parse_error(not_an_address),
            "images.toml, image x: role: its source `the docs` is not an https:// address"
        );
        let variant_unsourced =
            "[[image]]\nnames = [\"x\"]\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\n\
                                 [[image.variants]]\ntag_contains = \"alpine\"\nuser = \"1:1\"\n";
        assert_eq!(
            parse_error(variant_unsourced),
            "images.toml, image x, variant 1: user: has no source (add it under `sources`)"
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_the_entry_and_the_field() {
        let cases = [
            ("[[image]]\nnames = [\"x\"]\nrole = \"app\"\nowner = \"1:1\"\n", "unknown field `owner`"),
            ("[[image]]\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\n", "image #1: names is missing or empty"),
            ("[[image]]\nnames = [\"X\"]\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\n", "names: `X` is not a repository path"),
            ("[[image]]\nnames = [\"x\"]\nuser = \"root\"\n[image.sources]\nuser = \"https://a\"\n", "user: `root` is not a numeric uid:gid"),
            ("[[image]]\nnames = [\"x\"]\nrole = \"boss\"\n", "unknown variant `boss`"),
            ("[[image]]\nnames = [\"x\"]\ndata = [\"var/x\"]\n[image.sources]\ndata = \"https://a\"\n", "data: `var/x` is not an absolute path"),
            (
                "[[image]]\nnames = [\"x\"]\nport = { number = 80, protocol = \"http\" }\nhealth = { type = \"http\", path = \"/h\", port = 81 }\n[image.sources]\nport = \"https://a\"\nhealth = \"https://b\"\n",
                "health: port 81 is neither `port` nor one of `other_ports`",
            ),
            (
                "[[image]]\nnames = [\"x\"]\nport = { number = 80, protocol = \"http\" }\nhealth = { type = \"http\", port = 80 }\n[image.sources]\nport = \"https://a\"\nhealth = \"https://b\"\n",
                "health: an http check needs a path starting with `/`",
            ),
            (
                "[[image]]\nnames = [\"x\"]\naddresses = [{ env = \"DB_HOST\", form = \"host\", reaches = [\"nowhere\"] }]\n[image.sources]\naddresses = \"https://a\"\n",
                "addresses: `DB_HOST` reaches `nowhere`, which no image claims",
            ),
            (
                "[[image]]\nnames = [\"x\"]\ncredentials = { password = [\"P\"], required = [[\"Q\"]] }\n[image.sources]\ncredentials = \"https://a\"\n",
                "credentials: required `Q` is not one of its variables",
            ),
            (
                "[[image]]\nnames = [\"x\"]\nstable_tag = { tag = \"latest\", checked = 2026-08-21 }\n[image.sources]\nstable_tag = \"https://a\"\n",
                "stable_tag: `latest` is not a pinned tag",
            ),
            (
                "[[image]]\nnames = [\"x\"]\ntag_contains = \"alpine\"\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\n",
                "tag conditions belong in a variant, not in the image",
            ),
            (
                "[[image]]\nnames = [\"x\"]\nrole = \"app\"\n[image.sources]\nrole = \"https://a\"\n[[image.variants]]\nrole = \"tool\"\n[image.variants.sources]\nrole = \"https://b\"\n",
                "variant 1: needs tag_contains, major_below or major_from",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_error(text);
            assert!(error.contains(expected), "{error}\n  does not say: {expected}");
        }
    }

    #[test]
    fn references_in_every_form_find_their_image() {
        let cases = [
            ("postgres", "postgres"),
            ("postgres:16", "postgres"),
            ("docker.io/library/postgres:16-alpine", "postgres"),
            ("mirror.gcr.io/library/postgres:17", "postgres"),
            ("localhost:5000/postgres:17", "postgres"),
            (&format!("postgres@{SHA}"), "postgres"),
            (&format!("postgres:16@{SHA}"), "postgres"),
            ("  postgis/postgis:16-3.4  ", "postgres"),
            ("bitnami/postgresql:15", "bitnami/postgresql"),
            ("docker.io/bitnami/postgresql:15", "bitnami/postgresql"),
            ("lscr.io/linuxserver/plex:latest", "linuxserver/plex"),
            ("grafana/grafana:11.2.0", "grafana"),
            ("quay.io/prometheus/prometheus:v3.5.0", "prometheus"),
            ("mcr.microsoft.com/mssql/server:2022-latest", "mssql/server"),
            ("docker.elastic.co/elasticsearch/elasticsearch:8.15.0", "elasticsearch"),
            ("quay.io/keycloak/keycloak:26.0", "keycloak"),
            ("confluentinc/cp-kafka:7.6.1", "confluentinc/cp-kafka"),
            ("apache/kafka:3.8.0", "apache/kafka"),
            ("redis/redis-stack-server:latest", "redis-stack-server"),
            ("valkey/valkey:8-alpine", "valkey"),
        ];
        for (image, family) in cases {
            assert_eq!(known(image).family, family, "{image}");
        }
    }

    #[test]
    fn variants_apply_by_tag() {
        let user = |image: &str| known(image).user.map(|u| u.to_string());
        assert_eq!(user("postgres:16-alpine").as_deref(), Some("70:70"));
        assert_eq!(user("postgres:16").as_deref(), Some("999:999"));
        assert_eq!(user("postgres").as_deref(), Some("999:999"));
        assert_eq!(user("redis:7-alpine").as_deref(), Some("999:1000"));
        assert_eq!(user("rabbitmq:4-management-alpine").as_deref(), Some("100:101"));
        assert_eq!(user("nextcloud:fpm-alpine").as_deref(), Some("82:82"));

        // PostgreSQL 18 moved its data one level up; a digest names no tag, so the default holds.
        assert_eq!(known("postgres:17.2").data, ["/var/lib/postgresql/data"]);
        assert_eq!(known("postgres:18").data, ["/var/lib/postgresql"]);
        assert_eq!(known(&format!("postgres@{SHA}")).data, ["/var/lib/postgresql"]);

        // Both variants of the management Alpine tag apply, each replacing its own facts.
        let management = known("rabbitmq:4.3-management-alpine");
        assert!(management.other_ports.iter().any(|p| p.number == 15672));
        assert_eq!(
            management.sources.get(Fact::User),
            known("rabbitmq:alpine").sources.get(Fact::User)
        );
        assert!(!known("rabbitmq:4.3").other_ports.iter().any(|p| p.number == 15672));

        // Elasticsearch 8 turned security on: the cluster health API needs a login there.
        let es7 = known("elasticsearch:7.16.1");
        assert_eq!(es7.health.map(|h| h.check.path), Some(Some("/_cluster/health".to_string())));
        assert_eq!(known("elasticsearch:8.15.0").health, None);

        let keycloak = |image: &str| known(image).credentials.map(|c| c.user).unwrap_or_default();
        assert_eq!(keycloak("quay.io/keycloak/keycloak:24.0"), ["KEYCLOAK_ADMIN"]);
        assert_eq!(keycloak("quay.io/keycloak/keycloak:26.3"), ["KC_BOOTSTRAP_ADMIN_USERNAME"]);
        assert_eq!(known("confluentinc/cp-kafka:7.6.1").addresses[0].reaches, ["zookeeper"]);
        assert!(known("confluentinc/cp-kafka:8.0.0").addresses.is_empty());
        assert_eq!(
            known("pihole/pihole:2024.07.0").credentials.map(|c| c.password),
            Some(vec!["WEBPASSWORD".to_string()])
        );
        assert_eq!(known("traefik:v3.7").reference.major(), Some(3));
    }

    #[test]
    fn a_namespace_that_rebuilds_popular_images_never_borrows_their_facts() {
        for image in [
            "bitnami/redis:7.2",
            "docker.io/bitnami/mongodb:7",
            "lscr.io/linuxserver/nextcloud:latest",
        ] {
            assert_eq!(facts(image), None, "{image}");
        }
        // Anyone else's namespace keeps the bare name: it is the same software, usually a mirror.
        assert_eq!(known("registry.example.com/team/nginx:1.27").family, "nginx");
    }

    #[test]
    fn unknown_images_have_no_facts() {
        let sha_ref = format!("ghcr.io/x/y@{SHA}");
        for image in [
            "dockersamples/examplevotingapp_vote",
            "atsea_db",
            "demo-microservice",
            "python:3.12",
            &sha_ref,
        ] {
            assert_eq!(facts(image), None, "{image}");
        }
    }

    #[test]
    fn malformed_references_have_no_facts_and_do_not_panic() {
        let long = format!("{}:1", "a".repeat(300));
        let cases = [
            "",
            "   ",
            "Postgres",
            "postgres:",
            ":16",
            "postgres::16",
            "post gres",
            "postgres@sha256:abc",
            "postgres@",
            "a//b",
            "/postgres",
            "postgres/",
            "pöstgres",
            "-postgres",
            "postgres:.16",
            "postgres:-16",
            "host:port/x",
            "my_registry.io:99999/postgres",
            "postgres@md5:0123",
            "postgres..x",
            "postgres_.x",
            &long,
        ];
        for image in cases {
            assert_eq!(ImageRef::parse(image), None, "{image:?}");
            assert_eq!(facts(image), None, "{image:?}");
        }
    }

    #[test]
    fn a_reference_reads_back_the_way_it_was_written() {
        for image in [
            "postgres",
            "docker.io/library/postgres:16-alpine",
            "localhost:5000/a/b-c__d.e:v1.2",
            &format!("x@{SHA}"),
        ] {
            let reference = ImageRef::parse(image).unwrap_or_else(|| panic!("{image}"));
            assert_eq!(reference.to_string(), image);
        }
        let reference =
            ImageRef::parse("localhost:5000/team/app:1.0").unwrap_or_else(|| panic!("parse"));
        assert_eq!(reference.registry.as_deref(), Some("localhost:5000"));
        assert_eq!((reference.path.as_str(), reference.name()), ("team/app", "app"));
        assert_eq!(ImageRef::parse("team/app").map(|r| r.registry), Some(None));
    }

    #[test]
    fn a_pinned_tag_is_proposed_only_for_an_unpinned_reference() {
        let proposal =
            |image: &str| known(image).proposed_tag().map(|t| (t.tag.clone(), t.checked.clone()));
        assert_eq!(proposal("postgres"), Some(("18".to_string(), "2026-08-21".to_string())));
        assert_eq!(proposal("postgres:latest").map(|p| p.0).as_deref(), Some("18"));
        assert_eq!(proposal("postgres:16"), None);
        assert_eq!(proposal(&format!("postgres@{SHA}")), None);
        assert_eq!(proposal("dpage/pgadmin4:latest"), None, "no stable tag is known for pgAdmin");
    }

    #[test]
    fn the_check_is_the_known_one_else_tcp_on_the_service_port_and_none_for_udp() {
        assert_eq!(
            summary(&known("grafana/grafana")).split("; ").nth(4),
            Some("check Http /api/health 3000")
        );
        assert_eq!(summary(&known("redis")).split("; ").nth(4), Some("check Tcp 6379"));
        assert_eq!(known("linuxserver/wireguard").health_check(), None);
        assert_eq!(known("haproxy:3.4").health_check(), None, "haproxy's port is its config's");
        let keycloak =
            known("quay.io/keycloak/keycloak:26.3").health.unwrap_or_else(|| panic!("health"));
        assert_eq!(keycloak.enabled_by.as_deref(), Some("KC_HEALTH_ENABLED=true"));
    }

    /// Every image the compose files of `shared/corpus/apps` name, with the facts the job
    /// builder will take from here (the file and line the reference is written at).
    #[test]
    fn the_corpus_apps_images() {
        let rows = [
            ("redis:alpine", "example-voting-app/docker-compose.yml:55",
             "redis; port Tcp 6379; user 999:1000 chowns; data /data; check Tcp 6379; pin -"),
            ("postgres:15-alpine", "example-voting-app/docker-compose.yml:65",
             "postgres; port Tcp 5432; user 70:70 chowns; data /var/lib/postgresql/data; check Tcp 5432; pin -"),
            ("postgres:9.4", "example-voting-app/result/docker-compose.test.yml:48",
             "postgres; port Tcp 5432; user 999:999 chowns; data /var/lib/postgresql/data; check Tcp 5432; pin -"),
            ("postgres:latest", "awesome-compose/postgresql-pgadmin/compose.yaml:4",
             "postgres; port Tcp 5432; user 999:999 chowns; data /var/lib/postgresql; check Tcp 5432; pin 18"),
            ("postgres:alpine", "awesome-compose/nextcloud-postgres/compose.yaml:15",
             "postgres; port Tcp 5432; user 70:70 chowns; data /var/lib/postgresql; check Tcp 5432; pin -"),
            ("postgres:12-alpine", "awesome-compose/react-rust-postgres/compose.yaml:35",
             "postgres; port Tcp 5432; user 70:70 chowns; data /var/lib/postgresql/data; check Tcp 5432; pin -"),
            ("mariadb:10-focal", "awesome-compose/nginx-flask-mysql/compose.yaml:4",
             "mariadb; port Tcp 3306; user 999:999 chowns; data /var/lib/mysql; check Tcp 3306; pin -"),
            ("mariadb:10.6.4-focal", "awesome-compose/react-express-mysql/compose.yaml:33",
             "mariadb; port Tcp 3306; user 999:999 chowns; data /var/lib/mysql; check Tcp 3306; pin -"),
            ("mariadb:10.9", "awesome-compose/wasmedge-mysql-nginx/compose.yml:23",
             "mariadb; port Tcp 3306; user 999:999 chowns; data /var/lib/mysql; check Tcp 3306; pin -"),
            ("nginx", "awesome-compose/nginx-golang/compose.yaml:3",
             "nginx; port Http 80; user -; data -; check Tcp 80; pin 1.30"),
            ("nginx:alpine", "awesome-compose/wasmedge-mysql-nginx/compose.yml:3",
             "nginx; port Http 80; user -; data -; check Tcp 80; pin -"),
            ("mongo", "awesome-compose/nginx-flask-mongo/compose.yaml:29",
             "mongo; port Tcp 27017; user 999:999 chowns; data /data/db; check Tcp 27017; pin 8.0"),
            ("itzg/minecraft-server", "awesome-compose/minecraft/compose.yaml:3",
             "itzg/minecraft-server; port Tcp 25565; user 1000:1000 chowns; data /data; check Tcp 25565; pin -"),
            ("visibilityspots/cloudflared", "awesome-compose/pihole-cloudflared-DoH/compose.yaml:4",
             "visibilityspots/cloudflared; port Udp 5054; user -; data -; check -; pin -"),
            ("pihole/pihole:latest", "awesome-compose/pihole-cloudflared-DoH/compose.yaml:20",
             "pihole/pihole; port Udp 53; user 1000:1000; data /etc/pihole; check Tcp 53; pin -"),
            ("redislabs/redismod", "awesome-compose/flask-redis/compose.yaml:3",
             "redismod; port Tcp 6379; user -; data -; check Tcp 6379; pin -"),
            ("portainer/portainer-ce:alpine", "awesome-compose/portainer/compose.yaml:3",
             "portainer/portainer-ce; port Http 9000; user 0:0; data /data; check Tcp 9000; pin -"),
            ("nextcloud:apache", "awesome-compose/nextcloud-postgres/compose.yaml:3",
             "nextcloud; port Http 80; user 33:33 chowns; data /var/www/html; check Tcp 80; pin -"),
            ("elasticsearch:7.16.1", "awesome-compose/elasticsearch-logstash-kibana/compose.yaml:3",
             "elasticsearch; port Http 9200; user 1000:0; data /usr/share/elasticsearch/data; check Http /_cluster/health 9200; pin -"),
            ("logstash:7.16.1", "awesome-compose/elasticsearch-logstash-kibana/compose.yaml:19",
             "logstash; port Http 9600; user -; data -; check Tcp 9600; pin -"),
            ("kibana:7.16.1", "awesome-compose/elasticsearch-logstash-kibana/compose.yaml:38",
             "kibana; port Http 5601; user -; data -; check Http /api/status 5601; pin -"),
            ("linuxserver/wireguard", "awesome-compose/wireguard/compose.yaml:4",
             "linuxserver/wireguard; port Udp 51820; user - chowns; data /config; check -; pin -"),
            ("linuxserver/plex", "awesome-compose/plex/compose.yaml:3",
             "linuxserver/plex; port Http 32400; user - chowns; data /config; check Tcp 32400; pin -"),
            ("dpage/pgadmin4:latest", "awesome-compose/postgresql-pgadmin/compose.yaml:15",
             "dpage/pgadmin4; port Http 80; user 5050:5050; data /var/lib/pgadmin; check Http /misc/ping 80; pin -"),
            ("dockersamples/visualizer:stable", "atsea-sample-shop-app/docker-stack.yml:55",
             "dockersamples/visualizer; port Http 8080; user -; data -; check Tcp 8080; pin -"),
        ];
        for (image, at, expected) in rows {
            assert_eq!(summary(&known(image)), expected, "{image} ({at})");
        }
        // Facts beyond the summary that those apps' jobs depend on.
        let mariadb = known("mariadb:10-focal").credentials.unwrap_or_default();
        assert!(
            mariadb.password.contains(&"MYSQL_PASSWORD".to_string())
                && mariadb.file_variants == Some(true)
        );
        let kibana = known("kibana:7.16.1");
        assert_eq!(kibana.addresses[0].env, "ELASTICSEARCH_HOSTS");
        assert_eq!(kibana.addresses[0].default.as_deref(), Some("http://elasticsearch:9200"));
        assert_eq!(known("itzg/minecraft-server").required_env, ["EULA"]);
        assert_eq!(known("lscr.io/linuxserver/wireguard:latest").optional_env, ["SERVERURL"]);
        assert_eq!(known("itzg/minecraft-server").memory_mb, Some(1280));
        // PHP may take 512 MB for one request (the installer's, on the first start).
        assert_eq!(known("nextcloud:apache").memory_mb, Some(1024));
        let nextcloud = known("nextcloud:apache");
        let postgres_host = nextcloud.addresses.iter().find(|a| a.env == "POSTGRES_HOST");
        assert_eq!(
            postgres_host.and_then(|a| a.password_env.as_deref()),
            Some("POSTGRES_PASSWORD")
        );
        // The apps' own images are not well-known images.
        for image in [
            "dockersamples/examplevotingapp_vote",
            "dockersamples/atsea_app",
            "atsea-api",
            "demo-microservice",
        ] {
            assert_eq!(facts(image), None, "{image}");
        }
    }
}
