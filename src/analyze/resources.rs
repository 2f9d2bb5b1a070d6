//! Resource suggestions and service roles from language, framework and image.
//!
//! This file owns two judgements a platform engineer makes at a glance: what a published image
//! is for ([`role_of_image`]: `postgres:16` is a database) and how much CPU and memory a service
//! should start with ([`suggest`]). It does not read files; compose `deploy.resources` and other
//! descriptors' figures win over these suggestions, and the assembly decides that.
//!
//! # Service classes
//!
//! | class   | cpu (MHz) | memory (MB) | who                                                   |
//! |---------|-----------|-------------|-------------------------------------------------------|
//! | light   | 100       | 64–128      | Go, Rust, static sites, reverse proxies               |
//! | medium  | 200       | 256–512     | Node, Python, PHP, Ruby, .NET, caches, tools, unknown |
//! | heavy   | 500       | 512–1024    | JVM services, databases, message brokers              |
//! | compute | 1000      | 2048        | services that load ML libraries (torch, tensorflow)   |
//!
//! Within a class the figure depends on the framework: a Spring Boot service gets 1024 MB (heap
//! plus metaspace plus thread stacks) where Quarkus and Micronaut, built for small footprints,
//! get 512 MB; Rails gets 512 MB where Sinatra gets 256 MB; Django 384 MB. Nomad kills a task
//! that goes over its memory, so these figures lean to the safe side; CPU in Nomad is a soft
//! share, so it leans low. CPU is in MHz as Nomad counts it (about 1000 MHz for one core).
//!
//! # Roles of images
//!
//! Only the image's own name (its last path component, tag and digest removed) decides, with a
//! few vendor paths (`mssql/server`). The tool table is checked first, because tools are often
//! named after what they administer (`redis-commander` is a tool, not a cache; so is every
//! `*-exporter`). Object stores (minio) count as databases: they hold data that must survive.
//! Zookeeper counts as a queue, because it only ever runs as Kafka's (or a broker's) companion.
//!
//! nginx, httpd and caddy images are reverse proxies here: run as a published image in a
//! compose file they most often sit in front of other services. A service *built* in the
//! repository from such a base (a Dockerfile `FROM nginx` that copies HTML in) is the team's own
//! static site: [`language_of_image`] says `static` for it, and the assembly keeps role `app`.

use super::{Language, Resources, Role};

/// Images that are run as third-party tools (admin UIs, monitoring), matched by name.
const TOOLS: &[&str] = &[
    "adminer",
    "pgadmin4",
    "pgadmin",
    "phpmyadmin",
    "portainer",
    "portainer-ce",
    "mongo-express",
    "redis-commander",
    "redisinsight",
    "grafana",
    "prometheus",
    "alertmanager",
    "kibana",
    "logstash",
    "jaeger",
    "all-in-one",
    "mailhog",
    "mailpit",
    "localstack",
    "kafka-ui",
    "akhq",
    "cloudflared",
    "pihole",
    "watchtower",
    "cadvisor",
    "node-exporter",
    "loki",
    "promtail",
];

/// Image names (last path component) and the role they play.
const ROLES: &[(&str, Role)] = &[
    ("postgres", Role::Database),
    ("postgresql", Role::Database),
    ("postgis", Role::Database),
    ("timescaledb", Role::Database),
    ("mysql", Role::Database),
    ("mysql-server", Role::Database),
    ("mariadb", Role::Database),
    ("percona", Role::Database),
    ("mongo", Role::Database),
    ("mongodb", Role::Database),
    ("mongodb-community-server", Role::Database),
    ("cockroach", Role::Database),
    ("cockroachdb", Role::Database),
    ("cassandra", Role::Database),
    ("scylla", Role::Database),
    ("couchdb", Role::Database),
    ("couchbase", Role::Database),
    ("influxdb", Role::Database),
    ("clickhouse", Role::Database),
    ("clickhouse-server", Role::Database),
    ("elasticsearch", Role::Database),
    ("opensearch", Role::Database),
    ("neo4j", Role::Database),
    ("arangodb", Role::Database),
    ("questdb", Role::Database),
    ("surrealdb", Role::Database),
    ("minio", Role::Database),
    ("redis", Role::Cache),
    ("redis-stack", Role::Cache),
    ("redis-stack-server", Role::Cache),
    ("memcached", Role::Cache),
    ("valkey", Role::Cache),
    ("keydb", Role::Cache),
    ("dragonfly", Role::Cache),
    ("rabbitmq", Role::Queue),
    ("kafka", Role::Queue),
    ("redpanda", Role::Queue),
    ("nats", Role::Queue),
    ("nats-streaming", Role::Queue),
    ("zookeeper", Role::Queue),
    ("activemq", Role::Queue),
    ("activemq-artemis", Role::Queue),
    ("pulsar", Role::Queue),
    ("eclipse-mosquitto", Role::Queue),
    ("mosquitto", Role::Queue),
    ("emqx", Role::Queue),
    ("nginx", Role::Proxy),
    ("nginx-unprivileged", Role::Proxy),
    ("openresty", Role::Proxy),
    ("traefik", Role::Proxy),
    ("haproxy", Role::Proxy),
    ("envoy", Role::Proxy),
    ("caddy", Role::Proxy),
    ("httpd", Role::Proxy),
    ("apache", Role::Proxy),
    ("varnish", Role::Proxy),
    ("fabio", Role::Proxy),
];

/// The parts of an image reference that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Path without registry, tag or digest, lowercase (`library/postgres`, `bitnami/redis`).
    pub path: String,
    /// Last path component (`postgres`).
    pub name: String,
    /// Tag, when one is given (`16-alpine`).
    pub tag: Option<String>,
}

/// Splits `docker.io/library/postgres:16@sha256:...` into path, name and tag.
pub fn parse_image(image: &str) -> ImageRef {
    let image = image.trim();
    let without_digest = image.split('@').next().unwrap_or(image);
    // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match without_digest[last_slash..].find(':') {
        Some(i) => (
            &without_digest[..last_slash + i],
            Some(without_digest[last_slash + i + 1..].to_string()),
        ),
        None => (without_digest, None),
    };
    let mut parts: Vec<&str> = repo.split('/').collect();
    // The first component is a registry when it looks like a host (has a dot or a port, or is
    // `localhost`), as Docker itself decides.
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            parts.remove(0);
        }
    }
    let path = parts.join("/").to_ascii_lowercase();
    let name = parts.last().copied().unwrap_or_default().to_ascii_lowercase();
    ImageRef { path, name, tag: tag.filter(|t| !t.is_empty()) }
}

/// The role a published image plays (`postgres:16` → database).
pub fn role_of_image(image: &str) -> Role {
    let reference = parse_image(image);
    let name = reference.name.as_str();
    if TOOLS.contains(&name) || name.ends_with("-exporter") || name.ends_with("-ui") {
        return Role::Tool;
    }
    // Confluent publishes its broker images as `cp-kafka`, `cp-zookeeper`.
    let name = name.strip_prefix("cp-").unwrap_or(name);
    if reference.path.ends_with("mssql/server") {
        return Role::Database;
    }
    ROLES.iter().find(|(known, _)| *known == name).map_or(Role::App, |(_, role)| *role)
}

/// The language of a base image, when the image is a language runtime or a static web server.
///
/// Used for services built in the repository: `FROM python:3.12-slim` means Python, `FROM
/// nginx` means a static site.
pub fn language_of_image(image: &str) -> Option<Language> {
    let reference = parse_image(image);
    let name = reference.name.as_str();
    let path = reference.path.as_str();
    let language = match name {
        "golang" | "go" => Language::Go,
        "python" | "pypy" => Language::Python,
        "node" => Language::Node,
        "openjdk"
        | "eclipse-temurin"
        | "amazoncorretto"
        | "maven"
        | "gradle"
        | "tomcat"
        | "jetty"
        | "ibm-semeru-runtimes"
        | "sapmachine" => Language::Java,
        "php" => Language::Php,
        "ruby" => Language::Ruby,
        "rust" => Language::Rust,
        "nginx" | "nginx-unprivileged" | "httpd" | "caddy" | "openresty" => Language::Static,
        "aspnet" | "sdk" | "runtime" if path.starts_with("dotnet/") => Language::Dotnet,
        _ => return None,
    };
    Some(language)
}

/// A suggestion before its reason is written down.
struct Class {
    name: &'static str,
    cpu: u32,
    memory: u32,
}

const LIGHT: u32 = 100;
const MEDIUM: u32 = 200;
const HEAVY: u32 = 500;
const COMPUTE: u32 = 1000;

/// Suggested resources for a service, with the reason.
///
/// The reason reads "who: class, figures, why", e.g. "JVM (spring-boot): heavy class,
/// 500 MHz, 1024 MB, JVM heap plus metaspace".
pub fn suggest(language: Option<Language>, framework: Option<&str>, role: Role) -> Resources {
    let (class, who, why) = classify(language, framework, role);
    Resources {
        cpu: class.cpu,
        memory: class.memory,
        reason: format!(
            "{who}: {} class, {} MHz, {} MB, {why}",
            class.name, class.cpu, class.memory
        ),
    }
}

/// Like [`suggest`], for a service that loads a machine-learning library (`ml` names it):
/// such services get the compute class whatever their framework.
pub fn suggest_with_ml(
    language: Option<Language>,
    framework: Option<&str>,
    role: Role,
    ml: Option<&str>,
) -> Resources {
    match ml {
        Some(library) if role == Role::App => {
            let class = Class { name: "compute", cpu: COMPUTE, memory: 2048 };
            Resources {
                cpu: class.cpu,
                memory: class.memory,
                reason: format!(
                    "loads {library}: {} class, {} MHz, {} MB, model weights and tensors",
                    class.name, class.cpu, class.memory
                ),
            }
        }
        _ => suggest(language, framework, role),
    }
}

/// The class of a service, who it is in words, and why the class fits.
fn classify(
    language: Option<Language>,
    framework: Option<&str>,
    role: Role,
) -> (Class, String, &'static str) {
    let class = |name, cpu, memory| Class { name, cpu, memory };
    let backing = |who: &str| who.to_string();
    match role {
        Role::Database => {
            return (
                class("heavy", HEAVY, 1024),
                backing("database"),
                "buffer cache and connections",
            )
        }
        Role::Cache => {
            return (class("medium", MEDIUM, 256), backing("cache"), "keeps its data in memory")
        }
        Role::Queue => {
            return (class("heavy", HEAVY, 512), backing("message broker"), "queues and buffers")
        }
        Role::Proxy => {
            return (class("light", LIGHT, 128), backing("reverse proxy"), "forwards requests")
        }
        Role::Tool => return (class("medium", MEDIUM, 256), backing("tool"), "third-party image"),
        Role::App => {}
    }
    let framework = framework.map(str::to_ascii_lowercase);
    let fw = framework.as_deref();
    let named = |lang: &str| match fw {
        Some(f) => format!("{lang} ({f})"),
        None => lang.to_string(),
    };
    match language {
        Some(Language::Go) => (class("light", LIGHT, 128), named("Go"), "compiled, small runtime"),
        Some(Language::Rust) => (class("light", LIGHT, 128), named("Rust"), "compiled, no GC"),
        Some(Language::Static) => {
            (class("light", LIGHT, 64), "static site".into(), "a web server serving files")
        }
        Some(Language::Java) => match fw {
            Some("quarkus" | "micronaut" | "sparkjava" | "javalin") => {
                (class("heavy", HEAVY, 512), named("JVM"), "JVM with a small-footprint framework")
            }
            _ => (class("heavy", HEAVY, 1024), named("JVM"), "JVM heap plus metaspace"),
        },
        Some(Language::Node) => match fw {
            Some("next" | "nuxt" | "nest") => {
                (class("medium", MEDIUM, 512), named("Node"), "V8 heap, server rendering")
            }
            _ => (class("medium", MEDIUM, 256), named("Node"), "V8 heap"),
        },
        Some(Language::Python) => match fw {
            Some("django") => {
                (class("medium", MEDIUM, 384), named("Python"), "interpreter plus worker processes")
            }
            _ => (class("medium", MEDIUM, 256), named("Python"), "interpreter"),
        },
        Some(Language::Ruby) => match fw {
            Some("rails") => {
                (class("medium", MEDIUM, 512), named("Ruby"), "framework loaded eagerly")
            }
            _ => (class("medium", MEDIUM, 256), named("Ruby"), "interpreter"),
        },
        Some(Language::Php) => (class("medium", MEDIUM, 256), named("PHP"), "worker processes"),
        Some(Language::Dotnet) => {
            (class("medium", MEDIUM, 512), named(".NET"), ".NET runtime and GC")
        }
        None => (class("medium", MEDIUM, 256), "unknown stack".into(), "a safe starting point"),
    }
}

/// How a memory quantity's decimal-looking units read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantities {
    /// Compose and Docker: every unit is binary and case does not matter (`512M` = 512 MiB).
    Docker,
    /// Kubernetes, with the platforms' sizes: `M`, `G`, `T` and `k` are powers of ten, `Mi`,
    /// `Gi` ... powers of two, and the lowercase `mb`/`gb` people write in platform files mean
    /// MiB/GiB.
    Kubernetes,
}

/// Memory in MB (MiB, as Nomad counts it) from a quantity: `512Mi`, `1Gi`, `500M`, `1e9`,
/// `134217728` (bytes), `512mb`, `1.5G`, `2048k`, read as `dialect` reads them.
pub fn memory_mb(quantity: &str, dialect: Quantities) -> Option<u32> {
    let quantity = quantity.trim();
    let split =
        quantity.find(|c: char| c.is_ascii_alphabetic() && c != 'e').unwrap_or(quantity.len());
    let (number, unit) = quantity.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let unit = unit.trim();
    let decimal = dialect == Quantities::Kubernetes;
    let bytes_per_unit: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" if decimal => 1e3,
        "m" | "mb" if decimal && unit == "M" => 1e6,
        "g" | "gb" if decimal && unit == "G" => 1e9,
        "t" if decimal => 1e12,
        "k" | "kb" | "ki" | "kib" => 1024.0,
        "m" | "mb" | "mi" | "mib" => 1_048_576.0,
        "g" | "gb" | "gi" | "gib" => 1_073_741_824.0,
        "t" | "tb" | "ti" | "tib" => 1_099_511_627_776.0,
        _ => return None,
    };
    let mb = (number * bytes_per_unit / 1_048_576.0).ceil();
    (mb.is_finite() && mb >= 1.0 && mb <= f64::from(u32::MAX)).then_some(mb as u32)
}

/// The memory a JVM needs when its command line or options fix the heap (`-Xmx512m`,
/// `-Xmx2g` in `JAVA_OPTS`, `ES_JAVA_OPTS`, a command's argument): the heap plus what lives
/// beside it (metaspace, thread stacks, code cache, direct buffers), at least 512 MB or half
/// the heap. `None` when no `-Xmx` is given.
pub fn jvm_memory_mb<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<(u32, u32)> {
    let heap = texts
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter_map(|word| word.strip_prefix("-Xmx"))
        .filter_map(|size| memory_mb(size, Quantities::Docker))
        .max()?;
    Some((heap, heap + (heap / 2).max(512)))
}

/// CPU in MHz from a quantity of cores (`0.5`, `2`, compose's `cpus`) or Kubernetes
/// millicores (`250m`), counting one core as 1000 MHz.
pub fn cpu_mhz(quantity: &str) -> Option<u32> {
    let quantity = quantity.trim();
    let millicores = match quantity.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()?,
        None => quantity.parse::<f64>().ok()? * 1000.0,
    };
    (millicores.is_finite() && millicores >= 1.0 && millicores <= f64::from(u32::MAX))
        .then_some(millicores.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_are_split() {
        let cases = [
            ("postgres", "postgres", "postgres", None),
            ("postgres:16-alpine", "postgres", "postgres", Some("16-alpine")),
            (
                "docker.io/library/postgres:16@sha256:0123abcd",
                "library/postgres",
                "postgres",
                Some("16"),
            ),
            ("bitnami/redis", "bitnami/redis", "redis", None),
            ("ghcr.io/acme/api:v1.2", "acme/api", "api", Some("v1.2")),
            ("localhost:5000/team/app:dev", "team/app", "app", Some("dev")),
            ("registry.local:5000/app", "app", "app", None),
            (
                "mcr.microsoft.com/mssql/server:2022-latest",
                "mssql/server",
                "server",
                Some("2022-latest"),
            ),
            ("Nginx:Latest", "nginx", "nginx", Some("Latest")),
            ("", "", "", None),
            ("redis:", "redis", "redis", None),
        ];
        for (image, path, name, tag) in cases {
            let got = parse_image(image);
            assert_eq!(
                (got.path.as_str(), got.name.as_str(), got.tag.as_deref()),
                (path, name, tag),
                "{image}"
            );
        }
    }

    #[test]
    fn roles_of_images() {
        let cases = [
            ("postgres:16", Role::Database),
            ("docker.io/library/postgres:16@sha256:abc", Role::Database),
            ("postgis/postgis:16-3.4", Role::Database),
            ("bitnami/postgresql:15", Role::Database),
            ("mysql:8", Role::Database),
            ("mariadb:11", Role::Database),
            ("mongo:7", Role::Database),
            ("cockroachdb/cockroach:v23.1.0", Role::Database),
            ("docker.elastic.co/elasticsearch/elasticsearch:8.11.0", Role::Database),
            ("opensearchproject/opensearch:2", Role::Database),
            ("clickhouse/clickhouse-server", Role::Database),
            ("mcr.microsoft.com/mssql/server:2022-latest", Role::Database),
            ("minio/minio", Role::Database),
            ("redis:7-alpine", Role::Cache),
            ("bitnami/redis", Role::Cache),
            ("memcached", Role::Cache),
            ("valkey/valkey:8", Role::Cache),
            ("eqalpha/keydb", Role::Cache),
            ("rabbitmq:3-management", Role::Queue),
            ("confluentinc/cp-kafka:7.5.0", Role::Queue),
            ("confluentinc/cp-zookeeper", Role::Queue),
            ("nats:2.10", Role::Queue),
            ("nginx:1.25-alpine", Role::Proxy),
            ("nginxinc/nginx-unprivileged", Role::Proxy),
            ("traefik:v3.0", Role::Proxy),
            ("envoyproxy/envoy:v1.29-latest", Role::Proxy),
            ("haproxy", Role::Proxy),
            ("caddy:2", Role::Proxy),
            ("httpd:2.4", Role::Proxy),
            ("adminer", Role::Tool),
            ("dpage/pgadmin4", Role::Tool),
            ("portainer/portainer-ce", Role::Tool),
            ("rediscommander/redis-commander", Role::Tool),
            ("prometheuscommunity/postgres-exporter", Role::Tool),
            ("provectuslabs/kafka-ui", Role::Tool),
            ("mongo-express", Role::Tool),
            // Near misses: names that contain a known one are not it.
            ("ghcr.io/acme/postgres-backup", Role::App),
            ("acme/redisson-app", Role::App),
            ("ghcr.io/acme/api:1.0", Role::App),
            ("python:3.12", Role::App),
            ("", Role::App),
        ];
        for (image, role) in cases {
            assert_eq!(role_of_image(image), role, "{image}");
        }
    }

    #[test]
    fn languages_of_base_images() {
        let cases = [
            ("golang:1.22-alpine", Some(Language::Go)),
            ("python:3.12-slim", Some(Language::Python)),
            ("node:20", Some(Language::Node)),
            ("eclipse-temurin:21-jre", Some(Language::Java)),
            ("maven:3-eclipse-temurin-21", Some(Language::Java)),
            ("mcr.microsoft.com/dotnet/aspnet:8.0", Some(Language::Dotnet)),
            ("php:8.3-fpm", Some(Language::Php)),
            ("ruby:3.3", Some(Language::Ruby)),
            ("rust:1.80", Some(Language::Rust)),
            ("nginx:alpine", Some(Language::Static)),
            ("alpine:3.20", None),
            ("gcr.io/distroless/static-debian12", None),
            ("acme/sdk", None),
        ];
        for (image, language) in cases {
            assert_eq!(language_of_image(image), language, "{image}");
        }
    }

    #[test]
    fn suggestions_follow_the_class_table() {
        use Language as L;
        let cases = [
            (
                Some(L::Go),
                None,
                Role::App,
                "Go: light class, 100 MHz, 128 MB, compiled, small runtime",
            ),
            (
                Some(L::Rust),
                Some("axum"),
                Role::App,
                "Rust (axum): light class, 100 MHz, 128 MB, compiled, no GC",
            ),
            (
                Some(L::Static),
                None,
                Role::App,
                "static site: light class, 100 MHz, 64 MB, a web server serving files",
            ),
            (
                Some(L::Java),
                Some("spring-boot"),
                Role::App,
                "JVM (spring-boot): heavy class, 500 MHz, 1024 MB, JVM heap plus metaspace",
            ),
            (
                Some(L::Java),
                Some("Quarkus"),
                Role::App,
                "JVM (quarkus): heavy class, 500 MHz, 512 MB, JVM with a small-footprint framework",
            ),
            (
                Some(L::Node),
                Some("express"),
                Role::App,
                "Node (express): medium class, 200 MHz, 256 MB, V8 heap",
            ),
            (
                Some(L::Node),
                Some("next"),
                Role::App,
                "Node (next): medium class, 200 MHz, 512 MB, V8 heap, server rendering",
            ),
            (
                Some(L::Python),
                Some("django"),
                Role::App,
                "Python (django): medium class, 200 MHz, 384 MB, interpreter plus worker processes",
            ),
            (
                Some(L::Python),
                Some("flask"),
                Role::App,
                "Python (flask): medium class, 200 MHz, 256 MB, interpreter",
            ),
            (
                Some(L::Ruby),
                Some("rails"),
                Role::App,
                "Ruby (rails): medium class, 200 MHz, 512 MB, framework loaded eagerly",
            ),
            (
                Some(L::Php),
                Some("laravel"),
                Role::App,
                "PHP (laravel): medium class, 200 MHz, 256 MB, worker processes",
            ),
            (
                Some(L::Dotnet),
                Some("aspnet"),
                Role::App,
                ".NET (aspnet): medium class, 200 MHz, 512 MB, .NET runtime and GC",
            ),
            (
                None,
                None,
                Role::App,
                "unknown stack: medium class, 200 MHz, 256 MB, a safe starting point",
            ),
            (
                None,
                None,
                Role::Database,
                "database: heavy class, 500 MHz, 1024 MB, buffer cache and connections",
            ),
            (
                Some(L::Go),
                None,
                Role::Database,
                "database: heavy class, 500 MHz, 1024 MB, buffer cache and connections",
            ),
            (
                None,
                None,
                Role::Cache,
                "cache: medium class, 200 MHz, 256 MB, keeps its data in memory",
            ),
            (
                None,
                None,
                Role::Queue,
                "message broker: heavy class, 500 MHz, 512 MB, queues and buffers",
            ),
            (
                None,
                None,
                Role::Proxy,
                "reverse proxy: light class, 100 MHz, 128 MB, forwards requests",
            ),
            (None, None, Role::Tool, "tool: medium class, 200 MHz, 256 MB, third-party image"),
        ];
        for (language, framework, role, reason) in cases {
            let got = suggest(language, framework, role);
            assert_eq!(got.reason, reason);
            // The figures in the reason are the figures suggested.
            let figures = format!("{} MHz, {} MB", got.cpu, got.memory);
            assert!(reason.contains(&figures), "{reason} vs {figures}");
        }
    }

    #[test]
    fn ml_libraries_make_an_app_compute_class() {
        let got =
            suggest_with_ml(Some(Language::Python), Some("fastapi"), Role::App, Some("torch"));
        assert_eq!((got.cpu, got.memory), (1000, 2048));
        assert_eq!(
            got.reason,
            "loads torch: compute class, 1000 MHz, 2048 MB, model weights and tensors"
        );
        let db = suggest_with_ml(None, None, Role::Database, Some("torch"));
        assert_eq!(db.memory, 1024);
        let plain = suggest_with_ml(Some(Language::Go), None, Role::App, None);
        assert_eq!(plain, suggest(Some(Language::Go), None, Role::App));
    }

    #[test]
    fn memory_quantities() {
        let cases = [
            ("512Mi", Some(512)),
            ("1Gi", Some(1024)),
            ("1.5Gi", Some(1536)),
            ("500M", Some(477)),
            ("1G", Some(954)),
            ("134217728", Some(128)),
            ("128974848", Some(123)),
            ("1e9", Some(954)),
            ("256Ki", Some(1)),
            ("512mb", Some(512)),
            ("1gb", Some(1024)),
            ("2GB", Some(2048)),
            ("", None),
            ("lots", None),
            ("12Xi", None),
            ("-1Gi", None),
        ];
        for (quantity, mb) in cases {
            assert_eq!(memory_mb(quantity, Quantities::Kubernetes), mb, "{quantity}");
        }
    }

    #[test]
    fn cpu_quantities() {
        let cases = [
            ("250m", Some(250)),
            ("0.5", Some(500)),
            ("2", Some(2000)),
            ("1500m", Some(1500)),
            ("0", None),
            ("abc", None),
            ("", None),
        ];
        for (quantity, mhz) in cases {
            assert_eq!(cpu_mhz(quantity), mhz, "{quantity}");
        }
    }

    #[test]
    fn docker_quantities_are_binary() {
        let cases = [
            ("512M", Some(512)),
            ("1g", Some(1024)),
            ("1.5G", Some(1536)),
            ("2048k", Some(2)),
            ("1073741824", Some(1024)),
            ("lots", None),
        ];
        for (quantity, mb) in cases {
            assert_eq!(memory_mb(quantity, Quantities::Docker), mb, "{quantity}");
        }
    }
}
