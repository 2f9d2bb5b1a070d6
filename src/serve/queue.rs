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
//! - **Locks in Consul** when Consul is configured too (`CONSUL_HTTP_ADDR`): the same lock
//!   paths are Consul KV keys, each taken with `?acquire` by a session of its own whose TTL is
//!   the lock TTL, renewed while the work runs; a dead replica's sessions lapse (up to twice
//!   the TTL), their keys stay closed for the lock delay (the TTL, at most 60 s), then another
//!   replica takes the work over. The queue itself stays in Nomad Variables.
//!
//! A replica that cannot renew a lock for a whole TTL counts it as lost, as when it is told
//! so: it finishes the item it is running and takes no more of that change request.
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
use crate::infra::consul::{ConsulClient, SessionLock};
use crate::nomad::{NomadClient, VariableLock};

const QUEUE_PREFIX: &str = "nomad-spec/serve/queue/";
const LOCK_PREFIX: &str = "nomad-spec/serve/lock/";
const DEPLOY_PREFIX: &str = "nomad-spec/serve/deploy/";
/// Consul refuses a longer lock delay.
const CONSUL_MAX_LOCK_DELAY: Duration = Duration::from_secs(60);

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
    Consul(SessionLock),
}

/// Where the queue lives.
pub enum Store {
    Memory(Mutex<BTreeMap<String, VecDeque<Work>>>),
    /// The queue in Nomad Variables; the locks there too, or in Consul when `consul` is set.
    Nomad {
        client: Box<NomadClient>,
        ttl: Duration,
        consul: Option<Box<ConsulClient>>,
    },
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
            Store::Nomad { client, ttl, consul } => {
                let prefix = if deploy { DEPLOY_PREFIX } else { LOCK_PREFIX };
                let path = format!("{prefix}{key}");
                match consul {
                    Some(consul) => {
                        let delay = (*ttl).min(CONSUL_MAX_LOCK_DELAY);
                        let holder = format!("nomad-spec serve (pid {})", std::process::id());
                        let lock = consul.acquire_lock(&path, *ttl, delay, &holder).await?;
                        Ok(lock.map(Held::Consul))
                    }
                    None => {
                        let lock = client.acquire_variable_lock(&path, *ttl, *ttl).await?;
                        Ok(lock.map(Held::Nomad))
                    }
                }
            }
        }
    }

    /// Renews a held lock; `false` when it was lost.
    async fn renew(&self, held: &Held) -> anyhow::Result<bool> {
        match (self, held) {
            (Store::Nomad { client, .. }, Held::Nomad(lock)) => {
                Ok(client.renew_variable_lock(lock).await?)
            }
            (Store::Nomad { consul: Some(consul), .. }, Held::Consul(lock)) => {
                Ok(consul.renew_lock(lock).await?)
            }
            _ => Ok(true),
        }
    }

    async fn release(&self, held: &Held) {
        match (self, held) {
            (Store::Nomad { client, .. }, Held::Nomad(lock)) => {
                if let Err(err) = client.release_variable_lock(lock).await {
                    tracing::warn!("could not release the lock on {}: {err}", lock.path);
                }
            }
            (Store::Nomad { consul: Some(consul), .. }, Held::Consul(lock)) => {
                if let Err(err) = consul.release_lock(lock).await {
                    tracing::warn!("could not release the lock on {}: {err}", lock.key);
                }
            }
            _ => {}
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

    /// Renews `held` every `limits.renew` until aborted; `lost` turns true when it is gone:
    /// the store says so, or no renewal went through for a whole TTL (the lock has lapsed
    /// for everyone else by then).
    fn keep(&self, held: Held, lost: Arc<AtomicBool>) -> tokio::task::AbortHandle {
        let Store::Nomad { client, ttl, consul } = &self.store else {
            return tokio::spawn(async {}).abort_handle();
        };
        let (every, ttl) = (self.limits.renew, *ttl);
        let store = Store::Nomad { client: client.clone(), ttl, consul: consul.clone() };
        tokio::spawn(async move {
            let mut renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(every).await;
                match store.renew(&held).await {
                    Ok(true) => renewed = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::warn!("a work lock was lost; its work is left to the replica that holds it now");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(err) if renewed.elapsed() >= ttl => {
                        tracing::warn!(
                            "a work lock could not be renewed for its whole TTL ({}s), so it is \
                             taken for lost: {err:#}",
                            ttl.as_secs()
                        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{PullRequest, PullRequestAction, Repository};

    fn pull_request(repository: &str, number: u64, merged: bool) -> Work {
        let repository =
            Repository { full_name: repository.to_string(), default_branch: "main".into() };
        let pull_request = PullRequest {
            number,
            title: format!("change {number}"),
            author: "alice".into(),
            head_sha: format!("{number:040x}"),
            head_ref: format!("change-{number}"),
            base_ref: "main".into(),
            from_fork: false,
            draft: false,
        };
        let trigger = if merged {
            Trigger::PullRequestMerged { repository, pull_request, merge_sha: "f".repeat(40) }
        } else {
            Trigger::PullRequestChanged {
                repository,
                pull_request,
                action: PullRequestAction::Opened,
            }
        };
        let name = match &trigger {
            Trigger::PullRequestMerged { repository, .. }
            | Trigger::PullRequestChanged { repository, .. } => repository.full_name.clone(),
            _ => String::new(),
        };
        Work {
            delivery: format!("{name}#{number}"),
            forge: "github".into(),
            repository: name,
            installation: None,
            trigger,
        }
    }

    /// What the runs did at once.
    #[derive(Default)]
    struct Overlap {
        running: usize,
        most_running: usize,
        deploying: HashMap<String, usize>,
        most_deploying: HashMap<String, usize>,
        done: Vec<String>,
    }

    #[tokio::test]
    async fn runs_stay_within_the_worker_limit_and_one_repositorys_deploys_never_overlap() {
        let overlap = Arc::new(Mutex::new(Overlap::default()));
        let execute: Execute = {
            let overlap = Arc::clone(&overlap);
            Arc::new(move |work: Work| {
                let overlap = Arc::clone(&overlap);
                Box::pin(async move {
                    let deploys = work.may_deploy();
                    {
                        let mut seen = lock(&overlap);
                        seen.running += 1;
                        seen.most_running = seen.most_running.max(seen.running);
                        if deploys {
                            let now = {
                                let count = seen.deploying.entry(work.repository.clone());
                                let count = count.or_default();
                                *count += 1;
                                *count
                            };
                            let most = seen.most_deploying.entry(work.repository.clone());
                            let most = most.or_default();
                            *most = (*most).max(now);
                        }
                    }
                    // Long enough for every run the limits let through to be running together.
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    let mut seen = lock(&overlap);
                    seen.running -= 1;
                    if deploys {
                        *seen.deploying.entry(work.repository.clone()).or_default() -= 1;
                    }
                    seen.done.push(work.delivery.clone());
                    Ok("success".to_string())
                })
            })
        };
        let limits =
            Limits { workers: 3, poll: Duration::from_millis(20), renew: Duration::from_millis(5) };
        let scheduler = Arc::new(Scheduler::new(Store::memory(), execute, limits, Arc::default()));
        // Two pull requests of one repository merged at once (they come first in the queue's
        // order, so without the deploy lock they would run side by side), and eight pull
        // requests of other repositories opened.
        let mut works =
            vec![pull_request("acme/shop", 1, true), pull_request("acme/shop", 2, true)];
        works.extend((1..=8).map(|n| pull_request(&format!("zeta/app-{n}"), n, false)));
        for work in &works {
            assert_eq!(scheduler.submit(work.clone()).await.ok(), Some(true));
        }
        let (stop, stopped) = watch::channel(false);
        let dispatch = tokio::spawn(Arc::clone(&scheduler).run(stopped));
        // Shutting down with the process's own queue drains it first.
        let _ = stop.send(true);
        dispatch.await.unwrap_or_else(|err| panic!("the scheduler panicked: {err}"));

        let seen = lock(&overlap);
        let mut done = seen.done.clone();
        done.sort();
        let mut expected: Vec<String> = works.iter().map(|w| w.delivery.clone()).collect();
        expected.sort();
        assert_eq!(done, expected, "every delivery ran once");
        assert_eq!(seen.most_running, 3, "as many runs at once as workers, never more");
        assert_eq!(seen.most_deploying.get("acme/shop"), Some(&1), "one deploy at a time");
    }

    #[tokio::test]
    async fn a_lock_that_cannot_be_renewed_for_a_whole_ttl_is_taken_for_lost() {
        let nomad = fakes::nomad::FakeNomad::start(fakes::nomad::Scenario::default())
            .unwrap_or_else(|err| panic!("{err}"));
        let vars = BTreeMap::from([
            ("NOMAD_ADDR".to_string(), nomad.url()),
            ("NOMAD_SPEC_RETRY_ATTEMPTS".to_string(), "1".to_string()),
        ]);
        let config = crate::settings::Settings::from_vars(&vars).configured_nomad();
        let config = config.ok().flatten().unwrap_or_else(|| panic!("no Nomad settings"));
        let client = NomadClient::new(config).unwrap_or_else(|err| panic!("{err}"));
        let path = "nomad-spec/serve/lock/github~3Aacme~2Fshop~231";
        let ten = Duration::from_secs(10);
        let held = client.acquire_variable_lock(path, ten, ten).await;
        let held = held.ok().flatten().unwrap_or_else(|| panic!("not acquired"));
        // The scheduler's TTL is short, so a whole TTL of failed renewals passes quickly.
        let ttl = Duration::from_millis(300);
        let store = Store::Nomad { client: Box::new(client), ttl, consul: None };
        let limits = Limits {
            workers: 1,
            poll: Duration::from_millis(20),
            renew: Duration::from_millis(20),
        };
        let execute: Execute = Arc::new(|_| Box::pin(async { Ok(String::new()) }));
        let scheduler = Scheduler::new(store, execute, limits, Arc::default());

        // Renewals that go through keep it.
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = scheduler.keep(Held::Nomad(held.clone()), Arc::clone(&lost));
        tokio::time::sleep(ttl * 2).await;
        assert!(!lost.load(Ordering::SeqCst), "renewed, not lost");
        // Nomad out of reach (every call refused): lost once a whole TTL has gone by.
        nomad.faults().play(fakes::faults::Fault::status(503, "no leader").on("PUT", "/v1/var/"));
        for _ in 0..1000 {
            if lost.load(Ordering::SeqCst) {
                break;
            }
            assert!(!renewal.is_finished(), "the renewal ended without saying the lock was lost");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(lost.load(Ordering::SeqCst), "still not taken for lost");
        assert!(renewal.is_finished());
    }
}
