//! The server's work queue: the deliveries it accepted, kept per change request, and the
//! scheduler that runs them.
//!
//! Work for one change request runs one item at a time, oldest first (its conversation state
//! lives in its status comment, which each run reads and rewrites); different change requests
//! run in parallel up to the worker limit; runs that may deploy (merges, pushes, comments,
//! which carry commands) take the repository's deploy lock, so two deploys of one repository
//! never overlap.
//!
//! Where the queue lives:
//! - **In the process** ([`Store::Memory`]) when Nomad is not configured: one replica only.
//! - **In Nomad Variables** ([`Store::Nomad`]) when it is: each item is a variable under
//!   `nomad-spec/serve/queue/<change request>/<delivery>`, created with `cas=0` (so a delivery
//!   two replicas receive is queued once), and a change request's items are run only by the
//!   replica holding the variable lock `nomad-spec/serve/lock/<change request>`, renewed
//!   while it works. Deploys take `nomad-spec/serve/deploy/<repository>` the same way. An item
//!   is deleted once its run is over, so a replica that dies mid-run leaves it behind; its lock
//!   expires (Nomad: up to twice the TTL, then the lock delay) and the next replica to look at
//!   the queue runs it.
//!
//! On shutdown a replica finishes the item it is running; what is still queued is drained
//! first when the queue is the process's own, and left for the other replicas when it is in
//! Nomad.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify, Semaphore};

use super::metrics::Metrics;
use crate::event::Trigger;
use crate::forge::ForgeKind;
use crate::nomad::{NomadClient, VariableLock};

const QUEUE_PREFIX: &str = "nomad-spec/serve/queue/";
const LOCK_PREFIX: &str = "nomad-spec/serve/lock/";
const DEPLOY_PREFIX: &str = "nomad-spec/serve/deploy/";

/// One accepted delivery's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Work {
    /// The forge's delivery ID.
    pub delivery: String,
    /// `github` or `gitlab`.
    pub forge: String,
    /// `owner/name` (GitLab: the project's path).
    pub repository: String,
    /// The GitHub App installation, when the payload named one.
    pub installation: Option<u64>,
    pub trigger: Trigger,
}

impl Work {
    /// The forge, as the workflow knows it.
    pub fn forge_kind(&self) -> ForgeKind {
        if self.forge == "gitlab" {
            ForgeKind::GitLab
        } else {
            ForgeKind::GitHub
        }
    }

    /// What the work is serialized on: the change request (`github:acme/shop#7`), or the
    /// repository's default branch for pushes and manual runs.
    pub fn key(&self) -> String {
        match crate::workflow::change_request_of(&self.trigger) {
            Some(number) => format!("{}:{}#{number}", self.forge, self.repository),
            None => format!("{}:{}@default", self.forge, self.repository),
        }
    }

    /// Whether its run may deploy (the pull request opening and updating never does).
    pub fn may_deploy(&self) -> bool {
        !matches!(self.trigger, Trigger::PullRequestChanged { .. } | Trigger::Ignored { .. })
    }
}

/// A key or delivery ID as one variable path segment: letters, digits, `-` and `_` kept,
/// every other byte `~XX`; a long one is its digest instead (paths hold 128 characters).
fn segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("~{byte:02X}"));
        }
    }
    if out.len() > 48 {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        out = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    }
    out
}

/// An item taken from the queue, with what removing it needs.
#[derive(Debug, Clone)]
pub struct Item {
    pub work: Work,
    /// Its variable's path (Nomad), or its delivery (memory).
    id: String,
}

/// A lock this replica holds.
#[derive(Debug, Clone)]
pub enum Held {
    Memory,
    Nomad(VariableLock),
}

/// Where the queue lives.
pub enum Store {
    Memory(Mutex<BTreeMap<String, VecDeque<Work>>>),
    Nomad { client: Box<NomadClient>, ttl: Duration },
}

impl Store {
    pub fn memory() -> Store {
        Store::Memory(Mutex::new(BTreeMap::new()))
    }

    /// Queues `work`; `false` when that delivery is queued already.
    pub async fn push(&self, work: Work) -> anyhow::Result<bool> {
        match self {
            Store::Memory(queues) => {
                let mut queues = lock(queues);
                let queue = queues.entry(work.key()).or_default();
                if queue.iter().any(|queued| queued.delivery == work.delivery) {
                    return Ok(false);
                }
                queue.push_back(work);
                Ok(true)
            }
            Store::Nomad { client, .. } => {
                let path =
                    format!("{QUEUE_PREFIX}{}/{}", segment(&work.key()), segment(&work.delivery));
                let items = BTreeMap::from([("work".to_string(), serde_json::to_string(&work)?)]);
                Ok(client.create_variable(&path, &items).await?)
            }
        }
    }

    /// The change requests with queued work (their keys' path segments for Nomad).
    pub async fn pending(&self) -> anyhow::Result<Vec<String>> {
        match self {
            Store::Memory(queues) => Ok(lock(queues)
                .iter()
                .filter(|(_, queue)| !queue.is_empty())
                .map(|(key, _)| key.clone())
                .collect()),
            Store::Nomad { client, .. } => {
                let mut keys: Vec<String> = Vec::new();
                for meta in client.variables(QUEUE_PREFIX).await? {
                    let rest = meta.path.strip_prefix(QUEUE_PREFIX).unwrap_or(&meta.path);
                    if let Some((key, _)) = rest.split_once('/') {
                        if !keys.iter().any(|k| k == key) {
                            keys.push(key.to_string());
                        }
                    }
                }
                Ok(keys)
            }
        }
    }

    /// How many items are queued (running ones included).
    pub async fn depth(&self) -> anyhow::Result<usize> {
        match self {
            Store::Memory(queues) => Ok(lock(queues).values().map(VecDeque::len).sum()),
            Store::Nomad { client, .. } => Ok(client.variables(QUEUE_PREFIX).await?.len()),
        }
    }

    /// The oldest item of `key`.
    pub async fn oldest(&self, key: &str) -> anyhow::Result<Option<Item>> {
        match self {
            Store::Memory(queues) => Ok(lock(queues)
                .get(key)
                .and_then(|queue| queue.front())
                .map(|work| Item { id: work.delivery.clone(), work: work.clone() })),
            Store::Nomad { client, .. } => {
                let prefix = format!("{QUEUE_PREFIX}{key}/");
                for meta in client.variables(&prefix).await? {
                    let Some(variable) = client.variable(&meta.path).await? else { continue };
                    let Some(text) = variable.items.get("work") else {
                        anyhow::bail!("the queued variable {} holds no `work`", meta.path);
                    };
                    let work: Work = serde_json::from_str(text).map_err(|err| {
                        anyhow::anyhow!("the queued variable {} is unreadable: {err}", meta.path)
                    })?;
                    return Ok(Some(Item { work, id: meta.path }));
                }
                Ok(None)
            }
        }
    }

    /// Removes a finished item.
    pub async fn remove(&self, key: &str, item: &Item) -> anyhow::Result<()> {
        match self {
            Store::Memory(queues) => {
                let mut queues = lock(queues);
                if let Some(queue) = queues.get_mut(key) {
                    queue.retain(|work| work.delivery != item.id);
                    if queue.is_empty() {
                        queues.remove(key);
                    }
                }
                Ok(())
            }
            Store::Nomad { client, .. } => Ok(client.delete_variable(&item.id).await?),
        }
    }

    /// The lock of change request `key` (`deploy`: of a repository's deploys); `None` while
    /// another replica holds it.
    async fn acquire(&self, key: &str, deploy: bool) -> anyhow::Result<Option<Held>> {
        match self {
            Store::Memory(_) => Ok(Some(Held::Memory)),
            Store::Nomad { client, ttl } => {
                let prefix = if deploy { DEPLOY_PREFIX } else { LOCK_PREFIX };
                let path = format!("{prefix}{key}");
                Ok(client.acquire_variable_lock(&path, *ttl, *ttl).await?.map(Held::Nomad))
            }
        }
    }

    /// Renews a held lock; `false` when it was lost.
    async fn renew(&self, held: &Held) -> anyhow::Result<bool> {
        match (self, held) {
            (Store::Nomad { client, .. }, Held::Nomad(lock)) => {
                Ok(client.renew_variable_lock(lock).await?)
            }
            _ => Ok(true),
        }
    }

    async fn release(&self, held: &Held) {
        if let (Store::Nomad { client, .. }, Held::Nomad(lock)) = (self, held) {
            if let Err(err) = client.release_variable_lock(lock).await {
                tracing::warn!("could not release the lock on {}: {err}", lock.path);
            }
        }
    }

    fn shared(&self) -> bool {
        matches!(self, Store::Nomad { .. })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How one item is run: the workflow, in the server; a recorder, in tests.
pub type Execute =
    Arc<dyn Fn(Work) -> Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send>> + Send + Sync>;

/// The scheduler's knobs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Change requests run at once.
    pub workers: usize,
    /// How often the queue is looked at besides when a delivery arrives (work another replica
    /// left behind is found this way).
    pub poll: Duration,
    /// How often a held lock is renewed.
    pub renew: Duration,
}

/// Runs the queue's work.
pub struct Scheduler {
    store: Store,
    execute: Execute,
    limits: Limits,
    metrics: Arc<Metrics>,
    /// The keys this replica is running.
    running: Mutex<HashSet<String>>,
    workers: Arc<Semaphore>,
    /// One mutex per repository, for deploys within this replica.
    deploys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    wake: Notify,
    stopping: AtomicBool,
}

impl Scheduler {
    pub fn new(store: Store, execute: Execute, limits: Limits, metrics: Arc<Metrics>) -> Scheduler {
        Scheduler {
            store,
            execute,
            workers: Arc::new(Semaphore::new(limits.workers.max(1))),
            limits,
            metrics,
            running: Mutex::new(HashSet::new()),
            deploys: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Queues `work` and wakes the dispatcher; `false` when it was queued already.
    pub async fn submit(&self, work: Work) -> anyhow::Result<bool> {
        let queued = self.store.push(work).await?;
        if queued {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// Items running in this replica.
    pub fn in_flight(&self) -> usize {
        lock(&self.running).len()
    }

    /// Dispatches work until `shutdown` turns true, then waits for what is running (and, with
    /// the process's own queue, for what is queued).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let stopping = *shutdown.borrow();
            if stopping {
                self.stopping.store(true, Ordering::SeqCst);
            }
            match self.store.pending().await {
                Ok(keys) => {
                    for key in keys {
                        if lock(&self.running).insert(key.clone()) {
                            let this = Arc::clone(&self);
                            tasks.spawn(async move { this.run_key(key).await });
                        }
                    }
                }
                Err(err) => {
                    self.metrics.queue_errors.inc();
                    tracing::warn!("cannot read the work queue: {err:#}");
                }
            }
            while tasks.try_join_next().is_some() {}
            if stopping && (self.store.shared() || tasks.is_empty()) {
                break;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.limits.poll) => {}
                _ = shutdown.changed(), if !stopping => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Runs the items of `key` one after the other while this replica holds its lock.
    async fn run_key(self: Arc<Self>, key: String) {
        let permit = Arc::clone(&self.workers).acquire_owned().await;
        let held = match self.store.acquire(&key, false).await {
            Ok(Some(held)) => Some(held),
            Ok(None) => None,
            Err(err) => {
                self.metrics.queue_errors.inc();
                tracing::warn!("cannot lock {key}: {err:#}");
                None
            }
        };
        let worked = held.is_some();
        if let Some(held) = held {
            let lost = Arc::new(AtomicBool::new(false));
            let renewal = self.keep(held.clone(), Arc::clone(&lost));
            loop {
                if lost.load(Ordering::SeqCst)
                    || (self.stopping.load(Ordering::SeqCst) && self.store.shared())
                {
                    break;
                }
                let item = match self.store.oldest(&key).await {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(err) => {
                        self.metrics.queue_errors.inc();
                        tracing::warn!("cannot read the queue of {key}: {err:#}");
                        break;
                    }
                };
                self.run_item(&key, &item).await;
            }
            renewal.abort();
            self.store.release(&held).await;
        }
        drop(permit);
        lock(&self.running).remove(&key);
        if worked {
            // Work that arrived while this key was finishing is looked at now; a key another
            // replica holds waits for the next poll.
            self.wake.notify_one();
        }
    }

    async fn run_item(&self, key: &str, item: &Item) {
        let work = item.work.clone();
        let mut deploy_lock = None;
        let local = if work.may_deploy() {
            let repo = format!("{}:{}", work.forge, work.repository);
            let mutex = Arc::clone(lock(&self.deploys).entry(repo.clone()).or_default());
            let guard = mutex.lock_owned().await;
            // Across replicas, wait for the repository's deploy lock too.
            loop {
                match self.store.acquire(&segment(&repo), true).await {
                    Ok(Some(held)) => {
                        let lost = Arc::new(AtomicBool::new(false));
                        deploy_lock = Some((self.keep(held.clone(), lost), held));
                        break;
                    }
                    Ok(None) => tokio::time::sleep(self.limits.renew).await,
                    Err(err) => {
                        self.metrics.queue_errors.inc();
                        tracing::warn!("cannot lock the deploys of {repo}: {err:#}");
                        tokio::time::sleep(self.limits.poll).await;
                    }
                }
            }
            Some(guard)
        } else {
            None
        };
        self.metrics.runs_started.inc();
        let delivery = work.delivery.clone();
        let what = work.key();
        let outcome = match (self.execute)(work).await {
            Ok(verdict) => verdict,
            Err(err) => {
                tracing::warn!("delivery {delivery} ({what}): the run failed: {err:#}");
                "error".to_string()
            }
        };
        tracing::info!("delivery {delivery} ({what}): {outcome}");
        self.metrics.outcome(&outcome);
        if let Some((renewal, held)) = deploy_lock {
            renewal.abort();
            self.store.release(&held).await;
        }
        drop(local);
        if let Err(err) = self.store.remove(key, item).await {
            self.metrics.queue_errors.inc();
            tracing::warn!("cannot remove delivery {delivery} from the queue: {err:#}");
        }
    }

    /// Renews `held` every `limits.renew` until aborted; `lost` turns true when it is gone.
    fn keep(&self, held: Held, lost: Arc<AtomicBool>) -> tokio::task::AbortHandle {
        if !self.store.shared() {
            return tokio::spawn(async {}).abort_handle();
        }
        let every = self.limits.renew;
        let client = match &self.store {
            Store::Nomad { client, ttl } => Store::Nomad { client: client.clone(), ttl: *ttl },
            Store::Memory(_) => Store::memory(),
        };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match client.renew(&held).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!("a work lock was lost; its work is left to the replica that holds it now");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(err) => tracing::warn!("cannot renew a work lock: {err:#}"),
                }
            }
        })
        .abort_handle()
    }
}
