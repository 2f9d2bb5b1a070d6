//! A stateful fake of Vault's HTTP API: tokens, KV mounts (v1 and v2), secret metadata (with
//! custom metadata) and folder listings, and capabilities, in the JSON shapes of Vault's API
//! docs.
//!
//! Its purpose beyond answering: **catching secret reads**. Any request for secret data
//! (`GET <mount>/data/...` on KV v2, a plain `GET <mount>/<path>` on KV v1) is recorded, and
//! tests assert `secret_reads() == 0`. Errors use Vault's shape `{"errors": ["..."]}`.

use crate::server::LoopbackServer;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The marker a fake secret value carries, so a test can prove no output contains one.
pub const SECRET_VALUE: &str = "FAKE-VAULT-SECRET-VALUE";

/// What the fake Vault holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultState {
    /// Tokens by their value.
    pub tokens: BTreeMap<String, TokenState>,
    /// KV mounts by path with a trailing slash (`kv/`).
    pub mounts: BTreeMap<String, MountState>,
    /// Secrets by mount and path (`kv/shop/db`, no `data/`).
    pub secrets: BTreeMap<String, SecretState>,
    /// KV v2 `custom_metadata` by secret (`kv/shop/db`), as `vault kv metadata put
    /// -custom-metadata=K=V` sets it; a secret without an entry has none (`null`).
    pub custom_metadata: BTreeMap<String, BTreeMap<String, String>>,
    /// Folders (`kv/shop`) where LIST answers 403 while reads of their secrets still work.
    pub list_denied: Vec<String>,
    /// Answer 404 on `sys/internal/ui/mounts` like a Vault older than 0.10.
    pub no_ui_mounts: bool,
}

/// One token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenState {
    pub policies: Vec<String>,
    /// Seconds left; 0 never expires.
    pub ttl: u64,
    /// Expired tokens are refused with 403, as Vault refuses a revoked token.
    pub expired: bool,
    /// Secret paths (data paths, `kv/data/shop/db`) or prefixes ending in `*` this token may
    /// read; `*` alone for all.
    pub read: Vec<String>,
}

/// One KV mount.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountState {
    /// 1 or 2.
    pub version: u8,
}

/// One secret: its keys (names only matter; values are the marker) and versions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretState {
    pub keys: Vec<String>,
    /// KV v2 versions, 1 when unset.
    pub current_version: u64,
    /// The current version was deleted (KV v2).
    pub deleted: bool,
}

struct Shared {
    state: VaultState,
    secret_reads: Mutex<Vec<String>>,
    requests: Mutex<Vec<String>>,
    namespaces: Mutex<Vec<String>>,
}

impl Shared {
    fn namespaces(&self) -> MutexGuard<'_, Vec<String>> {
        self.namespaces.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn reads(&self) -> MutexGuard<'_, Vec<String>> {
        self.secret_reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn requests(&self) -> MutexGuard<'_, Vec<String>> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake Vault; stops when dropped.
pub struct FakeVault {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl FakeVault {
    /// Starts a fake Vault on a free loopback port.
    pub fn start(state: VaultState) -> anyhow::Result<FakeVault> {
        FakeVault::start_on("127.0.0.1:0", state)
    }

    /// Starts a fake Vault on the given address.
    pub fn start_on(listen: &str, state: VaultState) -> anyhow::Result<FakeVault> {
        let shared = Arc::new(Shared {
            state,
            secret_reads: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            namespaces: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let server = LoopbackServer::start(listen, app, "fake Vault")?;
        Ok(FakeVault { server, shared })
    }

    /// The URL to put in `VAULT_ADDR`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// How many requests asked for secret data; every test asserts 0.
    pub fn secret_reads(&self) -> usize {
        self.shared.reads().len()
    }

    /// The secret data paths that were requested.
    pub fn secret_read_paths(&self) -> Vec<String> {
        self.shared.reads().clone()
    }

    /// The `X-Vault-Namespace` header of every request, in order (empty when absent).
    pub fn namespaces(&self) -> Vec<String> {
        self.shared.namespaces().clone()
    }

    /// Every request as `METHOD /v1/path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests().clone()
    }
}

fn errors(status: StatusCode, messages: &[&str]) -> Response {
    (status, Json(json!({ "errors": messages }))).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// Vault's response envelope around `data`, as every secret and auth endpoint answers.
/// <https://developer.hashicorp.com/vault/api-docs#http-status-codes> (response format)
fn envelope(data: Value) -> Response {
    ok(json!({
        "request_id": "fake-request", "lease_id": "", "renewable": false, "lease_duration": 0,
        "data": data, "wrap_info": null, "warnings": null, "auth": null
    }))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or("");
    shared.requests().push(format!("{method} {}", uri));
    let namespace = headers.get("x-vault-namespace").and_then(|v| v.to_str().ok());
    shared.namespaces().push(namespace.unwrap_or_default().to_string());
    let Some(path) = uri.path().strip_prefix("/v1/") else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let path = path.trim_end_matches('/').to_string();
    let state = &shared.state;
    // https://developer.hashicorp.com/vault/api-docs#authentication: a missing, unknown or
    // expired token gets 403 with "permission denied".
    let token = headers
        .get("x-vault-token")
        .and_then(|value| value.to_str().ok())
        .and_then(|token| state.tokens.get(token))
        .filter(|token| !token.expired);
    let Some(token) = token else {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    };
    let list = method.as_str() == "LIST" || query.split('&').any(|pair| pair == "list=true");
    match (method.as_str(), path.as_str()) {
        // https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self
        ("GET", "auth/token/lookup-self") => envelope(json!({
                "accessor": "fake-accessor", "creation_time": 1700000000, "creation_ttl": token.ttl,
                "display_name": "token", "entity_id": "", "expire_time": if token.ttl > 0 {
                    json!("2030-01-01T00:00:00Z") } else { Value::Null },
                "explicit_max_ttl": 0, "id": "fake-token-id", "identity_policies": [],
                "issue_time": "2026-01-01T00:00:00Z", "meta": null, "num_uses": 0,
                "orphan": true, "path": "auth/token/create", "policies": token.policies,
                "renewable": false, "ttl": token.ttl, "type": "service"
        })),
        // https://developer.hashicorp.com/vault/api-docs/system/capabilities-self
        ("POST" | "PUT", "sys/capabilities-self") => {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let paths: Vec<String> = match request.get("paths").or(request.get("path")) {
                Some(Value::Array(paths)) => {
                    paths.iter().filter_map(Value::as_str).map(str::to_string).collect()
                }
                Some(Value::String(path)) => vec![path.clone()],
                _ => {
                    return errors(StatusCode::BAD_REQUEST, &["missing required 'paths' parameter"])
                }
            };
            let mut answer = serde_json::Map::new();
            let mut data = serde_json::Map::new();
            let mut all = Vec::new();
            for path in &paths {
                let caps = capabilities(token, path);
                all.extend(caps.clone());
                answer.insert(path.clone(), json!(caps));
                data.insert(path.clone(), json!(caps));
            }
            all.sort();
            all.dedup();
            answer.insert("capabilities".into(), json!(all));
            answer.insert("data".into(), Value::Object(data));
            ok(Value::Object(answer))
        }
        // https://developer.hashicorp.com/vault/api-docs/system/mounts#list-mounted-secrets-engines
        ("GET", "sys/mounts") => {
            let mut mounts = serde_json::Map::new();
            for (path, mount) in &state.mounts {
                mounts.insert(path.clone(), mount_json(path, mount, false));
            }
            mounts.insert("sys/".into(), json!({"type": "system", "options": null}));
            let mut body = mounts.clone();
            body.insert("data".into(), Value::Object(mounts));
            ok(Value::Object(body))
        }
        // https://developer.hashicorp.com/vault/api-docs/system/internal-ui-mounts#get-single-mount-details
        ("GET", rest) if rest.starts_with("sys/internal/ui/mounts/") => {
            if state.no_ui_mounts {
                return errors(StatusCode::NOT_FOUND, &[]);
            }
            let asked = &rest["sys/internal/ui/mounts/".len()..];
            match mount_of(state, asked) {
                Some((mount_path, mount)) => {
                    ok(json!({ "data": mount_json(mount_path, mount, true) }))
                }
                None => errors(
                    StatusCode::BAD_REQUEST,
                    &[&format!("no secret engine mount found for path {asked:?}")],
                ),
            }
        }
        (_, rest) => match mount_of(state, rest) {
            Some((mount_path, mount)) => {
                let inner = &rest[mount_path.len().min(rest.len())..];
                kv(&shared, mount_path, mount, inner.trim_start_matches('/'), list, &method)
            }
            None => errors(StatusCode::NOT_FOUND, &[&format!("no handler for route {rest:?}")]),
        },
    }
}

fn mount_json(path: &str, mount: &MountState, with_path: bool) -> Value {
    let mut value = json!({
        "type": "kv",
        "description": "key/value secret storage",
        "accessor": format!("kv_{}", path.trim_end_matches('/')),
        "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false},
        "local": false, "seal_wrap": false, "external_entropy_access": false,
        "options": {"version": mount.version.to_string()},
    });
    if with_path {
        value["path"] = json!(path);
    }
    value
}

fn mount_of<'a>(state: &'a VaultState, path: &str) -> Option<(&'a str, &'a MountState)> {
    state
        .mounts
        .iter()
        .filter(|(mount, _)| {
            let bare = mount.trim_end_matches('/');
            path == bare || path.starts_with(mount.as_str())
        })
        .max_by_key(|(mount, _)| mount.len())
        .map(|(mount, state)| (mount.as_str(), state))
}

fn capabilities(token: &TokenState, path: &str) -> Vec<&'static str> {
    let path = path.trim_matches('/');
    let readable = token.read.iter().any(|allowed| match allowed.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => allowed.trim_matches('/') == path,
    });
    if readable {
        vec!["list", "read"]
    } else {
        vec!["deny"]
    }
}

/// The names directly below `folder` (`kv/shop`), folders ending in `/`.
fn children(state: &VaultState, folder: &str) -> Vec<String> {
    let prefix = format!("{}/", folder.trim_end_matches('/'));
    let mut names: Vec<String> = state
        .secrets
        .keys()
        .filter_map(|path| path.strip_prefix(&prefix))
        .map(|rest| match rest.split_once('/') {
            Some((folder, _)) => format!("{folder}/"),
            None => rest.to_string(),
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn kv(
    shared: &Shared,
    mount_path: &str,
    mount: &MountState,
    inner: &str,
    list: bool,
    method: &Method,
) -> Response {
    let state = &shared.state;
    let bare = mount_path.trim_end_matches('/');
    let (relative, area) = if mount.version == 2 {
        match inner.split_once('/').unwrap_or((inner, "")) {
            ("metadata", rest) => (rest, "metadata"),
            ("data", rest) => (rest, "data"),
            _ => return errors(StatusCode::NOT_FOUND, &[]),
        }
    } else {
        (inner, "data")
    };
    let full = if relative.is_empty() { bare.to_string() } else { format!("{bare}/{relative}") };
    if list && (mount.version == 1 || area == "metadata") && method.as_str() != "POST" {
        // https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#list-secrets
        // https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1#list-secrets
        if state.list_denied.iter().any(|denied| denied.trim_end_matches('/') == full) {
            return errors(StatusCode::FORBIDDEN, &["permission denied"]);
        }
        let keys = children(state, &full);
        if keys.is_empty() {
            return errors(StatusCode::NOT_FOUND, &[]);
        }
        return envelope(json!({ "keys": keys }));
    }
    if method != Method::GET {
        return errors(StatusCode::METHOD_NOT_ALLOWED, &["unsupported operation"]);
    }
    if area == "data" {
        // Secret data: the one thing nomad-spec must never ask for.
        shared.reads().push(format!("{mount_path}{inner}"));
        let Some(secret) = state.secrets.get(&full) else {
            return errors(StatusCode::NOT_FOUND, &[]);
        };
        let values: serde_json::Map<String, Value> =
            secret.keys.iter().map(|key| (key.clone(), json!(SECRET_VALUE))).collect();
        let data = if mount.version == 2 {
            json!({ "data": values, "metadata": { "version": secret.current_version.max(1) } })
        } else {
            Value::Object(values)
        };
        return envelope(data);
    }
    // https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-metadata
    let Some(secret) = state.secrets.get(&full) else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let current = secret.current_version.max(1);
    let versions: serde_json::Map<String, Value> = (1..=current)
        .map(|version| {
            let deleted = version == current && secret.deleted;
            let deletion = if deleted { "2026-02-01T00:00:00Z" } else { "" };
            (
                version.to_string(),
                json!({
                    "created_time": "2026-01-01T00:00:00Z",
                    "deletion_time": deletion,
                    "destroyed": false
                }),
            )
        })
        .collect();
    // Vault stores custom metadata as a string-to-string map and sends `null` when none was set.
    let custom_metadata = match state.custom_metadata.get(&full) {
        Some(entries) => json!(entries),
        None => Value::Null,
    };
    envelope(json!({
            "cas_required": false,
            "created_time": "2026-01-01T00:00:00Z",
            "current_version": current,
            "custom_metadata": custom_metadata,
            "delete_version_after": "0s",
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": "2026-01-01T00:00:00Z",
            "versions": versions
    }))
}
