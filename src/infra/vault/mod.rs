//! Vault, read for metadata only: who the token is, which KV mounts exist, which secret paths
//! exist and whether the token may read them.
//!
//! This module owns the Vault client (configured like the `vault` command line from
//! `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_NAMESPACE` and `VAULT_CACERT`), the secret suggestions
//! for an analysis ([`suggest`]) and the `nomad-spec/secrets` check of a job file
//! ([`check`]). It does not render templates (that is `jobspec::build`).
//!
//! **Never secret data.** The tool must not be able to leak what it never read, so no call
//! here requests a secret's value: KV v2 is only touched under `<mount>/metadata/`, KV v1 only
//! with `LIST`, and readability comes from `sys/capabilities-self`. The consequence is
//! deliberate: Vault itself never says which *keys* (`password` in `kv/data/shop/db`) a secret
//! holds without handing over their values. KV v2 metadata (`current_version`, `versions`,
//! timestamps) carries no key names, and KV v1 has no metadata at all.
//!
//! **Declared keys.** What Vault does not say, a team can declare. A KV v2 secret may list
//! its key names in its `custom_metadata`, under the entry [`KEYS_METADATA`]
//! (`nomad-spec/keys = "user,password"`, set with `vault kv metadata patch
//! -custom-metadata=nomad-spec/keys=user,password -mount=kv shop/db`). nomad-spec never guesses
//! key names from free-form custom metadata; this one entry, named for nomad-spec and written
//! on purpose per secret, is a declaration, not a guess, and the secrets check holds the job
//! file to it: a key the job reads that the declaration does not list is an error. The check
//! compares the job file with the declaration, not with the secret: keeping the declaration
//! true is the team's part. Without the entry (or on KV v1) each key is a warning, "not
//! verifiable without reading the secret", that says how to declare the keys.
//!
//! vaultrs is used for the calls it has (token lookup-self, KV v2 metadata read and list,
//! KV v1 list); the two it lacks (`sys/capabilities-self`, `sys/internal/ui/mounts`, and
//! `sys/mounts` read as plain JSON) go through the same reqwest client vaultrs built, with
//! the same headers. Every call only reads, so each is tried again under the retry policy
//! every client shares (`crate::http::retry`) when Vault failed or refused it for a while.

pub mod check;
pub mod enrich;
pub mod suggest;

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;
use vaultrs::client::{VaultClient as RawClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use crate::http::retry::{self, Repeat, Transience, Tries};
use crate::http::{shown_address, Redactor};
use crate::settings::Settings;

pub use check::{check_secrets, KEYS_METADATA};
pub use suggest::{suggest_secrets, SecretListing, SecretSuggestion, VaultConventions};

/// What went wrong talking to Vault; the secrets check picks skip or failure by kind.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A `VAULT_*` setting is unusable (bad address, unreadable CA file).
    #[error("invalid Vault setting: {0}")]
    Config(String),
    /// No connection, or no answer in time.
    #[error("cannot reach Vault at {address}{tries}: {reason}")]
    Unreachable { address: String, reason: String, tries: Tries },
    /// 403: the token is invalid, expired, or lacks a policy for the call.
    #[error(
        "Vault denied {what}: permission denied (the token is invalid, expired or lacks a policy)"
    )]
    PermissionDenied { what: String },
    /// Any other error status, with Vault's own messages.
    #[error("Vault answered {status} to {what}{tries}: {errors}")]
    Server { status: u16, what: String, errors: String, tries: Tries },
    /// A success status with a body that is not the expected JSON.
    #[error("Vault sent a response to {what} that nomad-spec cannot read: {detail}")]
    BadResponse { what: String, detail: String },
}

pub use crate::settings::VaultSettings;

impl VaultError {
    /// The same error, saying how many tries it took.
    fn after(mut self, made: Tries) -> VaultError {
        if let VaultError::Unreachable { tries, .. } | VaultError::Server { tries, .. } = &mut self
        {
            *tries = made;
        }
        self
    }
}

/// The token's own view of itself (`auth/token/lookup-self`), without the token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// Display name (`token`, `approle`, ...).
    pub display_name: String,
    /// Policies attached to the token and its identity.
    pub policies: Vec<String>,
    /// Seconds left; 0 for a token that never expires.
    pub ttl: u64,
    /// RFC 3339 expiry, absent for a token that never expires.
    pub expire_time: Option<String>,
}

/// A KV secrets engine mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMount {
    /// Mount path with its trailing slash (`kv/`).
    pub path: String,
    /// 1 or 2.
    pub version: u8,
}

impl KvMount {
    /// The mount path without its trailing slash, as vaultrs wants it.
    fn name(&self) -> &str {
        self.path.trim_end_matches('/')
    }
}

/// A mount that is not a KV engine (`pki/`, `database/`), found where a secret was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A KV engine.
    Kv(KvMount),
    /// Another engine; its type (`pki`, `transit`, ...).
    Other { path: String, kind: String },
}

/// KV v2 metadata of one secret (`<mount>/metadata/<path>`): versions, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMetadata {
    /// The version a plain read returns.
    pub current_version: u64,
    /// That version was deleted or destroyed: reading it gives nothing.
    pub current_deleted: bool,
    /// The secret's `custom_metadata` (string to string, set by people; empty when unset).
    pub custom_metadata: BTreeMap<String, String>,
}

/// A Vault client that reads metadata only.
pub struct VaultClient {
    raw: RawClient,
    settings: VaultSettings,
    /// The address as it may be shown (without a password).
    shown: String,
    /// The token and the address's password, cut out of what Vault sends back.
    redactor: Redactor,
}

impl VaultClient {
    /// A client when `settings` set `VAULT_ADDR`; `Ok(None)` when Vault is not configured.
    pub fn configured(settings: &Settings) -> Result<Option<VaultClient>, VaultError> {
        let typed = settings.vault().map_err(|err| VaultError::Config(err.to_string()))?;
        typed.map(VaultClient::new).transpose()
    }

    /// A client for these settings.
    pub fn new(settings: VaultSettings) -> Result<VaultClient, VaultError> {
        crate::tls::install_crypto_provider();
        let mut builder = VaultClientSettingsBuilder::default();
        // Every field is set explicitly: vaultrs's defaults read the process environment, and
        // this client must see only the settings it was given.
        builder
            .address(settings.address.as_str())
            .token(settings.token.as_ref().map(|t| t.as_str().to_string()).unwrap_or_default())
            .namespace(settings.namespace.clone())
            .ca_certs(settings.ca_cert.iter().map(|p| p.display().to_string()).collect())
            .identity(None)
            .verify(true)
            .timeout(Some(settings.calls.request_timeout));
        let raw_settings = builder.build().map_err(|err| VaultError::Config(err.to_string()))?;
        let raw = RawClient::new(raw_settings).map_err(|err| match err {
            ClientError::FileReadError { path, .. } | ClientError::FileNotFoundError { path } => {
                VaultError::Config(format!("VAULT_CACERT `{path}` cannot be read"))
            }
            other => VaultError::Config(format!("VAULT_CACERT: {other}")),
        })?;
        let shown = shown_address(settings.address.as_str());
        let redactor = Redactor::default()
            .with(settings.token.as_ref())
            .with_address(settings.address.as_str());
        Ok(VaultClient { raw, settings, shown, redactor })
    }

    /// The address this client talks to, as it may be shown (without a password).
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// Sends tries of one read under the retry policy.
    async fn retried<T, Fut>(&self, attempt: impl FnMut() -> Fut) -> Result<T, VaultError>
    where
        Fut: Future<Output = Result<T, (VaultError, Transience)>>,
    {
        let policy = self.settings.calls.retry;
        let out_of_time = || VaultError::Unreachable {
            address: self.shown.clone(),
            reason: retry::no_answer_within(&policy),
            tries: Tries::default(),
        };
        let (result, tries) = retry::call(&policy, Repeat::Safe, attempt, out_of_time).await;
        result.map_err(|err| err.after(tries))
    }

    /// `GET auth/token/lookup-self`: is the token valid, and what is it.
    /// <https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self>
    pub async fn lookup_self(&self) -> Result<TokenInfo, VaultError> {
        if self.settings.token.is_none() {
            return Err(VaultError::Config("VAULT_TOKEN is not set".into()));
        }
        let what = "the token lookup (auth/token/lookup-self)";
        let token = self
            .retried(|| async {
                vaultrs::token::lookup_self(&self.raw).await.map_err(|err| self.error(err, what))
            })
            .await?;
        let mut policies = token.policies;
        policies.extend(token.identity_policies.unwrap_or_default());
        Ok(TokenInfo {
            display_name: token.display_name,
            policies,
            ttl: token.ttl,
            expire_time: token.expire_time,
        })
    }

    /// The mount holding `path` (`kv/data/shop/db` → `kv/`, version 2); `None` when no
    /// engine is mounted there. Asks `sys/internal/ui/mounts/<path>` (readable by any token
    /// with access below the mount) and falls back to `sys/mounts`.
    /// <https://developer.hashicorp.com/vault/api-docs/system/internal-ui-mounts>
    pub async fn mount_of(&self, path: &str) -> Result<Option<Mount>, VaultError> {
        let path = path.trim_matches('/');
        let what = format!("the mount lookup of {path}");
        match self.raw_get(&format!("sys/internal/ui/mounts/{path}"), &what).await {
            Ok(Some(body)) => {
                if let Some(mount) = body.get("data").and_then(|data| mount_from(data, None)) {
                    return Ok(Some(mount));
                }
            }
            // Not found, or a Vault without this endpoint: sys/mounts knows the same.
            Ok(None) | Err(VaultError::PermissionDenied { .. } | VaultError::Server { .. }) => {}
            Err(other) => return Err(other),
        }
        // https://developer.hashicorp.com/vault/api-docs/system/mounts#list-mounted-secrets-engines
        let body = self.raw_get("sys/mounts", "the list of mounts (sys/mounts)").await?;
        let Some(body) = body else { return Ok(None) };
        let mounts = body.get("data").and_then(Value::as_object).or_else(|| body.as_object());
        let best = mounts.into_iter().flatten().filter_map(|(mount, info)| {
            let prefix = mount.trim_end_matches('/');
            let inside = path == prefix || path.starts_with(&format!("{prefix}/"));
            (inside && info.is_object()).then_some((mount, info))
        });
        let longest = best.max_by_key(|(mount, _)| mount.len());
        Ok(longest.and_then(|(mount, info)| mount_from(info, Some(mount))))
    }

    /// `POST sys/capabilities-self`: what the token may do on `path` (`read`, `list`, `deny`,
    /// `root`, ...).
    /// <https://developer.hashicorp.com/vault/api-docs/system/capabilities-self>
    pub async fn capabilities(&self, path: &str) -> Result<Vec<String>, VaultError> {
        let path = path.trim_matches('/');
        let what = format!("the capability lookup of {path} (sys/capabilities-self)");
        let body = serde_json::json!({ "paths": [path] });
        let request = || self.request(reqwest::Method::POST, "sys/capabilities-self").json(&body);
        let answer = self.send(request, &what).await?;
        let Some(answer) = answer else {
            return Err(VaultError::BadResponse { what, detail: "404 Not Found".into() });
        };
        // The answer repeats each path as a key; older Vaults also send `capabilities`.
        let list = answer
            .get(path)
            .or_else(|| answer.get("data").and_then(|data| data.get(path)))
            .or_else(|| answer.get("capabilities"))
            .and_then(Value::as_array)
            .ok_or_else(|| VaultError::BadResponse {
                what: what.clone(),
                detail: format!("no capabilities listed for {path}"),
            })?;
        Ok(list.iter().filter_map(Value::as_str).map(str::to_string).collect())
    }

    /// KV v2 `GET <mount>/metadata/<path>`: versions and custom metadata of a secret, never its
    /// data; `None` when the path holds no secret.
    /// <https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-metadata>
    pub async fn metadata(
        &self,
        mount: &KvMount,
        path: &str,
    ) -> Result<Option<SecretMetadata>, VaultError> {
        let what = format!("the metadata of {}metadata/{path}", mount.path);
        let read = || async {
            match vaultrs::kv2::read_metadata(&self.raw, mount.name(), path).await {
                Ok(meta) => Ok(Some(meta)),
                Err(ClientError::APIError { code: 404, .. }) => Ok(None),
                Err(err) => Err(self.error(err, &what)),
            }
        };
        match self.retried(read).await? {
            Some(meta) => {
                let current = meta.versions.get(&meta.current_version.to_string());
                let current_deleted = current
                    .is_some_and(|version| version.destroyed || !version.deletion_time.is_empty());
                Ok(Some(SecretMetadata {
                    current_version: meta.current_version,
                    current_deleted,
                    custom_metadata: meta.custom_metadata.unwrap_or_default().into_iter().collect(),
                }))
            }
            None => Ok(None),
        }
    }

    /// The names in a folder: KV v2 `LIST <mount>/metadata/<folder>`, KV v1
    /// `LIST <mount>/<folder>`; folders end in `/`. Empty when the folder does not exist.
    /// <https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#list-secrets>
    /// <https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1#list-secrets>
    pub async fn list(&self, mount: &KvMount, folder: &str) -> Result<Vec<String>, VaultError> {
        let folder = folder.trim_matches('/');
        let what = if mount.version == 2 {
            format!("the list of {}metadata/{folder}", mount.path)
        } else {
            format!("the list of {}{folder}", mount.path)
        };
        let list = || async {
            let answer = if mount.version == 2 {
                vaultrs::kv2::list(&self.raw, mount.name(), folder).await
            } else {
                vaultrs::kv1::list(&self.raw, mount.name(), folder).await.map(|list| list.data.keys)
            };
            match answer {
                Ok(keys) => Ok(keys),
                Err(ClientError::APIError { code: 404, .. }) => Ok(Vec::new()),
                Err(err) => Err(self.error(err, &what)),
            }
        };
        self.retried(list).await
    }

    /// Every secret path below `folder` of a mount (relative to the mount), walking folders
    /// breadth-first; stops after `limit` paths so a huge Vault costs a bounded number of
    /// calls. Folders the token may not list are skipped.
    pub async fn list_all(
        &self,
        mount: &KvMount,
        folder: &str,
        limit: usize,
    ) -> Result<Vec<String>, VaultError> {
        let mut found = Vec::new();
        let mut folders = std::collections::VecDeque::from([folder.trim_matches('/').to_string()]);
        let mut first = true;
        while let Some(folder) = folders.pop_front() {
            if found.len() >= limit {
                break;
            }
            let names = match self.list(mount, &folder).await {
                Ok(names) => names,
                Err(VaultError::PermissionDenied { .. }) if !first => continue,
                Err(err) => return Err(err),
            };
            first = false;
            for name in names {
                let full =
                    if folder.is_empty() { name.clone() } else { format!("{folder}/{name}") };
                match full.strip_suffix('/') {
                    Some(sub) => folders.push_back(sub.to_string()),
                    None => found.push(full),
                }
            }
        }
        found.truncate(limit);
        found.sort();
        Ok(found)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let base = self.settings.address.as_str().trim_end_matches('/');
        let mut request = self.raw.http.http.request(method, format!("{base}/v1/{path}"));
        if let Some(token) = &self.settings.token {
            request = request.header("X-Vault-Token", token.as_str());
        }
        if let Some(namespace) = &self.settings.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        request
    }

    /// A GET through the shared client; `None` on 404.
    async fn raw_get(&self, path: &str, what: &str) -> Result<Option<Value>, VaultError> {
        self.send(|| self.request(reqwest::Method::GET, path), what).await
    }

    /// Sends the request `build` makes, under the retry policy; `None` on 404.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<Value>, VaultError> {
        self.retried(|| self.send_once(build(), what)).await
    }

    /// One try; a failure says what it means for trying again.
    async fn send_once(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<Value>, (VaultError, Transience)> {
        let unreachable = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            (self.unreachable(&err.without_url()), transience)
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let asked = retry::asked_wait_in(response.headers(), None);
        let text = response.text().await.map_err(unreachable)?;
        if status.as_u16() == 404 {
            return Ok(None);
        }
        if !status.is_success() {
            let errors = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|body| body.get("errors").and_then(Value::as_array).cloned())
                .map(|errors| errors.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let transience = retry::status_transience(status.as_u16(), asked);
            return Err((self.status_error(status.as_u16(), errors, what), transience));
        }
        let value = serde_json::from_str(&text).map(Some).map_err(|err| VaultError::BadResponse {
            what: what.to_string(),
            detail: err.to_string(),
        });
        value.map_err(|err| (err, Transience::Final))
    }

    fn unreachable(&self, err: &dyn std::error::Error) -> VaultError {
        VaultError::Unreachable {
            address: self.shown.clone(),
            reason: self.redactor.redact(&chain(err)),
            tries: Tries::default(),
        }
    }

    fn status_error(&self, status: u16, errors: Vec<String>, what: &str) -> VaultError {
        if status == 403 {
            VaultError::PermissionDenied { what: what.to_string() }
        } else {
            let errors = self.redactor.redact(&errors.join("; "));
            VaultError::Server { status, what: what.to_string(), errors, tries: Tries::default() }
        }
    }

    /// A vaultrs failure, and what it means for trying again.
    fn error(&self, err: ClientError, what: &str) -> (VaultError, Transience) {
        match err {
            ClientError::APIError { code, errors } => {
                (self.status_error(code, errors, what), retry::status_transience(code, None))
            }
            // An error status whose body is not Vault's `{"errors": [...]}` (a proxy's page, a
            // rate limit): vaultrs leaves it as rustify's.
            ClientError::RestClientError {
                source: rustify::errors::ClientError::ServerResponseError { code, content },
            } => {
                let said = content.as_deref().map(str::trim).unwrap_or_default();
                let errors = said.lines().next().map(str::to_string).into_iter().collect();
                (self.status_error(code, errors, what), retry::status_transience(code, None))
            }
            ClientError::RestClientError {
                source:
                    source @ (rustify::errors::ClientError::RequestError { .. }
                    | rustify::errors::ClientError::ResponseError { .. }),
            } => (self.unreachable(&source), retry::transport_transience(&source)),
            other => {
                let detail = self.redactor.redact(&chain(&other));
                (VaultError::BadResponse { what: what.to_string(), detail }, Transience::Final)
            }
        }
    }
}

/// An error and its causes, each after a colon; a URL in them is shown without its password.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// A mount from a mount description: `{"type": "kv", "path": "kv/", "options": {"version":
/// "2"}}`. `sys/mounts` keys mounts by path instead of carrying `path`.
fn mount_from(info: &Value, path: Option<&str>) -> Option<Mount> {
    let path = path.or_else(|| info.get("path").and_then(Value::as_str))?;
    let path = format!("{}/", path.trim_matches('/'));
    let kind = info.get("type").and_then(Value::as_str)?;
    // `generic` is the old name of KV v1.
    if kind != "kv" && kind != "generic" {
        return Some(Mount::Other { path, kind: kind.to_string() });
    }
    let version = info
        .get("options")
        .and_then(|options| options.get("version"))
        .and_then(|version| version.as_str().map(str::to_string).or(Some(version.to_string())));
    let version = if version.as_deref() == Some("2") { 2 } else { 1 };
    Some(Mount::Kv(KvMount { path, version }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_read_from_both_shapes() {
        let cases = [
            (r#"{"type":"kv","path":"kv/","options":{"version":"2"}}"#, None, "kv/", Some(2)),
            (r#"{"type":"kv","options":{"version":"1"}}"#, Some("secret/"), "secret/", Some(1)),
            (r#"{"type":"kv","options":null}"#, Some("old"), "old/", Some(1)),
            (r#"{"type":"generic"}"#, Some("legacy/"), "legacy/", Some(1)),
            (r#"{"type":"pki","path":"pki/"}"#, None, "pki/", None),
        ];
        for (json, path, want_path, want_version) in cases {
            let info: Value = serde_json::from_str(json).unwrap();
            match mount_from(&info, path) {
                Some(Mount::Kv(kv)) => {
                    assert_eq!((kv.path.as_str(), Some(kv.version)), (want_path, want_version))
                }
                Some(Mount::Other { path, .. }) => {
                    assert_eq!((path.as_str(), None), (want_path, want_version))
                }
                None => panic!("no mount from {json}"),
            }
        }
    }
}
