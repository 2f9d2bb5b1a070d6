//! The HTTP client for Nomad's API, configured exactly as the `nomad` command line is.
//!
//! This file owns the connection built from the settings (`NOMAD_ADDR`, `NOMAD_TOKEN`, TLS,
//! namespace and region, read in `crate::settings`), the error kinds callers branch on
//! (`NomadError`), timeouts, which calls are safe to send again (reads, parse, plan, and
//! writes that name the state they expect: register with `EnforceIndex`, revert with
//! `EnforcePriorVersion`) under the retry policy every client shares (`crate::http::retry`),
//! and blocking queries. Errors show the address without its password and Nomad's answers
//! without the token, which a proxy may echo. It knows endpoints and their JSON shapes but
//! makes no decisions: plan, watch and the deploy loop live next to it.

use std::fmt;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use crate::http::retry::{self, Repeat, Transience, Tries};
use crate::http::{shown_address, Redactor};
use crate::settings::Settings;

mod variables;

pub use variables::{Items, Variable, VariableLock, VariableMetadata};

use super::api::{
    AgentSelf, Allocation, AllocationStub, Deployment, Evaluation, JobInfo, JobStub, JobSummary,
    JobVersions, PlanResponse, RegisterResponse,
};

/// The client's settings, read with every other setting (`crate::settings`).
pub use crate::settings::NomadConfig;

/// How long a blocking query waits for a change unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// What went wrong talking to Nomad; callers pick exit codes and next steps by kind.
#[derive(Debug, thiserror::Error)]
pub enum NomadError {
    /// No connection could be made (refused, DNS, TLS handshake), or it broke off.
    #[error("cannot reach Nomad at {address}{tries}: {reason}")]
    Unreachable { address: String, reason: String, tries: Tries },
    /// Nomad accepted the connection but did not answer in time.
    #[error("Nomad at {address} did not answer {what} within {seconds} s")]
    Timeout { address: String, what: String, seconds: u64 },
    /// 403: the token (or its absence) does not allow the call.
    #[error("permission denied: {who} cannot {action}")]
    PermissionDenied { who: String, action: String },
    /// 404 on a named object.
    #[error("{what} not found in namespace {namespace}")]
    NotFound { what: String, namespace: String },
    /// Register with `EnforceIndex` was refused: the job changed since it was planned.
    #[error(
        "job {job} was changed on Nomad since it was planned ({detail}); nothing was \
         registered: plan again and review the new diff"
    )]
    Conflict { job: String, detail: String },
    /// Any other error status, with Nomad's own message (after the tries the retry policy
    /// allowed, for a status that may pass: `429`, `5xx`).
    #[error("Nomad answered {status} to {what}{tries}: {body}")]
    Server { status: u16, what: String, body: String, tries: Tries },
    /// A success status with a body that does not read as the expected JSON.
    #[error("Nomad sent a response to {what} that nomad-spec cannot read: {detail}")]
    BadResponse { what: String, detail: String },
    /// A `NOMAD_*` setting is unusable (bad address, unreadable certificate).
    #[error("invalid Nomad setting: {0}")]
    Config(String),
}

impl NomadError {
    /// The same error, saying how many tries it took.
    fn after(mut self, made: Tries) -> NomadError {
        if let NomadError::Unreachable { tries, .. } | NomadError::Server { tries, .. } = &mut self
        {
            *tries = made;
        }
        self
    }
}

impl From<crate::settings::SettingError> for NomadError {
    fn from(err: crate::settings::SettingError) -> Self {
        NomadError::Config(err.to_string())
    }
}

/// A value read with a blocking query, and the index to wait on next.
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub value: T,
    /// `X-Nomad-Index`: pass it back to wait for the next change.
    pub index: u64,
}

/// A blocking query: return when the object's index passes `index`, or after `wait`.
#[derive(Debug, Clone, Copy)]
pub struct Blocking {
    pub index: u64,
    pub wait: Duration,
}

impl Blocking {
    /// No blocking: answer at once.
    pub const NOW: Blocking = Blocking { index: 0, wait: Duration::ZERO };

    /// Wait for a change past `index`, up to `wait`.
    pub fn after(index: u64, wait: Duration) -> Self {
        Blocking { index, wait }
    }
}

/// Which log stream of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One request, described for sending, retrying and explaining failures.
struct Call<'a> {
    method: Method,
    segments: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    /// For messages: "read job web", "register job web".
    action: String,
    /// For 404s: "job web"; `None` means a 404 is an ordinary server error.
    not_found: Option<String>,
    blocking: Blocking,
    /// Whether the call may be sent again after Nomad failed in the middle of it.
    repeat: Repeat,
}

impl<'a> Call<'a> {
    fn new(method: Method, segments: Vec<&'a str>, action: impl Into<String>) -> Self {
        let repeat = if method == Method::GET { Repeat::Safe } else { Repeat::OnlyWhenRefused };
        Call {
            repeat,
            method,
            segments,
            query: Vec::new(),
            body: None,
            action: action.into(),
            not_found: None,
            blocking: Blocking::NOW,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn not_found(mut self, what: impl Into<String>) -> Self {
        self.not_found = Some(what.into());
        self
    }

    fn blocking(mut self, blocking: Blocking) -> Self {
        self.blocking = blocking;
        self
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// A write that is safe to send again: it changes nothing the first one did not, or it
    /// names the state it expects and is refused otherwise.
    fn safe_to_repeat(mut self) -> Self {
        self.repeat = Repeat::Safe;
        self
    }
}

/// Nomad's answer to one call, read whole.
struct Answer {
    /// `X-Nomad-Index` (0 when absent).
    index: u64,
    body: Vec<u8>,
}

/// A client for one Nomad cluster (one address, token, namespace and region).
#[derive(Clone)]
pub struct NomadClient {
    config: NomadConfig,
    base: Url,
    http: reqwest::Client,
    /// The token and the address's password, cut out of what Nomad sends back.
    redactor: Redactor,
}

impl fmt::Debug for NomadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadClient").field("config", &self.config).finish_non_exhaustive()
    }
}

impl NomadClient {
    /// A client when `settings` set `NOMAD_ADDR`; `Ok(None)` when Nomad is not configured,
    /// for the callers to whom it is optional.
    pub fn configured(settings: &Settings) -> Result<Option<Self>, NomadError> {
        settings.configured_nomad()?.map(NomadClient::new).transpose()
    }

    /// A client configured as the `nomad` command would be with the same variables.
    pub fn from_settings(settings: &Settings) -> Result<Self, NomadError> {
        Self::new(settings.nomad()?)
    }

    /// A client from explicit settings.
    pub fn new(config: NomadConfig) -> Result<Self, NomadError> {
        crate::tls::install_crypto_provider();
        let shown = shown_address(&config.address);
        let mut base = Url::parse(&config.address).map_err(|err| {
            NomadError::Config(format!("NOMAD_ADDR={shown:?} is not a URL: {err}"))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(NomadError::Config(format!(
                "NOMAD_ADDR={shown:?} must start with http:// or https://"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_cert {
            builder = crate::http::trust_ca_bundle(builder, path, "NOMAD_CACERT")
                .map_err(NomadError::Config)?;
        }
        match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read_pem(cert, "NOMAD_CLIENT_CERT")?;
                pem.push(b'\n');
                pem.extend(read_pem(key, "NOMAD_CLIENT_KEY")?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|err| {
                    NomadError::Config(format!("NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY: {err}"))
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(NomadError::Config(
                    "NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY must be set together".into(),
                ))
            }
        }
        if config.skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(server_name) = &config.tls_server_name {
            // Verify the certificate against the configured name while still connecting to
            // the address's host: resolve the name to that address.
            let host = base.host_str().unwrap_or_default().to_string();
            let port = base.port_or_known_default().unwrap_or(4646);
            let addr = (host.trim_matches(['[', ']']), port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| NomadError::Unreachable {
                    address: shown.clone(),
                    reason: format!("cannot resolve {host}"),
                    tries: Tries::default(),
                })?;
            builder = builder.resolve(server_name, addr);
            base.set_host(Some(server_name)).map_err(|err| {
                NomadError::Config(format!("NOMAD_TLS_SERVER_NAME={server_name:?}: {err}"))
            })?;
        }
        let http = builder
            .build()
            .map_err(|err| NomadError::Config(format!("cannot build the HTTP client: {err}")))?;
        let redactor =
            Redactor::default().with(config.token.as_ref()).with_address(&config.address);
        Ok(NomadClient { config, base, http, redactor })
    }

    /// The settings this client uses.
    pub fn config(&self) -> &NomadConfig {
        &self.config
    }

    /// The namespace requests go to.
    pub fn namespace(&self) -> &str {
        self.config.namespace_or_default()
    }

    /// The same client for the namespace a job names, as `nomad job run` does: a job's own
    /// `Namespace` wins over `NOMAD_NAMESPACE`; a job without one goes where the client does.
    pub fn for_job(&self, job: &Value) -> NomadClient {
        match job.get("Namespace").and_then(Value::as_str).filter(|ns| !ns.is_empty()) {
            Some(namespace) => self.in_namespace(namespace),
            None => self.clone(),
        }
    }

    /// The same client for another namespace.
    pub fn in_namespace(&self, namespace: &str) -> NomadClient {
        let mut client = self.clone();
        if namespace != self.namespace() {
            client.config.namespace = Some(namespace.to_string());
        }
        client
    }

    /// `GET /v1/agent/self`.
    pub async fn agent_self(&self) -> Result<AgentSelf, NomadError> {
        self.call(Call::new(Method::GET, vec!["agent", "self"], "read the agent's configuration"))
            .await
            .map(|indexed| indexed.value)
    }

    /// `POST /v1/jobs/parse`: Nomad's own HCL parser; `variables` is HCL var-file text.
    pub async fn parse_job(&self, hcl: &str, variables: &str) -> Result<Value, NomadError> {
        let body = json!({ "JobHCL": hcl, "Canonicalize": true, "Variables": variables });
        let call = Call::new(Method::POST, vec!["jobs", "parse"], "parse job files")
            .body(body)
            .safe_to_repeat();
        self.call(call).await.map(|indexed| indexed.value)
    }

    /// `PUT /v1/job/:id/plan` with the diff.
    pub async fn plan(&self, job: &Value) -> Result<PlanResponse, NomadError> {
        let id = job_id(job)?;
        let call = Call::new(Method::PUT, vec!["job", id, "plan"], format!("plan job {id}"))
            .body(json!({ "Job": job, "Diff": true, "PolicyOverride": false }))
            .safe_to_repeat();
        self.call(call).await.map(|indexed| indexed.value)
    }

    /// `POST /v1/jobs`. With `enforce_index`, Nomad registers only if the job's modify index
    /// still equals it (0: the job must not exist); otherwise this returns `Conflict`. Only
    /// then is it sent again after Nomad failed in the middle of it: a second try cannot
    /// register twice.
    pub async fn register(
        &self,
        job: &Value,
        enforce_index: Option<u64>,
    ) -> Result<RegisterResponse, NomadError> {
        let id = job_id(job)?;
        let mut body = json!({ "Job": job });
        let mut call = Call::new(Method::POST, vec!["jobs"], format!("register job {id}"));
        if let Some(index) = enforce_index {
            body["EnforceIndex"] = json!(true);
            body["JobModifyIndex"] = json!(index);
            call = call.safe_to_repeat();
        }
        match self.call(call.body(body)).await {
            Ok(indexed) => Ok(indexed.value),
            Err(NomadError::Server { status, body, tries, .. })
                if status == 409 || body.contains("job modify index") =>
            {
                let mut detail = body.trim().to_string();
                if tries.attempts > 1 {
                    // A failed try may have registered the job before failing.
                    detail.push_str(&format!(
                        "; an earlier try failed{tries}, and may have registered it: see the \
                         job's versions"
                    ));
                }
                Err(NomadError::Conflict { job: id.to_string(), detail })
            }
            Err(err) => Err(err),
        }
    }

    /// `GET /v1/job/:id`.
    pub async fn job(&self, id: &str) -> Result<Indexed<JobInfo>, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", id], format!("read job {id}"))
                .not_found(format!("job {id}")),
        )
        .await
    }

    /// `GET /v1/job/:id` as Nomad sends it: the whole job, every field kept (what `adopt`
    /// writes into a file comes from here).
    pub async fn job_definition(&self, id: &str) -> Result<Value, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", id], format!("read job {id}"))
                .not_found(format!("job {id}")),
        )
        .await
        .map(|indexed| indexed.value)
    }

    /// `GET /v1/jobs?meta=true` in this client's namespace: every job's stub with its `Meta`.
    pub async fn jobs_with_meta(&self) -> Result<Vec<JobStub>, NomadError> {
        let call = Call::new(Method::GET, vec!["jobs"], "list jobs").query("meta", "true");
        self.call(call).await.map(|indexed| indexed.value)
    }

    /// `GET /v1/job/:id/summary`.
    pub async fn job_summary(&self, id: &str) -> Result<JobSummary, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", id, "summary"], format!("read job {id}"))
                .not_found(format!("job {id}")),
        )
        .await
        .map(|indexed| indexed.value)
    }

    /// `GET /v1/job/:id/versions`.
    pub async fn job_versions(&self, id: &str) -> Result<JobVersions, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", id, "versions"], format!("read job {id}"))
                .not_found(format!("job {id}")),
        )
        .await
        .map(|indexed| indexed.value)
    }

    /// `GET /v1/evaluation/:id`, blocking.
    pub async fn evaluation(
        &self,
        id: &str,
        blocking: Blocking,
    ) -> Result<Indexed<Evaluation>, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["evaluation", id], format!("read evaluation {id}"))
                .not_found(format!("evaluation {id}"))
                .blocking(blocking),
        )
        .await
    }

    /// `GET /v1/job/:id/deployment`, blocking: the latest deployment, if any.
    pub async fn latest_deployment(
        &self,
        job: &str,
        blocking: Blocking,
    ) -> Result<Indexed<Option<Deployment>>, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", job, "deployment"], format!("read job {job}"))
                .not_found(format!("job {job}"))
                .blocking(blocking),
        )
        .await
    }

    /// `GET /v1/job/:id/allocations`, blocking.
    pub async fn job_allocations(
        &self,
        job: &str,
        blocking: Blocking,
    ) -> Result<Indexed<Vec<AllocationStub>>, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["job", job, "allocations"], format!("read job {job}"))
                .not_found(format!("job {job}"))
                .query("all", "true")
                .blocking(blocking),
        )
        .await
    }

    /// `GET /v1/allocation/:id`.
    pub async fn allocation(&self, id: &str) -> Result<Allocation, NomadError> {
        self.call(
            Call::new(Method::GET, vec!["allocation", id], format!("read allocation {id}"))
                .not_found(format!("allocation {id}")),
        )
        .await
        .map(|indexed| indexed.value)
    }

    /// The last `bytes` of a task's log (`/v1/client/fs/logs/:alloc`, plain text from the end).
    pub async fn task_log_tail(
        &self,
        alloc: &str,
        task: &str,
        stream: LogStream,
        bytes: u64,
    ) -> Result<String, NomadError> {
        let kind = match stream {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        };
        let call = Call::new(
            Method::GET,
            vec!["client", "fs", "logs", alloc],
            format!("read the logs of allocation {alloc}"),
        )
        .not_found(format!("logs of task {task} in allocation {alloc}"))
        .query("task", task)
        .query("type", kind)
        .query("origin", "end")
        .query("offset", bytes.to_string())
        .query("plain", "true");
        let answer = self.send(&call).await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    /// `POST /v1/job/:id/revert` to `version`; with `enforce_prior_version`, only if the
    /// current version is still that one.
    pub async fn revert(
        &self,
        job: &str,
        version: u64,
        enforce_prior_version: Option<u64>,
    ) -> Result<RegisterResponse, NomadError> {
        let mut body = json!({ "JobID": job, "JobVersion": version });
        let mut call =
            Call::new(Method::POST, vec!["job", job, "revert"], format!("revert job {job}"))
                .not_found(format!("job {job}"));
        if let Some(prior) = enforce_prior_version {
            body["EnforcePriorVersion"] = json!(prior);
            call = call.safe_to_repeat();
        }
        let call = call.body(body);
        self.call(call).await.map(|indexed| indexed.value)
    }

    /// `DELETE /v1/job/:id`: stop the job (kept in history, not purged).
    pub async fn stop(&self, job: &str) -> Result<RegisterResponse, NomadError> {
        let call = Call::new(Method::DELETE, vec!["job", job], format!("stop job {job}"))
            .not_found(format!("job {job}"));
        self.call(call).await.map(|indexed| indexed.value)
    }

    /// Sends a call and reads its JSON body and index.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<Indexed<T>, NomadError> {
        let answer = self.send(&call).await?;
        let value = serde_json::from_slice(&answer.body).map_err(|err| {
            NomadError::BadResponse { what: call.action.clone(), detail: err.to_string() }
        })?;
        Ok(Indexed { value, index: answer.index })
    }

    /// Sends a call under the retry policy (a blocking query's own wait comes on top of its
    /// total time); maps error statuses.
    async fn send(&self, call: &Call<'_>) -> Result<Answer, NomadError> {
        let mut policy = self.config.retry;
        if call.blocking.index > 0 {
            policy.total += call.blocking.wait + call.blocking.wait / 16;
        }
        let out_of_time = || NomadError::Timeout {
            address: shown_address(&self.config.address),
            what: format!("the request to {}", call.action),
            seconds: policy.total.as_secs(),
        };
        let (result, tries) =
            retry::call(&policy, call.repeat, || self.send_once(call), out_of_time).await;
        result.map_err(|err| err.after(tries))
    }

    /// One try, its answer read whole; a failure says what it means for trying again.
    async fn send_once(&self, call: &Call<'_>) -> Result<Answer, (NomadError, Transience)> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(&call.segments);
        }
        let mut query = call.query.clone();
        if let Some(namespace) = &self.config.namespace {
            query.push(("namespace", namespace.clone()));
        }
        if let Some(region) = &self.config.region {
            query.push(("region", region.clone()));
        }
        let mut timeout = self.config.request_timeout;
        if call.blocking.index > 0 && !call.blocking.wait.is_zero() {
            query.push(("index", call.blocking.index.to_string()));
            query.push(("wait", format!("{}ms", call.blocking.wait.as_millis())));
            // Nomad adds up to wait/16 of jitter before answering.
            timeout = call.blocking.wait + call.blocking.wait / 16 + self.config.request_timeout;
        }
        let mut request =
            self.http.request(call.method.clone(), url).query(&query).timeout(timeout);
        if let Some(token) = &self.config.token {
            request = request.header("X-Nomad-Token", token.as_str());
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let transport = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            (self.transport_error(call, err), transience)
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let index = response
            .headers()
            .get("X-Nomad-Index")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        let asked = retry::asked_wait_in(response.headers(), None);
        let body = response.bytes().await.map_err(transport)?.to_vec();
        if status.is_success() {
            return Ok(Answer { index, body });
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        // Nomad answers 500 when the state a write names is not the state it has ("Enforcing
        // job modify index 12: job exists with conflicting job modify index: 15", "... enforcing
        // version 3") or a revert cannot be made ("can't revert to current version"): those
        // refusals are final, whatever their status.
        let lower = text.to_ascii_lowercase();
        let transience = if lower.contains("enforcing") || lower.contains("can't revert") {
            Transience::Final
        } else {
            retry::status_transience(status.as_u16(), asked)
        };
        Err((self.status_error(call, status, text), transience))
    }

    fn status_error(&self, call: &Call<'_>, status: StatusCode, body: String) -> NomadError {
        match status {
            StatusCode::FORBIDDEN => NomadError::PermissionDenied {
                who: if self.config.token.is_some() {
                    "the token in NOMAD_TOKEN".into()
                } else {
                    "anonymous access (NOMAD_TOKEN is not set)".into()
                },
                action: format!("{} in namespace {}", call.action, self.namespace()),
            },
            StatusCode::NOT_FOUND if call.not_found.is_some() => NomadError::NotFound {
                what: call.not_found.clone().unwrap_or_default(),
                namespace: self.namespace().to_string(),
            },
            _ => NomadError::Server {
                status: status.as_u16(),
                what: call.action.clone(),
                body: self.redactor.redact(body.trim()).chars().take(2000).collect(),
                tries: Tries::default(),
            },
        }
    }

    fn transport_error(&self, call: &Call<'_>, err: reqwest::Error) -> NomadError {
        if err.is_timeout() {
            let seconds = if call.blocking.index > 0 {
                (call.blocking.wait + self.config.request_timeout).as_secs()
            } else {
                self.config.request_timeout.as_secs()
            };
            NomadError::Timeout {
                address: shown_address(&self.config.address),
                what: format!("the request to {}", call.action),
                seconds,
            }
        } else if err.is_decode() || err.is_body() {
            NomadError::BadResponse {
                what: call.action.clone(),
                detail: crate::http::error_chain(&err.without_url()),
            }
        } else {
            // The URL is left out: it is the address (shown once) and may carry a password.
            NomadError::Unreachable {
                address: shown_address(&self.config.address),
                reason: self.redactor.redact(&crate::http::error_chain(&err.without_url())),
                tries: Tries::default(),
            }
        }
    }
}

/// The innermost causes of an error, which say more than reqwest's top-level message.
fn read_pem(path: &PathBuf, variable: &str) -> Result<Vec<u8>, NomadError> {
    std::fs::read(path)
        .map_err(|err| NomadError::Config(format!("{variable} {}: {err}", path.display())))
}

/// The job's `ID` (or `Name`), needed in request paths.
pub fn job_id(job: &Value) -> Result<&str, NomadError> {
    job.get("ID")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .or_else(|| job.get("Name").and_then(Value::as_str).filter(|name| !name.is_empty()))
        .ok_or_else(|| NomadError::Config("the job has neither an ID nor a Name".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let settings = Settings::from_vars([("NOMAD_SKIP_VERIFY", "maybe")]);
        let err = NomadClient::from_settings(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid Nomad setting: NOMAD_SKIP_VERIFY=\"maybe\" is not a boolean"
        );
        let config =
            NomadConfig { address: "unix:///var/run/nomad.sock".into(), ..Default::default() };
        let err = NomadClient::new(config).unwrap_err();
        assert!(err.to_string().contains("NOMAD_ADDR"), "{err}");
        let config =
            NomadConfig { client_cert: Some("/nonexistent.pem".into()), ..Default::default() };
        let err = NomadClient::new(config).unwrap_err();
        assert!(err.to_string().contains("NOMAD_CLIENT_CERT"), "{err}");
    }

    #[test]
    fn a_job_namespace_wins_over_the_environment() {
        let client = NomadClient::new(NomadConfig {
            namespace: Some("apps".into()),
            ..NomadConfig::default()
        })
        .unwrap();
        assert_eq!(
            client.for_job(&json!({"ID": "web", "Namespace": "batch"})).namespace(),
            "batch"
        );
        assert_eq!(client.for_job(&json!({"ID": "web", "Namespace": ""})).namespace(), "apps");
        assert_eq!(client.for_job(&json!({"ID": "web"})).namespace(), "apps");
    }

    #[test]
    fn job_id_falls_back_to_name() {
        assert_eq!(job_id(&json!({"ID": "web"})).unwrap(), "web");
        assert_eq!(job_id(&json!({"ID": "", "Name": "api"})).unwrap(), "api");
        assert!(job_id(&json!({})).is_err());
    }
}
