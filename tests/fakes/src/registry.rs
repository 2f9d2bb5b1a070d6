//! A fake OCI registry: the distribution API's manifest endpoints with the token auth GHCR and
//! GitLab's container registry use.
//!
//! It owns a set of manifests by repository and tag (what a build pushed), the one basic-auth
//! login it hands tokens to, and the tokens it issued with the repositories each may pull.
//! `HEAD`/`GET /v2/<name>/manifests/<reference>` without a valid bearer token answer `401` with
//! `WWW-Authenticate: Bearer realm="<url>/token",service="fake-registry",scope="repository:
//! <name>:pull"`, as the spec's token flow says
//! (<https://distribution.github.io/distribution/spec/auth/token/>); `GET /token` gives a token
//! for the asked scope to the right login and `401` to any other; an unknown manifest is `404`
//! with `MANIFEST_UNKNOWN`; a manifest `GET` without an `Accept` the registry serves is `404` as
//! well, as a registry that cannot convert it answers. Every manifest request is counted, so a
//! test can tell the bot looked before deploying.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;

use crate::server::LoopbackServer;

/// The media type of the manifests the fake holds.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The login the fake gives tokens to: user and password.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Default)]
struct RegistryState {
    url: String,
    login: Option<Login>,
    /// `(repository, tag)` → digest.
    manifests: BTreeMap<(String, String), String>,
    /// token → repositories it may pull.
    tokens: BTreeMap<String, BTreeSet<String>>,
    /// `(method, repository, reference, status)` of every manifest request.
    requests: Vec<(String, String, String, u16)>,
}

/// A running fake registry.
pub struct FakeRegistry {
    server: LoopbackServer,
    state: Arc<Mutex<RegistryState>>,
}

fn lock(state: &Mutex<RegistryState>) -> MutexGuard<'_, RegistryState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeRegistry {
    /// Starts a registry on a free loopback port that gives tokens to `login` only.
    pub fn start(login: Login) -> anyhow::Result<FakeRegistry> {
        FakeRegistry::start_on("127.0.0.1:0", login)
    }

    /// Starts a registry on `listen`.
    pub fn start_on(listen: &str, login: Login) -> anyhow::Result<FakeRegistry> {
        let state =
            Arc::new(Mutex::new(RegistryState { login: Some(login), ..Default::default() }));
        let app = Router::new()
            .route("/token", get(token))
            .route("/v2/", get(base))
            .route("/v2/{*rest}", any(manifest))
            .with_state(state.clone());
        let server = LoopbackServer::start(listen, app, "fake registry")?;
        lock(&state).url = server.url();
        Ok(FakeRegistry { server, state })
    }

    /// `http://127.0.0.1:PORT`: where every registry the code under test asks answers.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake.
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// A build pushed `repository:tag` (`acme/shop/web`, `0123abc`); returns its digest.
    pub fn push(&self, repository: &str, tag: &str) -> String {
        let mut state = lock(&self.state);
        let digest = format!("sha256:{:064x}", state.manifests.len() + 1);
        state.manifests.insert((repository.to_string(), tag.to_string()), digest.clone());
        digest
    }

    /// The tags of `repository`.
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let state = lock(&self.state);
        state.manifests.keys().filter(|(r, _)| r == repository).map(|(_, t)| t.clone()).collect()
    }

    /// Every manifest request: `(method, repository, reference, status)`.
    pub fn manifest_requests(&self) -> Vec<(String, String, String, u16)> {
        lock(&self.state).requests.clone()
    }
}

async fn base(State(state): State<Arc<Mutex<RegistryState>>>, headers: HeaderMap) -> Response {
    let state = lock(&state);
    match bearer(&headers) {
        Some(token) if state.tokens.contains_key(&token) => StatusCode::OK.into_response(),
        _ => challenge(&state.url, None),
    }
}

/// `401` with the token endpoint named, as GHCR and GitLab answer.
fn challenge(url: &str, repository: Option<&str>) -> Response {
    let mut value = format!("Bearer realm=\"{url}/token\",service=\"fake-registry\"");
    if let Some(repository) = repository {
        value.push_str(&format!(",scope=\"repository:{repository}:pull\""));
    }
    let body = json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]});
    (StatusCode::UNAUTHORIZED, [("WWW-Authenticate", value)], Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

async fn token(
    State(state): State<Arc<Mutex<RegistryState>>>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let mut state = lock(&state);
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let allowed = match (&state.login, given.as_deref().and_then(|g| g.split_once(':'))) {
        (Some(login), Some((user, password))) => {
            user == login.username && password == login.password
        }
        _ => false,
    };
    if !allowed {
        let body = json!({"errors": [{"code": "DENIED", "message": "bad credentials"}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    // `scope=repository:<name>:pull` (a scope may list actions: `pull,push`).
    let mut repositories = BTreeSet::new();
    for scope in query.get("scope").map(String::as_str).unwrap_or_default().split(' ') {
        let mut parts = scope.split(':');
        if let (Some("repository"), Some(name), Some(actions)) =
            (parts.next(), parts.next(), parts.next())
        {
            if actions.split(',').any(|a| a == "pull") {
                repositories.insert(name.to_string());
            }
        }
    }
    let token = format!("fake-registry-token-{}", state.tokens.len() + 1);
    state.tokens.insert(token.clone(), repositories);
    Json(json!({ "token": token, "access_token": token, "expires_in": 300 })).into_response()
}

async fn manifest(
    State(state): State<Arc<Mutex<RegistryState>>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = uri.path().trim_start_matches("/v2/");
    let Some((repository, reference)) = path.rsplit_once("/manifests/") else {
        let body = json!({"errors": [{"code": "UNSUPPORTED", "message": "not a manifest path"}]});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    if method != Method::HEAD && method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let mut state = lock(&state);
    let record = |state: &mut RegistryState, status: u16| {
        state.requests.push((
            method.to_string(),
            repository.to_string(),
            reference.to_string(),
            status,
        ))
    };
    let may_pull = bearer(&headers)
        .and_then(|t| state.tokens.get(&t).cloned())
        .is_some_and(|repositories| repositories.contains(repository));
    if !may_pull {
        record(&mut state, 401);
        return challenge(&state.url, Some(repository));
    }
    let accepts = headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(MANIFEST_TYPE) || v.contains("*/*"));
    let found = state.manifests.get(&(repository.to_string(), reference.to_string())).cloned();
    match found {
        Some(digest) if accepts => {
            record(&mut state, 200);
            let body = json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": digest, "size": 2},
                "layers": [],
            });
            let headers =
                [("Content-Type", MANIFEST_TYPE.to_string()), ("Docker-Content-Digest", digest)];
            if method == Method::HEAD {
                (StatusCode::OK, headers).into_response()
            } else {
                (StatusCode::OK, headers, Json(body)).into_response()
            }
        }
        _ => {
            record(&mut state, 404);
            let body = json!({"errors": [{"code": "MANIFEST_UNKNOWN",
                "message": "manifest unknown", "detail": {"Tag": reference}}]});
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}
