//! A fake of Fabio's admin API: `/api/routes` from a routing table it holds.
//!
//! It owns the routing table and answers `GET /api/routes` with the JSON array Fabio's admin
//! API returns: one object per route target with the fields of `apiRoute` in Fabio's
//! `admin/api/routes.go` (github.com/fabiolb/fabio): `service`, `host`, `path`, `src`
//! (`host + path`), `dst`, `opts`, `weight`, `tags`, `cmd` (`route add`), `rate1`, `pct99`;
//! `null` for an empty table. In text mode it answers as Fabio does for `/api/routes?raw`
//! (the table in Fabio's config language, `text/plain`), which is what a client pointed at
//! the wrong thing gets instead of JSON.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::LoopbackServer;

/// One route in the table.
#[derive(Debug, Clone)]
pub struct Route {
    /// Service name.
    pub service: String,
    /// `host/path` or `:port`.
    pub src: String,
    /// Instance URL.
    pub dst: String,
}

/// What the fake Fabio serves.
#[derive(Debug, Clone, Default)]
pub struct FabioState {
    /// The routing table.
    pub routes: Vec<Route>,
    /// Answer with the text table instead of JSON.
    pub text_table: bool,
}

impl FabioState {
    /// Adds a route of `service` for `src` (one instance).
    pub fn route(mut self, service: &str, src: &str) -> Self {
        let n = self.routes.len() + 10;
        self.routes.push(Route {
            service: service.into(),
            src: src.into(),
            dst: format!("http://10.0.0.{n}:2{n:04}/"),
        });
        self
    }
}

/// A running fake Fabio.
pub struct FakeFabio {
    server: LoopbackServer,
}

impl FakeFabio {
    /// Starts a fake Fabio on a free loopback port.
    pub fn start(state: FabioState) -> anyhow::Result<FakeFabio> {
        FakeFabio::start_on("127.0.0.1:0", state)
    }

    /// Starts a fake Fabio on `listen`.
    pub fn start_on(listen: &str, state: FabioState) -> anyhow::Result<FakeFabio> {
        let app =
            Router::new().route("/api/routes", get(routes)).with_state(Arc::new(Mutex::new(state)));
        Ok(FakeFabio { server: LoopbackServer::start(listen, app, "fake Fabio")? })
    }

    /// The value for `FABIO_ADMIN_ADDR`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }
}

async fn routes(State(state): State<Arc<Mutex<FabioState>>>) -> Response {
    let state = state.lock().map(|s| s.clone()).unwrap_or_default();
    if state.text_table {
        let mut table = String::new();
        for r in &state.routes {
            table.push_str(&format!("route add {} {} {} weight 1.00\n", r.service, r.src, r.dst));
        }
        return ([("Content-Type", "text/plain")], table).into_response();
    }
    if state.routes.is_empty() {
        return Json(Value::Null).into_response();
    }
    let routes: Vec<Value> = state
        .routes
        .iter()
        .map(|r| {
            let (host, path) = match r.src.find('/') {
                Some(i) => (&r.src[..i], &r.src[i..]),
                None => (r.src.as_str(), ""),
            };
            json!({
                "service": r.service, "host": host, "path": path, "src": r.src, "dst": r.dst,
                "opts": "", "weight": 1.0, "tags": ["urlprefix-".to_string() + &r.src],
                "cmd": "route add", "rate1": 0.0, "pct99": 0.0
            })
        })
        .collect();
    Json(Value::Array(routes)).into_response()
}
