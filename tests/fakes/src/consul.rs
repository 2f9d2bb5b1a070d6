//! A stateful fake of Consul's HTTP API: KV, catalog services and service health.
//!
//! It owns the Consul state (KV entries, services and their instances' check statuses, an
//! optional ACL token and an optional delay to play a slow agent) and answers in the shapes
//! of Consul's API documentation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::LoopbackServer;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
            .route("/v1/kv/{*key}", get(kv))
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
            json!({
                "CreateIndex": 1,
                "ModifyIndex": state.index,
                "LockIndex": 0,
                "Key": k,
                "Flags": 0,
                "Value": encode_base64(v),
                "Session": "",
            })
        })
        .collect();
    if entries.is_empty() {
        return ([("X-Consul-Index", state.index.to_string())], StatusCode::NOT_FOUND)
            .into_response();
    }
    with_index(state.index, Value::Array(entries))
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
