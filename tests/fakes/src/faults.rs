//! The fault switch every fake carries: the ways a service fails on a bad day (an error
//! status, a rate limit with `Retry-After`, no answer at all, a slow answer, a body that is
//! not JSON, an answer that breaks off, a proxy that echoes the request's headers), played on
//! the fake's own port in front of its real handlers.
//!
//! It is stateful: a test (or the `fakes` binary's `--fault` option) plays a [`Fault`] for the
//! requests it matches, every time or the next `n` times, and reads back how many requests
//! each fault answered and every request the fake received ([`FaultSwitch::seen`]). What it does not play is a refused connection: a port nothing listens
//! on does that ([`refused_url`]), since a listening socket always accepts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What a faulty service does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answers this status with this text body (`500 No cluster leader`).
    Status { status: u16, body: String },
    /// `429 Too Many Requests` with `Retry-After: seconds`.
    RateLimited { retry_after: u64 },
    /// Takes the request and never answers.
    Silent,
    /// Answers as usual, after this long.
    Slow(Duration),
    /// `200` with `Content-Type: application/json` and a body that is not JSON.
    MalformedJson,
    /// Starts a `200` answer and breaks the connection before its body ends.
    Broken,
    /// Answers this status with the request's headers as the body, as a misconfigured proxy
    /// does (tokens included).
    EchoHeaders { status: u16 },
}

/// A failure, and the requests it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What is done.
    pub failure: Failure,
    /// Only requests with this method (any when `None`).
    pub method: Option<String>,
    /// Only requests whose path starts with this (any when `None`).
    pub path_prefix: Option<String>,
    /// The next this many matching requests; every one when `None`.
    pub times: Option<u32>,
}

impl Fault {
    /// `failure` for every request.
    pub fn new(failure: Failure) -> Fault {
        Fault { failure, method: None, path_prefix: None, times: None }
    }

    /// Answers `status` with `body`.
    pub fn status(status: u16, body: &str) -> Fault {
        Fault::new(Failure::Status { status, body: body.to_string() })
    }

    /// `429` asking to come back in `retry_after` seconds.
    pub fn rate_limited(retry_after: u64) -> Fault {
        Fault::new(Failure::RateLimited { retry_after })
    }

    /// Never answers.
    pub fn silent() -> Fault {
        Fault::new(Failure::Silent)
    }

    /// Answers after `delay`.
    pub fn slow(delay: Duration) -> Fault {
        Fault::new(Failure::Slow(delay))
    }

    /// Answers `200` with a body that is not JSON.
    pub fn malformed_json() -> Fault {
        Fault::new(Failure::MalformedJson)
    }

    /// Breaks the connection in the middle of an answer.
    pub fn broken() -> Fault {
        Fault::new(Failure::Broken)
    }

    /// Echoes the request's headers in a `status` answer.
    pub fn echo_headers(status: u16) -> Fault {
        Fault::new(Failure::EchoHeaders { status })
    }

    /// Only for `method` requests under `path_prefix`.
    pub fn on(mut self, method: &str, path_prefix: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self.path_prefix = Some(path_prefix.to_string());
        self
    }

    /// Only for requests under `path_prefix`.
    pub fn under(mut self, path_prefix: &str) -> Fault {
        self.path_prefix = Some(path_prefix.to_string());
        self
    }

    /// Only the next `times` matching requests.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = Some(times);
        self
    }

    /// Reads a fault as the `fakes` binary takes it: `KIND[:ARG][@METHOD PATH|@PATH][*TIMES]`,
    /// KIND one of `status:CODE`, `rate-limited:SECONDS`, `silent`, `slow:MILLISECONDS`,
    /// `malformed-json`, `broken`, `echo-headers:CODE` (`status:500@POST /v1/jobs*1`).
    pub fn parse(text: &str) -> Result<Fault, String> {
        let (rest, times) = match text.rsplit_once('*') {
            Some((rest, times)) => {
                let times =
                    times.trim().parse().map_err(|_| format!("`{times}` is not a count"))?;
                (rest, Some(times))
            }
            None => (text, None),
        };
        let (kind, target) = match rest.split_once('@') {
            Some((kind, target)) => (kind.trim(), Some(target.trim())),
            None => (rest.trim(), None),
        };
        let (name, argument) = match kind.split_once(':') {
            Some((name, argument)) => (name, Some(argument)),
            None => (kind, None),
        };
        let number = |what: &str| -> Result<u64, String> {
            argument
                .and_then(|a| a.trim().parse().ok())
                .ok_or_else(|| format!("`{kind}`: {name} needs {what}, as in `{name}:N`"))
        };
        let failure = match name {
            "status" => Failure::Status {
                status: u16::try_from(number("a status")?).map_err(|e| e.to_string())?,
                body: String::new(),
            },
            "rate-limited" => Failure::RateLimited { retry_after: number("seconds")? },
            "silent" => Failure::Silent,
            "slow" => Failure::Slow(Duration::from_millis(number("milliseconds")?)),
            "malformed-json" => Failure::MalformedJson,
            "broken" => Failure::Broken,
            "echo-headers" => Failure::EchoHeaders {
                status: u16::try_from(number("a status")?).map_err(|e| e.to_string())?,
            },
            other => return Err(format!("unknown fault `{other}`")),
        };
        let mut fault = Fault::new(failure);
        fault.times = times;
        match target.map(|t| t.split_once(' ')) {
            Some(Some((method, path))) => fault = fault.on(method, path.trim()),
            Some(None) => fault = fault.under(target.unwrap_or_default()),
            None => {}
        }
        Ok(fault)
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times != Some(0)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

#[derive(Debug, Default)]
struct Played {
    faults: Vec<Fault>,
    /// Requests answered by a fault, as `METHOD /path`.
    answered: Vec<String>,
    /// Every request received, as `METHOD /path?query`, a line break, and its body.
    seen: Vec<String>,
}

/// Most bytes of a request body the fake reads (a git push of a whole repository fits).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// The faults a fake plays now; cloned handles share them.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    played: Arc<Mutex<Played>>,
}

impl FaultSwitch {
    /// Plays `fault` from the next request on (after the faults already playing).
    pub fn play(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Stops every fault: the service answers normally again.
    pub fn clear(&self) {
        self.lock().faults.clear();
    }

    /// The requests a fault answered (or held), as `METHOD /path`, oldest first.
    pub fn answered(&self) -> Vec<String> {
        self.lock().answered.clone()
    }

    /// Every request the fake received, faulted or not, oldest first: `METHOD /path?query`, a
    /// line break, and the body as text (lossy UTF-8). Headers are left out: they carry the
    /// credentials the service is meant to receive.
    pub fn seen(&self) -> Vec<String> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Played> {
        self.played.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The failure for this request, counting it against its fault.
    fn take(&self, method: &str, path: &str) -> Option<Failure> {
        let mut played = self.lock();
        let fault = played.faults.iter_mut().find(|f| f.matches(method, path))?;
        if let Some(times) = fault.times.as_mut() {
            *times -= 1;
        }
        let failure = fault.failure.clone();
        played.answered.push(format!("{method} {path}"));
        Some(failure)
    }
}

/// An address where nothing listens: connecting to it is refused. Port 1 (tcpmux) is
/// privileged and unused; a freed ephemeral port could be taken by a fake of a test running
/// beside this one.
pub fn refused_url() -> String {
    "http://127.0.0.1:1".to_string()
}

/// The middleware every fake's app runs behind (see `server::LoopbackServer`).
pub(crate) async fn play(
    State(switch): State<FaultSwitch>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    switch.lock().seen.push(format!("{method} {}\n{text}", parts.uri));
    let request = Request::from_parts(parts, Body::from(bytes));
    let Some(failure) = switch.take(&method, &path) else { return next.run(request).await };
    match failure {
        Failure::Status { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = if body.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                body
            };
            (status, body).into_response()
        }
        Failure::RateLimited { retry_after } => {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests: slow down").into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Failure::Silent => std::future::pending().await,
        Failure::Slow(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Failure::MalformedJson => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"ID\": \"web\", \"Items\": [1, 2",
        )
            .into_response(),
        Failure::Broken => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"partial\": "),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "broken")),
            ];
            let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response.headers_mut().insert("content-length", HeaderValue::from_static("4096"));
            response
        }
        Failure::EchoHeaders { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let headers: String = request
                .headers()
                .iter()
                .map(|(name, value)| {
                    format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes()))
                })
                .collect();
            (status, format!("upstream refused the request:\n{headers}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_read_as_the_binary_takes_them() {
        let fault = Fault::parse("status:500@POST /v1/jobs*1").unwrap();
        assert_eq!(fault, Fault::status(500, "").on("POST", "/v1/jobs").times(1));
        assert_eq!(Fault::parse("rate-limited:2").unwrap(), Fault::rate_limited(2));
        assert_eq!(Fault::parse("silent@/v1/kv").unwrap(), Fault::silent().under("/v1/kv"));
        assert_eq!(Fault::parse("slow:250").unwrap(), Fault::slow(Duration::from_millis(250)));
        assert!(Fault::parse("status").unwrap_err().contains("needs a status"));
        assert!(Fault::parse("flaky").unwrap_err().contains("unknown fault"));
    }

    #[test]
    fn a_counted_fault_stops_after_its_count() {
        let switch = FaultSwitch::default();
        switch.play(Fault::status(500, "No cluster leader").on("POST", "/v1/jobs").times(2));
        assert_eq!(switch.take("GET", "/v1/jobs"), None, "another method");
        assert!(switch.take("POST", "/v1/jobs/parse").is_some());
        assert!(switch.take("post", "/v1/jobs").is_some());
        assert_eq!(switch.take("POST", "/v1/jobs"), None, "played twice already");
        assert_eq!(switch.answered(), ["POST /v1/jobs/parse", "post /v1/jobs"]);
    }
}
