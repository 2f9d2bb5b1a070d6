//! Where each secret of an analysis probably lives in Vault: `path#key` with a confidence
//! and the reason, from the team's conventions first, then from the secret paths that exist.
//!
//! Pure: the listing of existing paths is fetched by the caller ([`super::VaultClient::list_all`]);
//! nothing here talks to Vault, and no secret value is involved (only names).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::Analysis;

/// The team's Vault conventions (filled by the conventions loader from Consul KV or
/// `.nomad-spec.toml`).
///
/// ```json
/// { "patterns": { "database": "secret/data/{app_name}/db", "default": "secret/data/{app_name}" },
///   "mappings": { "AWS_ACCESS_KEY_ID": "secret/data/aws/shop#access_key" } }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConventions {
    /// Path pattern by kind of secret (`database`, `aws`, `cache`, `mail`, `app`, `default`);
    /// `{app_name}` is replaced.
    pub patterns: BTreeMap<String, String>,
    /// Exact `path#key` by variable name; wins over everything.
    pub mappings: BTreeMap<String, String>,
}

/// The secret paths that exist on one KV mount, relative to it (`shop/db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretListing {
    /// Mount path with its trailing slash (`kv/`).
    pub mount: String,
    /// 1 or 2.
    pub kv_version: u8,
    /// Secret paths relative to the mount.
    pub paths: Vec<String>,
}

impl SecretListing {
    /// The path a template reads: `kv/data/shop/db` on v2, `kv/shop/db` on v1.
    pub fn data_path(&self, relative: &str) -> String {
        let data = if self.kv_version == 2 { "data/" } else { "" };
        format!("{}{data}{}", self.mount, relative.trim_matches('/'))
    }
}

/// A proposed Vault location for one secret variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretSuggestion {
    /// Service of the analysis.
    pub service: String,
    /// The environment variable.
    pub variable: String,
    /// Path as a template reads it (`secret/data/shop/db`).
    pub path: String,
    /// Key inside the secret.
    pub key: String,
    /// 0..1.
    pub confidence: f64,
    /// Why, in words (`from conventions`, `existing path shop/db`).
    pub reason: String,
}

impl SecretSuggestion {
    /// `path#key`, the answer syntax.
    pub fn reference(&self) -> String {
        format!("{}#{}", self.path, self.key)
    }
}

/// Kinds of secret and the name words that mark them; the first word of a kind also names
/// it in paths.
const KINDS: &[(&str, &[&str])] = &[
    ("database", &["db", "database", "postgres", "postgresql", "pg", "mysql", "mariadb", "mongo"]),
    ("cache", &["redis", "cache", "memcached"]),
    ("aws", &["aws", "s3"]),
    ("mail", &["smtp", "mail", "email", "sendgrid", "mailgun"]),
    ("queue", &["rabbitmq", "amqp", "kafka", "nats"]),
];

/// Suggestions for every secret-looking variable of `analysis`, in analysis order. A variable
/// gets none when neither conventions nor an existing path say anything about it.
pub fn suggest_secrets(
    analysis: &Analysis,
    app_name: &str,
    conventions: &VaultConventions,
    listing: Option<&SecretListing>,
) -> Vec<SecretSuggestion> {
    let mut suggestions = Vec::new();
    for service in &analysis.services {
        for var in service.env.iter().filter(|var| var.secret) {
            let found = suggest_one(&var.name, app_name, conventions, listing);
            if let Some((path, key, confidence, reason)) = found {
                suggestions.push(SecretSuggestion {
                    service: service.name.clone(),
                    variable: var.name.clone(),
                    path,
                    key,
                    confidence,
                    reason,
                });
            }
        }
    }
    suggestions
}

fn suggest_one(
    name: &str,
    app_name: &str,
    conventions: &VaultConventions,
    listing: Option<&SecretListing>,
) -> Option<(String, String, f64, String)> {
    if let Some(mapped) = conventions.mappings.get(name) {
        if let Some((path, key)) = mapped.rsplit_once('#') {
            let reason = format!("conventions map {name} to {mapped}");
            return Some((path.to_string(), key.to_string(), 0.95, reason));
        }
    }
    let words = words(name);
    let kind = kind_of(&words);
    let key = key_of(&words);
    if let Some(pattern) = conventions.patterns.get(kind).or(conventions.patterns.get("default")) {
        let path = pattern.replace("{app_name}", app_name);
        let exists = listing.is_some_and(|listing| {
            listing.paths.iter().any(|relative| listing.data_path(relative) == path)
        });
        let which = if conventions.patterns.contains_key(kind) { kind } else { "default" };
        let (confidence, reason) = if exists {
            (0.9, format!("conventions pattern for {which} secrets; the path exists"))
        } else {
            (0.8, format!("conventions pattern for {which} secrets"))
        };
        return Some((path, key, confidence, reason));
    }
    let listing = listing?;
    let (score, relative) = listing
        .paths
        .iter()
        .map(|relative| (similarity(&words, kind, app_name, relative), relative))
        .filter(|(score, _)| *score > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))?;
    let confidence = (0.4 + 0.4 * score).min(0.85);
    let confidence = (confidence * 100.0).round() / 100.0;
    let reason = format!("existing path {relative} matches the name {name}");
    Some((listing.data_path(relative), key, confidence, reason))
}

/// `DB_PASSWORD` → `["db", "password"]`.
fn words(name: &str) -> Vec<String> {
    name.split(['_', '-', '.'])
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn kind_of(words: &[String]) -> &'static str {
    KINDS
        .iter()
        .find(|(_, marks)| words.iter().any(|word| marks.contains(&word.as_str())))
        .map(|(kind, _)| *kind)
        .unwrap_or("app")
}

/// The key inside the secret: the name without its kind words (`DB_PASSWORD` → `password`,
/// `AWS_SECRET_ACCESS_KEY` → `secret_access_key`), or the whole name in lower case.
fn key_of(words: &[String]) -> String {
    let marks: Vec<&str> = KINDS.iter().flat_map(|(_, marks)| marks.iter().copied()).collect();
    let rest: Vec<&str> =
        words.iter().map(String::as_str).filter(|word| !marks.contains(word)).collect();
    if rest.is_empty() {
        words.join("_")
    } else {
        rest.join("_")
    }
}

/// How well a path fits a variable, 0..1: a segment naming the variable's kind counts most,
/// then the app's name, then any other shared word.
fn similarity(words: &[String], kind: &str, app_name: &str, relative: &str) -> f64 {
    let app = app_name.to_ascii_lowercase();
    let lower = relative.to_ascii_lowercase();
    // The app's own folder is matched whole and then set aside, so that the words of its name
    // (`flask-postgres`) do not pass for the kind of secret (`postgres`) in every path below it.
    let folders: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
    let app_matched = !app.is_empty() && folders.contains(&app.as_str());
    let segments: Vec<String> = folders
        .iter()
        .filter(|folder| !app_matched || **folder != app)
        .flat_map(|folder| folder.split(['_', '-', '.']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let marks = KINDS.iter().find(|(k, _)| *k == kind).map(|(_, marks)| *marks).unwrap_or(&[]);
    let mut score = 0.0;
    if segments.iter().any(|segment| marks.contains(&segment.as_str())) {
        score += 0.6;
    }
    if app_matched {
        score += 0.3;
    }
    let key = key_of(words);
    if segments.iter().any(|segment| words.contains(segment) && *segment != key) && score < 0.6 {
        score += 0.2;
    }
    if score == 0.3 {
        // The app's name alone says nothing about which of its secrets this is.
        return 0.0;
    }
    f64::min(score, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{EnvVar, Service};

    fn analysis(names: &[&str]) -> Analysis {
        let mut service: Service = serde_json::from_value(serde_json::json!({
            "name": "web", "source": "build", "path": ".", "role": "app", "ports": [],
            "env": [], "volumes": [], "depends_on": [], "evidence": [],
            "resources": { "cpu": 100, "memory": 128, "reason": "test" },
        }))
        .unwrap_or_else(|err| panic!("test service: {err}"));
        service.env = names
            .iter()
            .map(|name| EnvVar {
                name: name.to_string(),
                secret: true,
                default: None,
                ..EnvVar::default()
            })
            .collect();
        service.env.push(EnvVar {
            name: "PORT".into(),
            secret: false,
            default: None,
            ..EnvVar::default()
        });
        Analysis { services: vec![service], notes: Vec::new() }
    }

    fn conventions(patterns: &[(&str, &str)], mappings: &[(&str, &str)]) -> VaultConventions {
        let map = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        VaultConventions { patterns: map(patterns), mappings: map(mappings) }
    }

    fn listing(paths: &[&str]) -> SecretListing {
        SecretListing {
            mount: "kv/".into(),
            kv_version: 2,
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn table(suggestions: &[SecretSuggestion]) -> String {
        suggestions
            .iter()
            .map(|s| {
                format!("{} -> {} ({}, {})", s.variable, s.reference(), s.confidence, s.reason)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn conventions_come_first() {
        let conventions = conventions(
            &[("database", "secret/data/{app_name}/db"), ("default", "secret/data/{app_name}")],
            &[("AWS_ACCESS_KEY_ID", "secret/data/aws/shop#access_key")],
        );
        let listing = listing(&["other/db"]);
        let analysis = analysis(&["DB_PASSWORD", "AWS_ACCESS_KEY_ID", "SESSION_SECRET"]);
        let found = suggest_secrets(&analysis, "shop", &conventions, Some(&listing));
        insta::assert_snapshot!(table(&found), @r"
        DB_PASSWORD -> secret/data/shop/db#password (0.8, conventions pattern for database secrets)
        AWS_ACCESS_KEY_ID -> secret/data/aws/shop#access_key (0.95, conventions map AWS_ACCESS_KEY_ID to secret/data/aws/shop#access_key)
        SESSION_SECRET -> secret/data/shop#session_secret (0.8, conventions pattern for default secrets)
        ");
    }

    #[test]
    fn a_pattern_that_exists_is_more_certain() {
        let conventions = conventions(&[("database", "kv/data/{app_name}/db")], &[]);
        let found = suggest_secrets(
            &analysis(&["DATABASE_PASSWORD"]),
            "shop",
            &conventions,
            Some(&listing(&["shop/db"])),
        );
        insta::assert_snapshot!(table(&found), @"DATABASE_PASSWORD -> kv/data/shop/db#password (0.9, conventions pattern for database secrets; the path exists)");
    }

    #[test]
    fn existing_paths_by_name_similarity() {
        let listing = listing(&["billing/api", "shop/db", "shop/redis", "mail/smtp"]);
        let analysis = analysis(&["DB_PASSWORD", "REDIS_PASSWORD", "SMTP_PASSWORD", "JWT_KEY"]);
        let found =
            suggest_secrets(&analysis, "shop", &VaultConventions::default(), Some(&listing));
        insta::assert_snapshot!(table(&found), @r"
        DB_PASSWORD -> kv/data/shop/db#password (0.76, existing path shop/db matches the name DB_PASSWORD)
        REDIS_PASSWORD -> kv/data/shop/redis#password (0.76, existing path shop/redis matches the name REDIS_PASSWORD)
        SMTP_PASSWORD -> kv/data/mail/smtp#password (0.64, existing path mail/smtp matches the name SMTP_PASSWORD)
        ");
    }

    #[test]
    fn kv_v1_paths_have_no_data_segment() {
        let mut listing = listing(&["shop/postgres"]);
        listing.kv_version = 1;
        listing.mount = "secret/".into();
        let found = suggest_secrets(
            &analysis(&["PG_PASSWORD"]),
            "shop",
            &VaultConventions::default(),
            Some(&listing),
        );
        assert_eq!(found[0].reference(), "secret/shop/postgres#password");
    }

    #[test]
    fn nothing_known_means_no_suggestion() {
        let found =
            suggest_secrets(&analysis(&["API_TOKEN"]), "shop", &VaultConventions::default(), None);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn conventions_read_from_json_strictly() {
        let ok: VaultConventions =
            serde_json::from_str(r#"{"patterns":{"default":"kv/data/{app_name}"}}"#).unwrap();
        assert_eq!(ok.patterns["default"], "kv/data/{app_name}");
        let err = serde_json::from_str::<VaultConventions>(r#"{"pattern":{}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `pattern`"), "{err}");
    }
}

#[cfg(test)]
mod app_name_tests {
    use super::*;

    /// Regression: the words of a hyphenated app name (`flask-postgres`) once counted as the
    /// kind of secret in every path below the app's folder, so `DATABASE_URL` matched
    /// `flask-postgres/app` as well as `flask-postgres/db`.
    #[test]
    fn the_app_folder_does_not_pass_for_the_kind_of_secret() {
        let database = words("DATABASE_URL");
        let kind = kind_of(&database);
        let db = similarity(&database, kind, "flask-postgres", "flask-postgres/db");
        let app = similarity(&database, kind, "flask-postgres", "flask-postgres/app");
        assert!(db > app, "db {db} should beat app {app}");
        assert_eq!(app, 0.0, "the app's name alone says nothing");
    }
}
