//! `nomad-spec serve`: the bot as a webhook server, one for every repository of an
//! organisation (a GitHub App, or a GitLab group webhook) instead of a CI job per repository.
//!
//! ```text
//! POST /webhooks/github ─┐  check (webhook.rs)     queue (queue.rs)        the workflow
//! POST /webhooks/gitlab ─┴▶ signature/token, age, ─▶ per change request, ─▶ workflow::run_trigger
//!                           seen before?  ─▶ 202     locks in Nomad          (as `ci` runs it)
//! ```
//!
//! A delivery is checked and queued, and answered at once (202); the run happens in the
//! background with the clients a CI job would have for that repository: the server's own
//! settings with the repository, the API addresses and a token for it (a GitHub App's
//! installation token, [`github_app`], or the configured token). `/healthz` says the process
//! answers, `/readyz` that it takes work (not shutting down, its queue reachable), `/metrics`
//! what it did ([`metrics`]). SIGTERM or Ctrl-C: stop taking deliveries, finish the runs in
//! progress, leave the rest of a shared queue to the other replicas. At start it removes the
//! clones that runs stopped mid-way (a replica killed by its scheduler) left in the temporary
//! folder over a day ago.

pub mod github_app;
pub mod metrics;
pub mod queue;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::forge::ForgeKind;
use crate::nomad::NomadClient;
use crate::settings::{GitHubAuth, PrivateKey, ServeSettings, Settings, BOT_LOGIN, GITLAB_TOKEN};
use crate::workflow::{self, Runner};
use github_app::GitHubApp;
use metrics::Metrics;
use queue::{Limits, Scheduler, Store, Work};
use webhook::{Accepted, Deliveries, GitHubCheck, GitLabCheck, Refusal};

/// The stack of a run's thread (and of its runtime's worker): a whole run is one future polled
/// on that thread, deep in a debug build, and the 2 MiB a thread gets by default overflowed
/// once the deploy loop asked memory asynchronously. The pages are only reserved, not used.
const RUN_STACK_BYTES: usize = 16 * 1024 * 1024;
/// GitHub's own limit on a delivery's body.
const MAX_BODY: usize = 25 * 1024 * 1024;
/// How old a clone left in the temporary folder must be for the start-up to remove it: a
/// replica stopped mid-run leaves one; a day is far longer than any run.
const STALE_WORKSPACE: Duration = Duration::from_secs(24 * 3600);
/// Delivery IDs remembered (an hour of deliveries at three a second).
const REMEMBERED_DELIVERIES: usize = 10_000;

/// How the server runs, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// Change requests worked on at once.
    pub workers: usize,
    /// The oldest event a GitHub delivery may describe.
    pub max_age: Duration,
    /// How often the shared queue is looked at for work another replica left.
    pub poll: Duration,
    /// The TTL of the locks in Nomad Variables (10 s to 24 h).
    pub lock_ttl: Duration,
    /// How often a held lock is renewed (well inside its TTL).
    pub lock_renew: Duration,
}

/// The server's state, shared by the handlers and the scheduler's runs.
struct Server {
    settings: Settings,
    serve: ServeSettings,
    github: Option<GitHubCheck>,
    gitlab: Option<GitLabCheck>,
    app: Option<GitHubApp>,
    /// The login the bot comments as on GitHub.
    github_login: Option<String>,
    deliveries: Mutex<Deliveries>,
    scheduler: Arc<Scheduler>,
    metrics: Arc<Metrics>,
    accepting: AtomicBool,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings, options: Options) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let signal = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    tokio::spawn(signal);
    serve_until(settings, options, stopped).await
}

/// Runs the server until `shutdown` turns true.
pub async fn serve_until(
    settings: Settings,
    options: Options,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let serve = settings.serve()?;
    let metrics = Arc::new(Metrics::default());
    let github = serve
        .github
        .as_ref()
        .map(|github| GitHubCheck::new(github.webhook_secret.as_str(), options.max_age));
    let gitlab = match &serve.gitlab {
        Some(gitlab) => Some(
            GitLabCheck::new(gitlab.webhook_token.as_str(), gitlab.bot_login.clone())
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?,
        ),
        None => None,
    };
    let (app, github_login) = match &serve.github {
        Some(github) => match &github.auth {
            GitHubAuth::App { id, private_key } => {
                let pem = match private_key {
                    PrivateKey::Pem(pem) => pem.as_str().to_string(),
                    PrivateKey::File(path) => std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the GitHub App's private key {}", path.display())
                    })?,
                };
                let app = GitHubApp::new(*id, &pem, &github.api_url)?;
                let login = match &github.bot_login {
                    Some(login) => login.clone(),
                    None => app
                        .bot_login()
                        .await
                        .context("cannot ask GitHub for the App's name (is the App id right?)")?,
                };
                (Some(app), Some(login))
            }
            GitHubAuth::Token(_) => (None, github.bot_login.clone()),
        },
        None => (None, None),
    };
    let store = match settings.configured_nomad()? {
        Some(config) => {
            // With Consul configured the locks are Consul session locks (the queue stays in
            // Nomad Variables).
            let consul = crate::infra::consul::ConsulClient::configured(&settings)
                .context("Consul is configured for the locks but unusable")?
                .map(Box::new);
            Store::Nomad {
                client: Box::new(NomadClient::new(config)?),
                ttl: options.lock_ttl,
                consul,
            }
        }
        None => Store::memory(),
    };
    let shared_queue = matches!(store, Store::Nomad { .. });
    let locks_in = match &store {
        Store::Nomad { consul: Some(_), .. } => "locks in Consul sessions",
        Store::Nomad { consul: None, .. } => "locks in Nomad Variables",
        Store::Memory(_) => "no locks",
    };
    let limits = Limits { workers: options.workers, poll: options.poll, renew: options.lock_renew };

    // The scheduler runs work through the server, which owns the scheduler: the server is
    // built around a slot the scheduler's closure reads.
    let slot: Arc<std::sync::OnceLock<std::sync::Weak<Server>>> = Arc::default();
    let execute: queue::Execute = {
        let slot = Arc::clone(&slot);
        Arc::new(move |work: Work| {
            let server = slot.get().and_then(std::sync::Weak::upgrade);
            Box::pin(async move {
                let server = server.context("the server is shutting down")?;
                server.run(work).await
            })
        })
    };
    let scheduler = Arc::new(Scheduler::new(store, execute, limits, Arc::clone(&metrics)));
    let server = Arc::new(Server {
        settings,
        serve,
        github,
        gitlab,
        app,
        github_login,
        deliveries: Mutex::new(Deliveries::new(REMEMBERED_DELIVERIES)),
        scheduler: Arc::clone(&scheduler),
        metrics,
        accepting: AtomicBool::new(true),
    });
    let _ = slot.set(Arc::downgrade(&server));

    // Off the start-up path: removing old clones can take a while and serves nobody now.
    tokio::task::spawn_blocking(|| {
        let folder = std::env::temp_dir();
        let swept = crate::git::sweep_stale_workspaces(&folder, STALE_WORKSPACE);
        if !swept.is_empty() {
            let count = swept.len();
            tracing::info!(
                "removed {count} clone(s) left over a day ago by stopped runs, in {}",
                folder.display()
            );
        }
    });
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    // The first line on stdout names the address (a port of 0 is chosen by the system).
    println!("nomad-spec serve: listening on {address}");
    tracing::info!(
        "serving {} with {} queue, {locks_in}",
        [("GitHub", server.github.is_some()), ("GitLab", server.gitlab.is_some())]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" and "),
        if shared_queue { "a shared (Nomad Variables)" } else { "an in-process" }
    );

    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text));
    if server.github.is_some() {
        router = router.route("/webhooks/github", post(github_delivery));
    }
    if server.gitlab.is_some() {
        router = router.route("/webhooks/gitlab", post(gitlab_delivery));
    }
    let router = router.layer(DefaultBodyLimit::max(MAX_BODY)).with_state(Arc::clone(&server));

    let dispatch = tokio::spawn(Arc::clone(&scheduler).run(shutdown.clone()));
    let http = {
        let mut shutdown = shutdown.clone();
        let server = Arc::clone(&server);
        axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
            server.accepting.store(false, Ordering::SeqCst);
        })
    };
    http.await.context("the HTTP server stopped")?;
    let _ = shutdown.wait_for(|stop| *stop).await;
    server.accepting.store(false, Ordering::SeqCst);
    eprintln!("nomad-spec serve: shutting down, finishing {} run(s)", scheduler.in_flight());
    dispatch.await.context("the scheduler stopped abnormally")?;
    eprintln!("nomad-spec serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn header_reader(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn github_delivery(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(check) = &server.github else {
        return (StatusCode::NOT_FOUND, "GitHub webhooks are not served\n").into_response();
    };
    let now = chrono::Utc::now().timestamp();
    let checked = check.accept(header_reader(&headers), &body, now);
    server.take(checked).await
}

async fn gitlab_delivery(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(check) = &server.gitlab else {
        return (StatusCode::NOT_FOUND, "GitLab webhooks are not served\n").into_response();
    };
    let checked = check.accept(header_reader(&headers), &body);
    server.take(checked).await
}

async fn ready(State(server): State<Arc<Server>>) -> Response {
    if !server.accepting.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match server.scheduler.store().depth().await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("the work queue: {err:#}\n")).into_response()
        }
    }
}

async fn metrics_text(State(server): State<Arc<Server>>) -> Response {
    let depth = server.scheduler.store().depth().await.ok();
    let text = server.metrics.render(depth, server.scheduler.in_flight());
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

impl Server {
    /// Queues a checked delivery and says so; refusals, duplicates and ignored events are
    /// answered with the reason.
    async fn take(&self, checked: Result<Accepted, Refusal>) -> Response {
        if !self.accepting.load(Ordering::SeqCst) {
            return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
        }
        let accepted = match checked {
            Ok(accepted) => accepted,
            Err(refusal) => {
                self.metrics.refused.inc();
                tracing::warn!("delivery refused: {refusal}");
                let status =
                    StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
                return (status, format!("{refusal}\n")).into_response();
            }
        };
        if let crate::event::Trigger::Ignored { reason } = &accepted.trigger {
            self.metrics.ignored.inc();
            return (StatusCode::OK, format!("ignored: {reason}\n")).into_response();
        }
        let first = self
            .deliveries
            .lock()
            .map(|mut seen| seen.first_time(&accepted.delivery))
            .unwrap_or(true);
        if !first {
            self.metrics.duplicates.inc();
            return (StatusCode::OK, "duplicate delivery: already queued\n").into_response();
        }
        let delivery = accepted.delivery.clone();
        let work = Work {
            delivery: accepted.delivery,
            forge: match accepted.forge {
                ForgeKind::GitHub => "github",
                ForgeKind::GitLab => "gitlab",
            }
            .to_string(),
            repository: accepted.repository,
            installation: accepted.installation,
            trigger: accepted.trigger,
        };
        let what = format!("{} ({})", workflow::describe(&work.trigger), work.key());
        match self.scheduler.submit(work).await {
            Ok(true) => {
                self.metrics.accepted.inc();
                tracing::info!("delivery {delivery} queued: {what}");
                (StatusCode::ACCEPTED, format!("queued: {what}\n")).into_response()
            }
            Ok(false) => {
                self.metrics.duplicates.inc();
                (StatusCode::OK, "duplicate delivery: already queued\n").into_response()
            }
            Err(err) => {
                // Not queued: the forge's redelivery must not be taken for a duplicate.
                if let Ok(mut seen) = self.deliveries.lock() {
                    seen.forget(&delivery);
                }
                self.metrics.queue_errors.inc();
                tracing::warn!("delivery {delivery} could not be queued: {err:#}");
                (StatusCode::SERVICE_UNAVAILABLE, format!("cannot queue the delivery: {err:#}\n"))
                    .into_response()
            }
        }
    }

    /// Runs one item of work as a CI job for its repository would; the run's verdict.
    ///
    /// The workflow clones, reads and analyzes on the thread that polls it, so it runs on a
    /// thread and a runtime of its own: the server's threads stay free to answer deliveries
    /// within milliseconds while runs are busy.
    async fn run(&self, work: Work) -> anyhow::Result<String> {
        let kind = work.forge_kind();
        let settings = self.settings_for(&work).await?;
        let (done, result) = tokio::sync::oneshot::channel();
        let name = format!("run {}", work.delivery);
        std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .stack_size(RUN_STACK_BYTES)
            .spawn(move || {
                let verdict = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_stack_size(RUN_STACK_BYTES)
                    .enable_all()
                    .build()
                    .context("cannot start a runtime for the run")
                    .and_then(|runtime| {
                        let runner = Runner::Local;
                        let run = workflow::run_trigger(kind, &settings, &runner, &work.trigger);
                        runtime.block_on(run).map(|report| report.verdict)
                    });
                let _ = done.send(verdict);
            })
            .with_context(|| format!("cannot start a thread for {name}"))?;
        result.await.context("the run's thread ended without a verdict")?
    }

    /// The settings a CI job for the work's repository would have: the server's own, with the
    /// forge's addresses, the repository and a token for it.
    async fn settings_for(&self, work: &Work) -> anyhow::Result<Settings> {
        let mut vars = self.settings.vars().clone();
        // Nothing of a CI run the server may itself be started from belongs to this run.
        vars.retain(|name, _| {
            !name.starts_with("CI_")
                && !name.starts_with("GITHUB_EVENT")
                && name != "GITHUB_ACTIONS"
                && name != "GITLAB_CI"
                && name != "GITHUB_RUN_ID"
                && name != "TRIGGER_PAYLOAD"
        });
        match work.forge_kind() {
            ForgeKind::GitHub => {
                let github = self.serve.github.as_ref().context("GitHub is not served")?;
                let token = match (&github.auth, &self.app) {
                    (GitHubAuth::App { .. }, Some(app)) => {
                        let now = chrono::Utc::now().timestamp();
                        app.token(&work.repository, work.installation, now).await?
                    }
                    (GitHubAuth::Token(token), _) => token.as_str().to_string(),
                    (GitHubAuth::App { .. }, None) => anyhow::bail!("the GitHub App is not set up"),
                };
                vars.insert("GITHUB_API_URL".into(), github.api_url.clone());
                vars.insert("GITHUB_SERVER_URL".into(), github.server_url.clone());
                vars.insert("GITHUB_REPOSITORY".into(), work.repository.clone());
                vars.insert("GITHUB_TOKEN".into(), token);
                if let Some(login) = &self.github_login {
                    vars.insert(BOT_LOGIN.into(), login.clone());
                }
            }
            ForgeKind::GitLab => {
                let gitlab = self.serve.gitlab.as_ref().context("GitLab is not served")?;
                vars.insert("CI_API_V4_URL".into(), gitlab.api_url.clone());
                vars.insert("CI_SERVER_URL".into(), gitlab.server_url.clone());
                vars.insert("CI_PROJECT_PATH".into(), work.repository.clone());
                vars.insert(GITLAB_TOKEN.into(), gitlab.token.as_str().to_string());
            }
        }
        Ok(Settings::from_vars(vars))
    }
}
