//! A stateful fake of Consul's HTTP API: KV, catalog services, service health, and sessions
//! with the locks they hold on KV keys.
//!
//! It owns the Consul state (KV entries, services and their instances' check statuses,
//! sessions and lock holders, an optional ACL token and an optional delay to play a slow
//! agent) and answers in the shapes of Consul's API documentation. Sessions are as strict as
//! Consul's: a TTL between 10 s and 24 h, a lock delay of at most 60 s, invalidated at twice
//! their TTL without a renewal (Consul's own margin), their keys then closed to everyone for
//! the lock delay; `?acquire` answers `false` while another session holds the key.
//! `lock_second` shortens the session clock so stories need not wait real TTLs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::LoopbackServer;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

/// One registered instance of a service.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Node name.
    pub node: String,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Status of its check: `passing`, `warning` or `critical`.
    pub status: String,
}

/// What the fake Consul knows.
#[derive(Debug, Clone, Default)]
pub struct ConsulState {
    /// KV entries.
    pub kv: BTreeMap<String, Vec<u8>>,
    /// Services by name.
    pub services: BTreeMap<String, Vec<Instance>>,
    /// When set, requests must carry this `X-Consul-Token`.
    pub token: Option<String>,
    /// Every answer waits this long (a slow agent).
    pub delay: Option<Duration>,
    /// Modify index, raised by every write.
    pub index: u64,
    /// Live sessions by ID.
    pub sessions: BTreeMap<String, Session>,
    /// The session holding each locked key.
    pub holders: BTreeMap<String, String>,
    /// How many times each key was acquired (Consul's `LockIndex`).
    pub lock_indexes: BTreeMap<String, u64>,
    /// Keys closed to acquisition until then: their session was invalidated.
    pub delayed: BTreeMap<String, Instant>,
    /// How long a second of session TTL and lock delay lasts (unset: a second).
    pub lock_second: Option<Duration>,
    /// Sessions created so far (their IDs are numbered).
    pub created_sessions: u64,
}

/// A session, as created.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its `Name`.
    pub name: String,
    pub ttl: Duration,
    pub lock_delay: Duration,
    /// Its creation or last renewal.
    pub renewed: Instant,
}

impl ConsulState {
    /// Sets a KV entry.
    pub fn put(mut self, key: &str, value: &[u8]) -> Self {
        self.index += 1;
        self.kv.insert(key.to_string(), value.to_vec());
        self
    }

    /// Registers an instance of `service` whose check has `status`.
    pub fn service(mut self, service: &str, port: u16, status: &str) -> Self {
        self.index += 1;
        let instances = self.services.entry(service.to_string()).or_default();
        instances.push(Instance {
            node: format!("node-{}", instances.len() + 1),
            address: format!("10.0.0.{}", instances.len() + 10),
            port,
            status: status.to_string(),
        });
        self
    }
}

impl ConsulState {
    fn scaled(&self, duration: Duration) -> Duration {
        self.lock_second.unwrap_or(Duration::from_secs(1)).mul_f64(duration.as_secs_f64())
    }

    /// Invalidates the sessions not renewed within twice their TTL.
    fn expire_sessions(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, session)| now >= session.renewed + self.scaled(session.ttl * 2))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.invalidate(&id, now);
        }
    }

    /// Ends a session: its keys are released (behavior `release`) and closed to everyone for
    /// its lock delay.
    fn invalidate(&mut self, id: &str, now: Instant) {
        let Some(session) = self.sessions.remove(id) else { return };
        let delay = self.scaled(session.lock_delay);
        let held: Vec<String> =
            self.holders.iter().filter(|(_, s)| *s == id).map(|(k, _)| k.clone()).collect();
        for key in held {
            self.holders.remove(&key);
            self.delayed.insert(key, now + delay);
        }
        self.index += 1;
    }

    /// The name of the session holding `key`.
    pub fn holder(&self, key: &str) -> Option<String> {
        let session = self.holders.get(key)?;
        self.sessions.get(session).map(|s| s.name.clone())
    }
}

type Shared = Arc<Mutex<ConsulState>>;

/// A running fake Consul.
pub struct FakeConsul {
    server: LoopbackServer,
    state: Shared,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeConsul {
    /// Starts a fake Consul on a free loopback port.
    pub fn start(state: ConsulState) -> anyhow::Result<FakeConsul> {
        FakeConsul::start_on("127.0.0.1:0", state)
    }

    /// Starts a fake Consul on `listen`.
    pub fn start_on(listen: &str, state: ConsulState) -> anyhow::Result<FakeConsul> {
        let state = Arc::new(Mutex::new(state));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/kv/{*key}", get(kv).put(kv_put).delete(kv_delete))
            .route("/v1/session/create", put(session_create))
            .route("/v1/session/renew/{id}", put(session_renew))
            .route("/v1/session/destroy/{id}", put(session_destroy))
            .route("/v1/catalog/services", get(catalog_services))
            .route("/v1/health/service/{name}", get(health_service))
            .with_state((state.clone(), requests.clone()));
        let server = LoopbackServer::start(listen, app, "fake Consul")?;
        Ok(FakeConsul { server, state, requests })
    }

    /// The value for `CONSUL_HTTP_ADDR` (`127.0.0.1:PORT`, no scheme, as users often write).
    pub fn http_addr(&self) -> String {
        self.server.addr().to_string()
    }

    /// The URL of the fake.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The name of the session holding `key` now (sessions past their TTL are invalidated
    /// first, as Consul's timers would have).
    pub fn lock_holder(&self, key: &str) -> Option<String> {
        let mut state = self.state.lock().ok()?;
        state.expire_sessions(Instant::now());
        state.holder(key)
    }

    /// How many sessions are alive.
    pub fn live_sessions(&self) -> usize {
        let Ok(mut state) = self.state.lock() else { return 0 };
        state.expire_sessions(Instant::now());
        state.sessions.len()
    }

    /// Changes the state (a service goes down, a key changes).
    pub fn change(&self, f: impl FnOnce(&mut ConsulState)) {
        if let Ok(mut state) = self.state.lock() {
            f(&mut state);
            state.index += 1;
        }
    }
}

type AppState = (Shared, Arc<Mutex<Vec<String>>>);

/// Waits the configured delay, then checks the token: `Err` is the 403 Consul answers
/// (`ACL not found` for an unknown token, `Permission denied` for none).
async fn admit(
    (state, requests): &AppState,
    headers: &HeaderMap,
    path: String,
) -> Result<ConsulState, Response> {
    if let Ok(mut requests) = requests.lock() {
        requests.push(path);
    }
    let snapshot = state.lock().map(|s| s.clone()).unwrap_or_default();
    if let Some(delay) = snapshot.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(token) = &snapshot.token {
        match headers.get("X-Consul-Token").and_then(|v| v.to_str().ok()) {
            Some(given) if given == token => {}
            Some(_) => return Err((StatusCode::FORBIDDEN, "ACL not found").into_response()),
            None => return Err((StatusCode::FORBIDDEN, "Permission denied").into_response()),
        }
    }
    Ok(snapshot)
}

fn with_index(index: u64, body: Value) -> Response {
    ([("X-Consul-Index", index.to_string())], Json(body)).into_response()
}

/// `GET /v1/kv/:key[?recurse]`: an array of entries with base64 `Value`s, 404 when none
/// (https://developer.hashicorp.com/consul/api-docs/kv#read-key).
async fn kv(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let state = match admit(&app, &headers, format!("/v1/kv/{key}")).await {
        Ok(state) => state,
        Err(response) => return response,
    };
    let recurse = query.contains_key("recurse");
    let entries: Vec<Value> = state
        .kv
        .iter()
        .filter(|(k, _)| if recurse { k.starts_with(&key) } else { **k == key })
        .map(|(k, v)| {
            let mut entry = json!({
                "CreateIndex": 1,
                "ModifyIndex": state.index,
                "LockIndex": state.lock_indexes.get(k).copied().unwrap_or(0),
                "Key": k,
                "Flags": 0,
                "Value": encode_base64(v),
            });
            // Consul names the holding session only while there is one.
            if let Some(session) = state.holders.get(k) {
                entry["Session"] = json!(session);
            }
            entry
        })
        .collect();
    if entries.is_empty() {
        return ([("X-Consul-Index", state.index.to_string())], StatusCode::NOT_FOUND)
            .into_response();
    }
    with_index(state.index, Value::Array(entries))
}

fn shared(app: &AppState) -> std::sync::MutexGuard<'_, ConsulState> {
    app.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `PUT /v1/kv/:key[?acquire=|?release=]`: `true` or `false`
/// (https://developer.hashicorp.com/consul/api-docs/kv#create-update-key). `acquire` takes
/// the key for a live session unless another holds it or the key is in its lock delay (an
/// unknown session is a 500, as Consul answers); `release` frees it when that session holds
/// it. The body is the new value either way, unless the answer is `false`.
async fn kv_put(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&app, &headers, format!("PUT /v1/kv/{key}")).await {
        return response;
    }
    let now = Instant::now();
    let mut state = shared(&app);
    state.expire_sessions(now);
    let done = if let Some(session) = query.get("acquire") {
        if !state.sessions.contains_key(session) {
            let message = format!("invalid session \"{session}\"");
            return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
        match state.holders.get(&key) {
            Some(holder) if holder == session => true,
            Some(_) => false,
            None if state.delayed.get(&key).is_some_and(|until| now < *until) => false,
            None => {
                state.delayed.remove(&key);
                state.holders.insert(key.clone(), session.clone());
                *state.lock_indexes.entry(key.clone()).or_default() += 1;
                true
            }
        }
    } else if let Some(session) = query.get("release") {
        if state.holders.get(&key) == Some(session) {
            state.holders.remove(&key);
            true
        } else {
            false
        }
    } else {
        true
    };
    if done {
        state.kv.insert(key, body.to_vec());
        state.index += 1;
    }
    Json(json!(done)).into_response()
}

/// `DELETE /v1/kv/:key[?recurse]`: `true`
/// (https://developer.hashicorp.com/consul/api-docs/kv#delete-key).
async fn kv_delete(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&app, &headers, format!("DELETE /v1/kv/{key}")).await {
        return response;
    }
    let mut state = shared(&app);
    let recurse = query.contains_key("recurse");
    state.kv.retain(|k, _| if recurse { !k.starts_with(&key) } else { *k != key });
    state.holders.retain(|k, _| if recurse { !k.starts_with(&key) } else { *k != key });
    state.index += 1;
    Json(json!(true)).into_response()
}

/// A Go duration of whole units as Consul takes them (`15s`, `10m`, `1h`, `0s`).
fn go_duration(text: &str) -> Option<Duration> {
    let unit = text.trim_start_matches(|c: char| c.is_ascii_digit());
    let number: u64 = text[..text.len() - unit.len()].parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(number)),
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// `PUT /v1/session/create`: `{"ID": ...}`
/// (https://developer.hashicorp.com/consul/api-docs/session#create-session). A TTL outside
/// 10 s to 24 h and a lock delay over 60 s are refused, as Consul does.
async fn session_create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = admit(&app, &headers, "PUT /v1/session/create".into()).await {
        return response;
    }
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(err) => return bad(format!("Request decode failed: {err}")),
        }
    };
    let text = |field: &str| request.get(field).and_then(Value::as_str).unwrap_or("");
    let ttl = match text("TTL") {
        "" => return bad("the fake Consul only plays sessions with a TTL".into()),
        given => match go_duration(given) {
            Some(ttl) if (10..=86_400).contains(&ttl.as_secs()) && ttl.subsec_nanos() == 0 => ttl,
            _ => return bad(format!("Session TTL '{given}' must be between [10s=24h0m0s]")),
        },
    };
    let lock_delay = match text("LockDelay") {
        "" => Duration::from_secs(15),
        given => match go_duration(given) {
            Some(delay) if delay <= Duration::from_secs(60) => delay,
            _ => return bad(format!("Invalid LockDelay '{given}': at most 60s")),
        },
    };
    if !matches!(text("Behavior"), "" | "release") {
        return bad(format!(
            "the fake Consul plays Behavior \"release\" only, not {:?}",
            text("Behavior")
        ));
    }
    let mut state = shared(&app);
    state.created_sessions += 1;
    let id = format!("5e5510e0-0000-4000-8000-{:012x}", state.created_sessions);
    let session =
        Session { name: text("Name").to_string(), ttl, lock_delay, renewed: Instant::now() };
    state.sessions.insert(id.clone(), session);
    state.index += 1;
    Json(json!({ "ID": id })).into_response()
}

fn session_json(id: &str, session: &Session) -> Value {
    json!({
        "ID": id,
        "Name": session.name,
        "TTL": format!("{}s", session.ttl.as_secs()),
        "LockDelay": session.lock_delay.as_nanos() as u64,
        "Behavior": "release",
        "NodeChecks": [],
        "ServiceChecks": null,
    })
}

/// `PUT /v1/session/renew/:id`: the session in an array, 404 once it is gone
/// (https://developer.hashicorp.com/consul/api-docs/session#renew-session).
async fn session_renew(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&app, &headers, format!("PUT /v1/session/renew/{id}")).await {
        return response;
    }
    let now = Instant::now();
    let mut state = shared(&app);
    state.expire_sessions(now);
    match state.sessions.get_mut(&id) {
        Some(session) => {
            session.renewed = now;
            Json(json!([session_json(&id, session)])).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("Session id '{id}' not found")).into_response(),
    }
}

/// `PUT /v1/session/destroy/:id`: `true`; the session's keys are released and closed for its
/// lock delay (https://developer.hashicorp.com/consul/api-docs/session#delete-session).
async fn session_destroy(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&app, &headers, format!("PUT /v1/session/destroy/{id}")).await {
        return response;
    }
    let now = Instant::now();
    let mut state = shared(&app);
    state.expire_sessions(now);
    state.invalidate(&id, now);
    Json(json!(true)).into_response()
}

/// `GET /v1/catalog/services`: service name → tags
/// (https://developer.hashicorp.com/consul/api-docs/catalog#list-services).
async fn catalog_services(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let state = match admit(&app, &headers, "/v1/catalog/services".into()).await {
        Ok(state) => state,
        Err(response) => return response,
    };
    let services: serde_json::Map<String, Value> =
        state.services.keys().map(|name| (name.clone(), json!([]))).collect();
    with_index(state.index, Value::Object(services))
}

/// `GET /v1/health/service/:name`: node, service and checks of every instance
/// (https://developer.hashicorp.com/consul/api-docs/health#list-service-instances-for-service).
async fn health_service(
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = match admit(&app, &headers, format!("/v1/health/service/{name}")).await {
        Ok(state) => state,
        Err(response) => return response,
    };
    let entries: Vec<Value> = state
        .services
        .get(&name)
        .into_iter()
        .flatten()
        .map(|instance| {
            json!({
                "Node": {"ID": "", "Node": instance.node, "Address": instance.address,
                         "Datacenter": "dc1"},
                "Service": {"ID": format!("{name}-{}", instance.port), "Service": name,
                            "Tags": [], "Address": instance.address, "Port": instance.port},
                "Checks": [
                    {"Node": instance.node, "CheckID": "serfHealth", "Name": "Serf Health Status",
                     "Status": "passing", "ServiceID": "", "ServiceName": ""},
                    {"Node": instance.node, "CheckID": format!("service:{name}"),
                     "Name": format!("Service '{name}' check"), "Status": instance.status,
                     "ServiceID": format!("{name}-{}", instance.port), "ServiceName": name}
                ]
            })
        })
        .collect();
    with_index(state.index, Value::Array(entries))
}

/// Standard base64 with padding, as Consul encodes KV values.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
