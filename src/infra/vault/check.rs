//! The `nomad-spec/secrets` check: every Vault secret a job file reads, checked against Vault
//! (the path exists, the token may read it, the path has the shape of its KV version), with
//! the job file's line and column on every finding.
//!
//! References are found in `template` blocks (`{{ with secret "kv/data/app/db" }}`,
//! `{{ secret "..." }}`, then `.Data.data.KEY`, `.Data.KEY` or `index .Data.data "KEY"`) and
//! in Nomad 1.11 `secret` blocks with the `vault` provider. A key is checked only against the
//! key names a KV v2 secret declares in its custom metadata ([`KEYS_METADATA`]); without a
//! declaration it is reported as not verifiable, since Vault names keys only with their values
//! (see the module doc of [`super`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{KvMount, Mount, VaultClient, VaultError};
use crate::checks::{CheckResult, CheckStatus, SECRETS};
use crate::jobspec::parse::{closest, parse_job_spec, ParseOptions};
use crate::jobspec::Diagnostic;

/// The `custom_metadata` entry in which a KV v2 secret declares its key names,
/// comma-separated (`user, password`). Named for nomad-spec rather than a bare `keys`: a
/// declaration turns every key it does not list into an error, so it must not be confused
/// with an entry a team already keeps for something else.
pub const KEYS_METADATA: &str = "nomad-spec/keys";

/// One secret a job file reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// As written (`kv/data/shop/db`).
    pub path: String,
    /// Keys read from it, with their line and column.
    pub keys: Vec<KeyUse>,
    /// How the keys are reached: `.Data.data.KEY` (KV v2 shape) or `.Data.KEY` (v1).
    pub v2_access: Option<bool>,
    /// From a Nomad 1.11 `secret` block (mount-relative, no `data/`), not a template.
    pub secret_block: bool,
    /// 1-based position of the path in the job file (0 when not found).
    pub line: u32,
    pub column: u32,
}

/// One key read from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub key: String,
    pub line: u32,
    pub column: u32,
}

/// Every Vault secret `job_source` reads; `Err` with the parse diagnostics when the file is
/// not a job.
pub fn secret_references(
    job_source: &str,
    file: &str,
) -> Result<Vec<SecretReference>, Vec<Diagnostic>> {
    let job = parse_job_spec(job_source, file, &ParseOptions::default())?;
    let mut locator = Locator { source: job_source, from: BTreeMap::new() };
    let mut references = Vec::new();
    for group in job.groups() {
        for task in group.tasks.iter() {
            for template in task.templates.iter().flatten() {
                let Some(text) = &template.embedded_tmpl else { continue };
                let left = template.left_delim.as_deref().unwrap_or("{{");
                let right = template.right_delim.as_deref().unwrap_or("}}");
                references.extend(template_references(text, left, right, &mut locator));
            }
            for secret in task.secrets.iter().flatten() {
                if secret.provider != "vault" {
                    continue;
                }
                let (line, column) = locator.find(&secret.path);
                references.push(SecretReference {
                    path: secret.path.clone(),
                    keys: Vec::new(),
                    v2_access: None,
                    secret_block: true,
                    line,
                    column,
                });
            }
        }
    }
    Ok(references)
}

/// Finds text in the job file in order: the n-th reference to a path is at its n-th
/// occurrence, so two templates reading one path get their own lines.
struct Locator<'a> {
    source: &'a str,
    from: BTreeMap<String, usize>,
}

impl Locator<'_> {
    fn find(&mut self, needle: &str) -> (u32, u32) {
        self.find_after(needle, None)
    }

    fn find_after(&mut self, needle: &str, after: Option<(u32, u32)>) -> (u32, u32) {
        let mut start = self.from.get(needle).copied().unwrap_or(0);
        if let Some((line, column)) = after {
            start = start.max(offset_of(self.source, line, column));
        }
        let Some(found) = self.source.get(start..).and_then(|rest| rest.find(needle)) else {
            return (0, 0);
        };
        let at = start + found;
        self.from.insert(needle.to_string(), at + needle.len());
        line_and_column(self.source, at)
    }
}

fn line_and_column(source: &str, offset: usize) -> (u32, u32) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, column as u32)
}

fn offset_of(source: &str, line: u32, column: u32) -> usize {
    if line == 0 {
        return 0;
    }
    let mut offset = 0;
    for (index, text) in source.split_inclusive('\n').enumerate() {
        if index + 1 == line as usize {
            let within: usize =
                text.chars().take((column as usize).saturating_sub(1)).map(char::len_utf8).sum();
            return offset + within;
        }
        offset += text.len();
    }
    offset
}

/// `secret "PATH"` inside a template action.
static SECRET_CALL: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern: it compiles, or every test of this file fails.
    Regex::new(r#"\bsecret\s+"([^"]+)""#).expect("the secret-call pattern compiles")
});

/// `.Data.data.KEY` (KV v2), `.Data.KEY` (KV v1), `index .Data[.data] "KEY"`.
static KEY_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\.Data\.data\.([A-Za-z_][A-Za-z0-9_]*)|\.Data\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\.Data(\.data)?\s+"([^"]+)""#,
    )
    .expect("the key-use pattern compiles")
});

fn template_references(
    text: &str,
    left: &str,
    right: &str,
    locator: &mut Locator<'_>,
) -> Vec<SecretReference> {
    let (secret, key) = (&*SECRET_CALL, &*KEY_USE);
    let mut references: Vec<SecretReference> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(left) {
        let after = &rest[open + left.len()..];
        let Some(close) = after.find(right) else { break };
        let action = &after[..close];
        rest = &after[close + right.len()..];
        if let Some(found) = secret.captures(action) {
            let path = found[1].to_string();
            let (line, column) = locator.find(&path);
            references.push(SecretReference {
                path,
                keys: Vec::new(),
                v2_access: None,
                secret_block: false,
                line,
                column,
            });
        }
        let Some(current) = references.last_mut() else { continue };
        for found in key.captures_iter(action) {
            let (name, v2) = match (found.get(1), found.get(2), found.get(3), found.get(4)) {
                (Some(name), ..) => (name.as_str(), true),
                (None, Some(name), ..) if name.as_str() != "data" => (name.as_str(), false),
                (None, None, data, Some(name)) => (name.as_str(), data.is_some()),
                _ => continue,
            };
            current.v2_access.get_or_insert(v2);
            let position = locator.find_after(&found[0], Some((current.line, current.column)));
            let (line, column) =
                if position.0 == 0 { (current.line, current.column) } else { position };
            current.keys.push(KeyUse { key: name.to_string(), line, column });
        }
    }
    references
}

/// Checks every secret `job_source` reads against Vault; `file` names the job file in
/// annotations. `None` (Vault not configured) skips the check.
pub async fn check_secrets(
    job_source: &str,
    file: &str,
    vault: Option<&VaultClient>,
) -> CheckResult {
    let Some(vault) = vault else {
        return CheckResult::skipped(SECRETS, "VAULT_ADDR is not set: secrets were not checked");
    };
    let references = match secret_references(job_source, file) {
        Ok(references) => references,
        Err(diagnostics) => {
            return CheckResult {
                name: SECRETS.into(),
                status: CheckStatus::Failure,
                summary: format!("{file} could not be read as a Nomad job"),
                annotations: diagnostics,
            }
        }
    };
    if references.is_empty() {
        return CheckResult {
            name: SECRETS.into(),
            status: CheckStatus::Success,
            summary: format!("{file} reads no Vault secrets"),
            annotations: Vec::new(),
        };
    }
    if let Err(err) = vault.lookup_self().await {
        let why = match err {
            VaultError::PermissionDenied { .. } => format!(
                "Vault at {} refused the token (expired, revoked or invalid): renew VAULT_TOKEN; \
                 secrets were not checked",
                vault.address()
            ),
            other => format!("{other}; secrets were not checked"),
        };
        return CheckResult::skipped(SECRETS, why);
    }
    let mut annotations = Vec::new();
    let mut mounts: BTreeMap<String, Option<Mount>> = BTreeMap::new();
    for reference in &references {
        match check_reference(vault, reference, file, &mut mounts).await {
            Ok(found) => annotations.extend(found),
            Err(VaultError::Unreachable { address, reason, tries }) => {
                return CheckResult::skipped(
                    SECRETS,
                    format!(
                        "cannot reach Vault at {address}{tries} ({reason}); secrets were not \
                         checked"
                    ),
                );
            }
            Err(err) => annotations.push(Diagnostic::error(
                file,
                reference.line,
                reference.column,
                format!("{}: {err}", reference.path),
            )),
        }
    }
    let errors =
        annotations.iter().filter(|d| d.severity == crate::jobspec::Severity::Error).count();
    let count = references.len();
    let plural = if count == 1 { "" } else { "s" };
    let (status, summary) = if errors == 0 {
        (
            CheckStatus::Success,
            format!("{count} Vault secret reference{plural} checked; all readable"),
        )
    } else {
        (
            CheckStatus::Failure,
            format!("{count} Vault secret reference{plural} checked; {errors} problem(s) found"),
        )
    };
    CheckResult { name: SECRETS.into(), status, summary, annotations }
}

async fn check_reference(
    vault: &VaultClient,
    reference: &SecretReference,
    file: &str,
    mounts: &mut BTreeMap<String, Option<Mount>>,
) -> Result<Vec<Diagnostic>, VaultError> {
    let (line, column) = (reference.line, reference.column);
    let error = |message: String| Diagnostic::error(file, line, column, message);
    let path = reference.path.trim_matches('/').to_string();
    if path.contains("${") || path.contains("{{") || path.is_empty() {
        let note = format!("{path} is filled in at run time: not checked");
        return Ok(vec![Diagnostic::warning(file, line, column, note)]);
    }
    // Mounts can nest (`secret/` and `secret/team/`), so a cached one is reused only for the
    // same path; different paths under one mount cost one small call each.
    let mount = match mounts.get(&path) {
        Some(mount) => mount.clone(),
        None => {
            let mount = vault.mount_of(&path).await?;
            mounts.insert(path.clone(), mount.clone());
            mount
        }
    };
    let kv = match mount {
        None => return Ok(vec![error(format!("no secrets engine is mounted at {path} in Vault"))]),
        Some(Mount::Other { path: mount, kind }) => {
            let note = format!("{path} is on a `{kind}` engine ({mount}), not KV: not checked");
            return Ok(vec![Diagnostic::warning(file, line, column, note)]);
        }
        Some(Mount::Kv(kv)) => kv,
    };
    let inner = path.strip_prefix(kv.path.as_str()).unwrap_or_default().to_string();
    let mut found = Vec::new();
    // The path the template reads, and the secret's path relative to the mount.
    let (data_path, relative) = match (kv.version, inner.strip_prefix("data/")) {
        _ if reference.secret_block => {
            let data = if kv.version == 2 { "data/" } else { "" };
            (format!("{}{data}{inner}", kv.path), inner.clone())
        }
        (2, Some(relative)) => (path.clone(), relative.to_string()),
        (2, None) => {
            let fixed = format!("{}data/{inner}", kv.path);
            found.push(error(format!(
                "{path} is on the KV v2 mount {}: templates read `{fixed}` (with `data/`)",
                kv.path
            )));
            (fixed, inner.clone())
        }
        (_, Some(relative)) => {
            // On KV v1 `data/` is an ordinary folder name; only call it a v2 path when the
            // secret is not there but is without it.
            if !matches!(presence(vault, &kv, &inner).await?, Presence::Live(_))
                && matches!(presence(vault, &kv, relative).await?, Presence::Live(_))
            {
                let fixed = format!("{}{relative}", kv.path);
                found.push(error(format!(
                    "{path} is a KV v2 path, but {} is a KV v1 mount: use `{fixed}`",
                    kv.path
                )));
                (fixed, relative.to_string())
            } else {
                (path.clone(), inner.clone())
            }
        }
        (_, None) => (path.clone(), inner.clone()),
    };
    match (kv.version, reference.v2_access) {
        (2, Some(false)) => found.push(error(format!(
            "{path} is KV v2: its keys are under `.Data.data` (`.Data.data.KEY`), not `.Data.KEY`"
        ))),
        (1, Some(true)) => found.push(error(format!(
            "{} is a KV v1 mount: keys are under `.Data` (`.Data.KEY`), not `.Data.data.KEY`",
            kv.path
        ))),
        _ => {}
    }
    let presence = presence(vault, &kv, &relative).await?;
    match &presence {
        Presence::Live(_) => {}
        Presence::Deleted => found.push(error(format!(
            "the current version of {data_path} is deleted or destroyed: reading it gives nothing"
        ))),
        Presence::Missing => {
            found.push(error(format!("secret {data_path} does not exist in Vault")))
        }
        Presence::Unknown => found.push(Diagnostic::warning(
            file,
            line,
            column,
            format!("cannot tell whether {data_path} exists: the token may not list its folder"),
        )),
    }
    let capabilities = vault.capabilities(&data_path).await?;
    let readable = capabilities.iter().any(|c| c == "read" || c == "root");
    if !readable {
        let has =
            if capabilities.is_empty() { "none".to_string() } else { capabilities.join(", ") };
        found.push(error(format!(
            "the Vault token cannot read {data_path} (its capabilities there: {has})"
        )));
    }
    let declared = match &presence {
        // A missing or deleted secret has no keys to speak of; its own error says so.
        Presence::Missing | Presence::Deleted => return Ok(found),
        Presence::Live(custom_metadata) => declared_keys(custom_metadata),
        Presence::Unknown => None,
    };
    let how_to = match (&presence, kv.version) {
        (_, 1) => format!(
            "{} is a KV v1 mount, which keeps no metadata; on KV v2 a secret can declare its keys \
             in its custom metadata (`{KEYS_METADATA}`)",
            kv.path
        ),
        (Presence::Unknown, _) => format!(
            "the token may not read the secret's metadata, where its keys can be declared \
             (`{KEYS_METADATA}`)"
        ),
        _ => {
            let mut names: Vec<&str> = Vec::new();
            for key in &reference.keys {
                if !names.contains(&key.key.as_str()) {
                    names.push(&key.key);
                }
            }
            format!(
                "to make it verifiable, list the secret's keys in its custom metadata: \
                 `vault kv metadata patch -custom-metadata={KEYS_METADATA}={} -mount={} {relative}`",
                names.join(","),
                kv.name()
            )
        }
    };
    found.extend(key_findings(&reference.keys, &data_path, declared.as_deref(), &how_to, file));
    Ok(found)
}

/// The key names `custom_metadata` declares under [`KEYS_METADATA`], in their order, without
/// surrounding blanks, empty items or repeats; `None` when the secret declares nothing.
pub fn declared_keys(custom_metadata: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let list = custom_metadata.get(KEYS_METADATA)?;
    let mut keys: Vec<String> = Vec::new();
    for key in list.split(',').map(str::trim).filter(|key| !key.is_empty()) {
        if !keys.iter().any(|known| known == key) {
            keys.push(key.to_string());
        }
    }
    Some(keys)
}

/// Findings for the keys a job reads from one secret: each one the declaration does not list
/// is an error; without a declaration each is a warning ending with `how_to`.
fn key_findings(
    keys: &[KeyUse],
    data_path: &str,
    declared: Option<&[String]>,
    how_to: &str,
    file: &str,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for key in keys {
        let (line, column, name) = (key.line, key.column, key.key.as_str());
        let Some(declared) = declared else {
            found.push(Diagnostic::warning(
                file,
                line,
                column,
                format!(
                    "key `{name}` of {data_path} is not verifiable without reading the secret, \
                     and nomad-spec never reads secret values; {how_to}"
                ),
            ));
            continue;
        };
        if declared.iter().any(|known| known == name) {
            continue;
        }
        let mut message = if declared.is_empty() {
            format!(
                "key `{name}` is not in {data_path} (its metadata declares no keys: \
                 `{KEYS_METADATA}` lists none)"
            )
        } else {
            format!(
                "key `{name}` is not in {data_path} (its metadata declares: {})",
                declared.join(", ")
            )
        };
        if let Some(meant) = meant(name, declared) {
            message.push_str(&format!("; did you mean `{meant}`?"));
        }
        found.push(Diagnostic::error(file, line, column, message));
    }
    found
}

/// The declared key a job probably meant: one a typo away (`pasword`), or the same name
/// shortened or lengthened (`pass` for `password`), which edit distance alone cannot tell
/// from an unrelated name (`pass` is as far from `password` as `user` is).
fn meant<'a>(name: &str, declared: &'a [String]) -> Option<&'a str> {
    let names: Vec<&'a str> = declared.iter().map(String::as_str).collect();
    if let Some(close) = closest(name, &names) {
        return Some(close);
    }
    let wanted = name.to_ascii_lowercase();
    names
        .into_iter()
        .filter(|known| {
            let known = known.to_ascii_lowercase();
            let (short, long) =
                if known.len() < wanted.len() { (&known, &wanted) } else { (&wanted, &known) };
            short.len() >= 3 && (long.starts_with(short.as_str()) || long.ends_with(short.as_str()))
        })
        .min_by_key(|known| (known.len().abs_diff(name.len()), *known))
}

/// What KV v2 metadata or a KV v1 folder listing says about a secret.
enum Presence {
    /// It exists, with its custom metadata (always empty on KV v1).
    Live(BTreeMap<String, String>),
    /// KV v2: its current version was deleted or destroyed.
    Deleted,
    /// No secret at that path.
    Missing,
    /// The token may not look.
    Unknown,
}

/// Whether a secret exists: KV v2 by its metadata (one read, which also brings its custom
/// metadata), KV v1 by the list of its folder.
async fn presence(
    vault: &VaultClient,
    kv: &KvMount,
    relative: &str,
) -> Result<Presence, VaultError> {
    let answer = if kv.version == 2 {
        vault.metadata(kv, relative).await.map(|meta| match meta {
            None => Presence::Missing,
            Some(meta) if meta.current_deleted => Presence::Deleted,
            Some(meta) => Presence::Live(meta.custom_metadata),
        })
    } else {
        let (folder, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        vault.list(kv, folder).await.map(|names| {
            if names.iter().any(|n| n == name) {
                Presence::Live(BTreeMap::new())
            } else {
                Presence::Missing
            }
        })
    };
    match answer {
        Err(VaultError::PermissionDenied { .. }) => Ok(Presence::Unknown),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"job "shop" {
  group "web" {
    task "web" {
      driver = "docker"
      config {
        image = "shop:1"
      }
      template {
        data        = <<EOT
{{ with secret "kv/data/shop/db" }}
DB_PASSWORD={{ .Data.data.password }}
DB_USER={{ index .Data.data "user" }}
{{ end }}
API={{ with secret "secret/api" }}{{ .Data.token }}{{ end }}
EOT
        destination = "secrets/app.env"
        env         = true
      }
      secret "cache" {
        provider = "vault"
        path     = "kv/shop/cache"
      }
    }
  }
}
"#;

    #[test]
    fn references_carry_their_lines() {
        let found = secret_references(JOB, "shop.nomad.hcl").unwrap();
        let table: Vec<String> = found
            .iter()
            .map(|r| {
                let keys: Vec<String> =
                    r.keys.iter().map(|k| format!("{}@{}:{}", k.key, k.line, k.column)).collect();
                format!(
                    "{}@{}:{} v2={:?} block={} [{}]",
                    r.path,
                    r.line,
                    r.column,
                    r.v2_access,
                    r.secret_block,
                    keys.join(" ")
                )
            })
            .collect();
        insta::assert_snapshot!(table.join("\n"), @r#"
        kv/data/shop/db@10:17 v2=Some(true) block=false [password@11:16 user@12:12]
        secret/api@14:21 v2=Some(false) block=false [token@14:38]
        kv/shop/cache@21:21 v2=None block=true []
        "#);
    }

    #[test]
    fn custom_delimiters_are_followed() {
        let job = JOB
            .replace(
                "data        = <<EOT",
                "left_delimiter = \"[[\"\n right_delimiter = \"]]\"\n data = <<EOT",
            )
            .replace(
                "{{ with secret \"kv/data/shop/db\" }}",
                "[[ with secret \"kv/data/shop/db\" ]]",
            );
        let found = secret_references(&job, "f").unwrap();
        let paths: Vec<&str> = found.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["kv/data/shop/db", "kv/shop/cache"]);
    }

    #[test]
    fn declared_keys_are_read_from_the_named_entry_only() {
        let custom = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let declared = declared_keys(&custom(&[(KEYS_METADATA, " user ,password,,user, ")]));
        assert_eq!(declared, Some(vec!["user".to_string(), "password".to_string()]));
        assert_eq!(declared_keys(&custom(&[(KEYS_METADATA, " , ")])), Some(Vec::new()));
        assert_eq!(declared_keys(&custom(&[("keys", "user")])), None);
        assert_eq!(declared_keys(&BTreeMap::new()), None);
    }

    #[test]
    fn the_meant_key_is_a_typo_or_an_abbreviation_away() {
        let declared = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(meant("password", &declared(&["user", "pass"])), Some("pass"));
        assert_eq!(meant("pasword", &declared(&["user", "password"])), Some("password"));
        assert_eq!(meant("Password", &declared(&["password"])), Some("password"));
        assert_eq!(meant("user", &declared(&["username", "user_id"])), Some("user_id"));
        assert_eq!(meant("db_password", &declared(&["password", "host"])), Some("password"));
        assert_eq!(meant("token", &declared(&["user", "password"])), None);
        // Two letters in common say nothing.
        assert_eq!(meant("pw", &declared(&["pwd_hash"])), None);
    }

    #[test]
    fn key_findings_follow_the_declaration() {
        let keys = [
            KeyUse { key: "user".into(), line: 3, column: 5 },
            KeyUse { key: "password".into(), line: 4, column: 9 },
        ];
        let declared = vec!["user".to_string(), "host".to_string()];
        let found = key_findings(&keys, "kv/data/shop/db", Some(&declared), "unused", "f.hcl");
        let text: Vec<String> = found.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            ["f.hcl:4:9: error: key `password` is not in kv/data/shop/db (its metadata declares: \
              user, host)"]
        );
        let found = key_findings(&keys, "kv/data/shop/db", Some(&[]), "unused", "f.hcl");
        assert_eq!(found.len(), 2, "an empty declaration lists no key: {found:?}");
        assert!(found[0].message.contains("`nomad-spec/keys` lists none"), "{found:?}");
        let found = key_findings(&keys, "kv/data/shop/db", None, "declare them", "f.hcl");
        assert!(found.iter().all(|d| d.severity == crate::jobspec::Severity::Warning), "{found:?}");
        assert!(found.iter().all(|d| d.message.ends_with("; declare them")), "{found:?}");
    }

    #[test]
    fn a_file_that_is_not_a_job_gives_its_diagnostics() {
        let err = secret_references("job \"x\" {", "bad.hcl").unwrap_err();
        assert!(err.iter().all(|d| d.file == "bad.hcl"), "{err:?}");
    }
}
