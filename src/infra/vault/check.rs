//! The `nomad-spec/secrets` check: every Vault secret a job file reads, checked against Vault
//! (the path exists, the token may read it, the path has the shape of its KV version), with
//! the job file's line and column on every finding.
//!
//! References are found in `template` blocks (`{{ with secret "kv/data/app/db" }}`,
//! `{{ secret "..." }}`, then `.Data.data.KEY`, `.Data.KEY` or `index .Data.data "KEY"`) and
//! in Nomad 1.11 `secret` blocks with the `vault` provider. Keys are never verified: that
//! would need the secret's value (see the module doc of [`super`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{KvMount, Mount, VaultClient, VaultError};
use crate::infra::{CheckResult, CheckStatus};
use crate::spec::parse::{parse_job_spec, ParseOptions};
use crate::spec::Diagnostic;

/// The check's name, as the PR bot posts it.
pub const SECRETS_CHECK: &str = "nomad-spec/secrets";

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
        return CheckResult::skipped(
            SECRETS_CHECK,
            "VAULT_ADDR is not set: secrets were not checked",
        );
    };
    let references = match secret_references(job_source, file) {
        Ok(references) => references,
        Err(diagnostics) => {
            return CheckResult {
                name: SECRETS_CHECK.into(),
                status: CheckStatus::Failure,
                summary: format!("{file} could not be read as a Nomad job"),
                annotations: diagnostics,
            }
        }
    };
    if references.is_empty() {
        return CheckResult {
            name: SECRETS_CHECK.into(),
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
        return CheckResult::skipped(SECRETS_CHECK, why);
    }
    let mut annotations = Vec::new();
    let mut mounts: BTreeMap<String, Option<Mount>> = BTreeMap::new();
    for reference in &references {
        match check_reference(vault, reference, file, &mut mounts).await {
            Ok(found) => annotations.extend(found),
            Err(VaultError::Unreachable { address, reason }) => {
                return CheckResult::skipped(
                    SECRETS_CHECK,
                    format!("cannot reach Vault at {address} ({reason}); secrets were not checked"),
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
    let errors = annotations.iter().filter(|d| d.severity == crate::spec::Severity::Error).count();
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
    CheckResult { name: SECRETS_CHECK.into(), status, summary, annotations }
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
            if exists(vault, &kv, &inner).await? != Some(true)
                && exists(vault, &kv, relative).await? == Some(true)
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
    match exists(vault, &kv, &relative).await? {
        Some(true) => {}
        Some(false) if kv.version == 2 && deleted(vault, &kv, &relative).await? => {
            found.push(error(format!(
                "the current version of {data_path} is deleted or destroyed: reading it gives \
                 nothing"
            )));
        }
        Some(false) => found.push(error(format!("secret {data_path} does not exist in Vault"))),
        None => found.push(Diagnostic::warning(
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
    for key in &reference.keys {
        found.push(Diagnostic::warning(
            file,
            key.line,
            key.column,
            format!(
                "key `{}` of {data_path} is not verifiable without reading the secret; \
                 nomad-spec never reads secret values",
                key.key
            ),
        ));
    }
    Ok(found)
}

/// Whether a secret exists: KV v2 by its metadata (a live current version), KV v1 by the
/// list of its folder. `None` when the token may not look.
async fn exists(
    vault: &VaultClient,
    kv: &KvMount,
    relative: &str,
) -> Result<Option<bool>, VaultError> {
    let answer = if kv.version == 2 {
        vault.metadata(kv, relative).await.map(|meta| meta.is_some_and(|m| !m.current_deleted))
    } else {
        let (folder, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        vault.list(kv, folder).await.map(|names| names.iter().any(|n| n == name))
    };
    match answer {
        Ok(found) => Ok(Some(found)),
        Err(VaultError::PermissionDenied { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn deleted(vault: &VaultClient, kv: &KvMount, relative: &str) -> Result<bool, VaultError> {
    match vault.metadata(kv, relative).await {
        Ok(meta) => Ok(meta.is_some_and(|m| m.current_deleted)),
        Err(VaultError::PermissionDenied { .. }) => Ok(false),
        Err(err) => Err(err),
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
    fn a_file_that_is_not_a_job_gives_its_diagnostics() {
        let err = secret_references("job \"x\" {", "bad.hcl").unwrap_err();
        assert!(err.iter().all(|d| d.file == "bad.hcl"), "{err:?}");
    }
}
