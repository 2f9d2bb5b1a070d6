//! Memory in Qdrant (`QDRANT_URL`, `QDRANT_API_KEY`), through `qdrant-client`'s gRPC: one
//! collection per kind (`nomad-spec-episodes`, `nomad-spec-preferences`,
//! `nomad-spec-good-jobs`), cosine distance, created on first use with the dimension of the
//! vectors first written, with payload indexes on every field a [`Recall`] filters by
//! (cluster, repository, stack, category, ...) and on the day.
//!
//! A recall is one query: its filter goes to the server with the vector (or, without one,
//! with an order by day), never applied after the answer. A query with a vector also
//! filters on the embedding that made it, so vectors of two embeddings are never compared,
//! even when their dimensions agree. Each point carries its entry whole as JSON (`entry`), so
//! what comes back is what was kept.
//!
//! A preference is kept as one point per time it was given (its id a digest of the answer and
//! the run), so two runs that answer at once both count and nothing is read, changed and
//! written back; reading folds them into preferences ([`Memory::remember`]). Their vector is
//! the local embedding of key and value: preferences are matched by key, so saving one never
//! calls an embeddings endpoint.
//!
//! `nomad-spec memory` reads the collections whole ([`QdrantStore::read_all`]) and forgets
//! entries by their points' ids ([`QdrantStore::delete`]).
//!
//! Errors are the caller's notes: they name the server and never carry the API key. Once the
//! server could not be reached or refused the key, the rest of the run does not ask again.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use qdrant_client::qdrant::{
    self, vectors_config, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, GetCollectionInfoRequest, PointId, PointStruct,
    PointsIdsList, QueryPointsBuilder, ScrollPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Qdrant, QdrantError};
use tonic::Code;

use crate::memory::embedding::{self, Vector};
use crate::memory::recall::{Condition, Field, Fields, Filter, Recall};
use crate::memory::{Episode, GoodJob, Kind, Memory, Preference};
use crate::settings::{QdrantSettings, Secret};

/// The collections' names start with this.
const PREFIX: &str = "nomad-spec";
/// Points read per page when preferences are read whole.
const PAGE: u32 = 256;

/// A Qdrant server holding memory.
#[derive(Clone)]
pub struct QdrantStore {
    client: Qdrant,
    url: String,
    api_key: Option<Secret>,
    /// Collections known to exist with the right dimension in this run.
    ready: Arc<Mutex<BTreeSet<String>>>,
    /// Why the server is not asked again in this run, once it could not be reached.
    down: Arc<Mutex<Option<String>>>,
}

impl fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QdrantStore").field("url", &self.url).finish_non_exhaustive()
    }
}

impl PartialEq for QdrantStore {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for QdrantStore {}

impl QdrantStore {
    /// A client for the server `settings` name; nothing is sent until the first recall.
    pub fn new(settings: &QdrantSettings) -> anyhow::Result<QdrantStore> {
        crate::tls::install_crypto_provider();
        let client = Qdrant::from_url(&settings.url)
            .api_key(settings.api_key.as_ref().map(|key| key.as_str().to_string()))
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .skip_compatibility_check()
            .build()
            .map_err(|err| anyhow!("cannot use Qdrant at {}: {err}", settings.url))?;
        Ok(QdrantStore {
            client,
            url: settings.url.clone(),
            api_key: settings.api_key.clone(),
            ready: Arc::default(),
            down: Arc::default(),
        })
    }

    /// Where it is, for notes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The entries that answer `recall`, found on the server (a collection not created yet
    /// holds nothing).
    pub async fn recall(&self, recall: &Recall) -> anyhow::Result<Memory> {
        self.check_up()?;
        let collection = collection(recall.kind);
        let mut filter = recall.filter.clone();
        if let (Some(near), Kind::Episode | Kind::GoodJob) = (&recall.near, recall.kind) {
            filter.must.push(Condition::is(Field::Embedding, near.embedding.clone()));
        }
        let filter = to_qdrant(&filter);
        let limit = u32::try_from(recall.limit).unwrap_or(u32::MAX);
        let mut payloads = Vec::new();
        let answer = match (&recall.near, recall.kind) {
            (Some(near), Kind::Episode | Kind::GoodJob) => self
                .client
                .query(
                    QueryPointsBuilder::new(&collection)
                        .query(near.values.clone())
                        .filter(filter)
                        .limit(u64::from(limit))
                        .with_payload(true),
                )
                .await
                .map(|answer| payloads.extend(answer.result.into_iter().map(|p| p.payload))),
            (_, Kind::Preference) => self.scroll_all(&collection, filter, &mut payloads).await,
            (None, _) => self
                .client
                .scroll(
                    ScrollPointsBuilder::new(&collection)
                        .filter(filter)
                        .limit(limit)
                        .order_by(qdrant::OrderBy {
                            key: "day".to_string(),
                            direction: Some(qdrant::Direction::Desc as i32),
                            ..Default::default()
                        })
                        .with_payload(true),
                )
                .await
                .map(|answer| payloads.extend(answer.result.into_iter().map(|p| p.payload))),
        };
        match answer {
            Ok(()) => {}
            Err(err) if status_of(&err).is_some_and(|s| s.code() == Code::NotFound) => {
                return Ok(Memory::new());
            }
            Err(err) => return Err(self.failed(&format!("recall from {collection}"), &err)),
        }
        let mut found = Memory::new();
        self.keep_entries(recall.kind, payloads, &mut found)?;
        if recall.kind == Kind::Preference {
            // Preferences are folded from their points here, so they are ordered here too.
            found = found.recall(recall);
        }
        Ok(found)
    }

    /// Everything the server holds, of every kind (`nomad-spec memory`); a collection not
    /// created yet holds nothing.
    pub async fn read_all(&self) -> anyhow::Result<Memory> {
        self.check_up()?;
        let mut memory = Memory::new();
        for kind in [Kind::Episode, Kind::Preference, Kind::GoodJob] {
            let collection = collection(kind);
            let mut payloads = Vec::new();
            match self.scroll_all(&collection, qdrant::Filter::default(), &mut payloads).await {
                Ok(()) => self.keep_entries(kind, payloads, &mut memory)?,
                Err(err) if status_of(&err).is_some_and(|s| s.code() == Code::NotFound) => {}
                Err(err) => return Err(self.failed(&format!("read {collection}"), &err)),
            }
        }
        Ok(memory)
    }

    /// Removes every entry `memory` holds from the server: an episode's or good job's point,
    /// and each point of a preference (one per time it was given).
    pub async fn delete(&self, memory: &Memory) -> anyhow::Result<()> {
        self.check_up()?;
        let ids = |ids: Vec<u64>| -> Vec<PointId> { ids.into_iter().map(PointId::from).collect() };
        let kinds = [
            (Kind::Episode, ids(memory.episodes.iter().map(|e| point_id(&e.id)).collect())),
            (Kind::GoodJob, ids(memory.good_jobs.iter().map(|g| point_id(&g.id)).collect())),
            (Kind::Preference, ids(memory.preferences.iter().flat_map(preference_ids).collect())),
        ];
        for (kind, ids) in kinds {
            if ids.is_empty() {
                continue;
            }
            let collection = collection(kind);
            let selector = PointsIdsList { ids };
            self.client
                .delete_points(DeletePointsBuilder::new(&collection).points(selector).wait(true))
                .await
                .map_err(|err| self.failed(&format!("delete from {collection}"), &err))?;
        }
        Ok(())
    }

    /// Adds the entries the points' `payloads` carry (of `kind`) to `memory`.
    fn keep_entries(
        &self,
        kind: Kind,
        payloads: Vec<HashMap<String, qdrant::Value>>,
        memory: &mut Memory,
    ) -> anyhow::Result<()> {
        let collection = collection(kind);
        for payload in payloads {
            let entry = entry_of(&payload)
                .with_context(|| format!("{collection} on Qdrant at {} holds a point", self.url))?;
            let read = || format!("{collection} on Qdrant at {} holds an entry", self.url);
            match kind {
                Kind::Episode => {
                    memory.add_episode(serde_json::from_str(entry).with_context(read)?)
                }
                Kind::GoodJob => {
                    memory.add_good_job(serde_json::from_str(entry).with_context(read)?)
                }
                Kind::Preference => {
                    memory.remember(serde_json::from_str(entry).with_context(read)?)
                }
            }
        }
        Ok(())
    }

    /// Every point of `collection` the filter admits, page after page.
    async fn scroll_all(
        &self,
        collection: &str,
        filter: qdrant::Filter,
        payloads: &mut Vec<HashMap<String, qdrant::Value>>,
    ) -> Result<(), QdrantError> {
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(collection)
                .filter(filter.clone())
                .limit(PAGE)
                .with_payload(true);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let answer = self.client.scroll(request).await?;
            payloads.extend(answer.result.into_iter().map(|p| p.payload));
            match answer.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Keeps every entry of `memory` (points of the same id are replaced: an entry written
    /// twice is one).
    pub async fn save(&self, memory: &Memory) -> anyhow::Result<()> {
        self.check_up()?;
        let episodes: Vec<PointStruct> = memory.episodes.iter().map(episode_point).collect();
        let good_jobs: Vec<PointStruct> = memory.good_jobs.iter().map(good_job_point).collect();
        let preferences: Vec<PointStruct> =
            memory.preferences.iter().flat_map(preference_points).collect();
        let dimension = |vectors: &[&Vector]| vectors.first().map(|v| v.values.len());
        let kinds = [
            (
                Kind::Episode,
                episodes,
                dimension(&memory.episodes.iter().map(|e| &e.vector).collect::<Vec<_>>()),
            ),
            (
                Kind::GoodJob,
                good_jobs,
                dimension(&memory.good_jobs.iter().map(|g| &g.vector).collect::<Vec<_>>()),
            ),
            (Kind::Preference, preferences, Some(embedding::LOCAL_DIMENSION)),
        ];
        for (kind, points, dimension) in kinds {
            let (false, Some(dimension)) = (points.is_empty(), dimension) else { continue };
            let collection = collection(kind);
            self.ensure_collection(&collection, dimension).await?;
            self.client
                .upsert_points(UpsertPointsBuilder::new(&collection, points).wait(true))
                .await
                .map_err(|err| self.failed(&format!("write to {collection}"), &err))?;
        }
        Ok(())
    }

    /// Creates `collection` with `dimension` and its payload indexes unless it exists; an
    /// error when it exists with another dimension (vectors of another embedding).
    async fn ensure_collection(&self, collection: &str, dimension: usize) -> anyhow::Result<()> {
        if self.ready.lock().map(|r| r.contains(collection)).unwrap_or(false) {
            return Ok(());
        }
        let info = self
            .client
            .collection_info(GetCollectionInfoRequest { collection_name: collection.to_string() })
            .await;
        match info {
            Ok(info) => {
                let size = info
                    .result
                    .and_then(|i| i.config)
                    .and_then(|c| c.params)
                    .and_then(|p| p.vectors_config)
                    .and_then(|v| v.config)
                    .and_then(|c| match c {
                        vectors_config::Config::Params(params) => Some(params.size),
                        vectors_config::Config::ParamsMap(_) => None,
                    });
                if size != Some(dimension as u64) {
                    bail!(
                        "collection {collection} on Qdrant at {} holds vectors of {} dimensions, \
                         not the {dimension} of the embedding configured: memory made by \
                         another embedding is not mixed in (drop or rename the collection)",
                        self.url,
                        size.map_or_else(|| "named".to_string(), |s| s.to_string())
                    );
                }
            }
            Err(err) if status_of(&err).is_some_and(|s| s.code() == Code::NotFound) => {
                let created = self
                    .client
                    .create_collection(CreateCollectionBuilder::new(collection).vectors_config(
                        VectorParamsBuilder::new(dimension as u64, Distance::Cosine),
                    ))
                    .await;
                match created {
                    Ok(_) => {}
                    // Another run created it in between: its dimension is checked next time.
                    Err(err)
                        if status_of(&err).is_some_and(|s| s.code() == Code::AlreadyExists) => {}
                    Err(err) => return Err(self.failed(&format!("create {collection}"), &err)),
                }
                let indexes = Field::ALL
                    .iter()
                    .map(|field| (field.name(), FieldType::Keyword))
                    .chain([("day", FieldType::Integer)]);
                for (field, kind) in indexes {
                    self.client
                        .create_field_index(
                            CreateFieldIndexCollectionBuilder::new(collection, field, kind)
                                .wait(true),
                        )
                        .await
                        .map_err(|err| {
                            self.failed(&format!("index {field} of {collection}"), &err)
                        })?;
                }
            }
            Err(err) => return Err(self.failed(&format!("read {collection}"), &err)),
        }
        if let Ok(mut ready) = self.ready.lock() {
            ready.insert(collection.to_string());
        }
        Ok(())
    }

    /// An error from the server as a sentence naming it, never carrying the API key; a server
    /// that could not be reached (said in a few words) or refused the key is not asked again
    /// in this run.
    fn failed(&self, what: &str, err: &QdrantError) -> anyhow::Error {
        let not_grpc = http_not_grpc(err);
        let message = match (status_of(err), unreachable(err), &not_grpc) {
            (_, Some(why), _) => format!("cannot reach Qdrant at {}: {why}", self.url),
            (_, None, Some(http)) => format!(
                "cannot reach Qdrant at {}: it answers {http}, not gRPC; QDRANT_URL names \
                 Qdrant's gRPC port (6334 by default), not its REST port (6333)",
                self.url
            ),
            (Some(status), None, None) if status.code() == Code::Unauthenticated => format!(
                "cannot {what} on Qdrant at {}: it refused the API key (QDRANT_API_KEY)",
                self.url
            ),
            (Some(status), None, None) => format!(
                "cannot {what} on Qdrant at {}: it answered {:?}: {}",
                self.url,
                status.code(),
                status.message()
            ),
            (None, None, None) => format!("cannot {what} on Qdrant at {}: {err}", self.url),
        };
        let message = match &self.api_key {
            Some(key) => key.redact(&message),
            None => message,
        };
        let refused = status_of(err).is_some_and(|s| s.code() == Code::Unauthenticated);
        if unreachable(err).is_some() || not_grpc.is_some() || refused {
            if let Ok(mut down) = self.down.lock() {
                down.get_or_insert_with(|| message.clone());
            }
        }
        anyhow!(message)
    }

    /// The same error as the first time, when the server could not be reached or refused the
    /// key earlier in this run.
    fn check_up(&self) -> anyhow::Result<()> {
        match self.down.lock().ok().and_then(|down| down.clone()) {
            Some(why) => Err(anyhow!(why)),
            None => Ok(()),
        }
    }
}

/// Why the server could not be reached, in a few words; `None` when it answered. The client
/// reports a refused connection as an `INTERNAL` status whose message starts "Failed to
/// connect", a timeout as `DEADLINE_EXCEEDED` or `CANCELLED`.
fn unreachable(err: &QdrantError) -> Option<&'static str> {
    let status = status_of(err)?;
    let message = status.message().to_lowercase();
    let connect = status.code() == Code::Internal && message.starts_with("failed to connect");
    if matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled) {
        return Some("no answer in time");
    }
    if status.code() != Code::Unavailable && !connect {
        return None;
    }
    Some(if message.contains("connection refused") {
        "connection refused"
    } else if message.contains("dns") || message.contains("lookup") {
        "its name does not resolve"
    } else if message.contains("timed out") {
        "no answer in time"
    } else {
        "the connection failed"
    })
}

/// The HTTP status of a server that answered but does not speak gRPC there (Qdrant's REST
/// port, a proxy, a web page), as "HTTP 404 Not Found"; `None` otherwise. The client says so
/// in the status message: "grpc-status header missing, mapped from HTTP status code 404", or
/// "... invalid compression flag ... while receiving response with status: 404 Not Found"
/// when the body came first.
fn http_not_grpc(err: &QdrantError) -> Option<String> {
    let message = status_of(err)?.message();
    ["mapped from HTTP status code ", "while receiving response with status: "].iter().find_map(
        |marker| {
            let (_, status) = message.split_once(marker)?;
            let status = status.trim();
            let code = status.split_whitespace().next()?;
            code.parse::<u16>().ok().map(|_| format!("HTTP {status}"))
        },
    )
}

/// The collection of a kind of entry.
pub fn collection(kind: Kind) -> String {
    format!("{PREFIX}-{kind}s")
}

/// The gRPC status inside an error of the client.
fn status_of(err: &QdrantError) -> Option<&tonic::Status> {
    match err {
        QdrantError::ResponseError { status }
        | QdrantError::ResourceExhaustedError { status, .. } => Some(status),
        _ => None,
    }
}

/// A filter as Qdrant's: each condition a keyword match on the payload field (any of the
/// values) or an is-empty condition.
pub fn to_qdrant(filter: &Filter) -> qdrant::Filter {
    let conditions = |conditions: &[Condition]| -> Vec<qdrant::Condition> {
        conditions
            .iter()
            .map(|condition| match condition {
                // A list of keywords always: a single `String` would become a full-text match
                // when it holds a space.
                Condition::Is(field, values) => {
                    qdrant::Condition::matches(field.name(), values.clone())
                }
                Condition::Unknown(field) => qdrant::Condition::is_empty(field.name()),
            })
            .collect()
    };
    qdrant::Filter {
        must: conditions(&filter.must),
        should: conditions(&filter.should),
        must_not: conditions(&filter.must_not),
        ..Default::default()
    }
}

/// The entry's JSON in a point's payload.
fn entry_of(payload: &HashMap<String, qdrant::Value>) -> anyhow::Result<&str> {
    match payload.get("entry").and_then(|v| v.kind.as_ref()) {
        Some(qdrant::value::Kind::StringValue(text)) => Ok(text),
        _ => bail!("a point without its entry (`entry`): not written by nomad-spec"),
    }
}

/// The payload of an entry: every field a filter reads (a list where it has several
/// values), its day as a number (to order by), and the entry whole.
fn payload_of(entry: &dyn Fields, json: String) -> HashMap<String, qdrant::Value> {
    let mut payload = HashMap::new();
    for field in Field::ALL {
        let values = entry.values(field);
        let value = match values.as_slice() {
            [] => continue,
            [one] => qdrant::Value::from(one.clone()),
            _ => qdrant::Value {
                kind: Some(qdrant::value::Kind::ListValue(qdrant::ListValue {
                    values: values.into_iter().map(qdrant::Value::from).collect(),
                })),
            },
        };
        payload.insert(field.name().to_string(), value);
    }
    payload.insert("day".to_string(), qdrant::Value::from(day_number(entry.date())));
    payload.insert("entry".to_string(), qdrant::Value::from(json));
    payload
}

/// `20261120` for `2026-11-20`; 0 for a day that is not one.
fn day_number(date: &str) -> i64 {
    date.replace('-', "").parse().unwrap_or(0)
}

/// A point's id from an entry's id (hex digits): ids are digests, so they are numbers.
fn point_id(id: &str) -> u64 {
    u64::from_str_radix(id.get(..16).unwrap_or(id), 16)
        .unwrap_or_else(|_| u64::from_str_radix(&crate::memory::digest(&[id]), 16).unwrap_or(0))
}

fn episode_point(episode: &Episode) -> PointStruct {
    let json = serde_json::to_string(episode).unwrap_or_default();
    PointStruct::new(
        point_id(&episode.id),
        episode.vector.values.clone(),
        payload_of(episode, json),
    )
}

fn good_job_point(job: &GoodJob) -> PointStruct {
    let json = serde_json::to_string(job).unwrap_or_default();
    PointStruct::new(point_id(&job.id), job.vector.values.clone(), payload_of(job, json))
}

/// One point per time a preference was given.
fn preference_points(preference: &Preference) -> Vec<PointStruct> {
    let vector = embedding::local(&format!("{} {}", preference.key, preference.value));
    preference
        .given
        .iter()
        .zip(preference_ids(preference))
        .map(|(given, id)| {
            let once = Preference { given: vec![given.clone()], ..preference.clone() };
            let json = serde_json::to_string(&once).unwrap_or_default();
            PointStruct::new(id, vector.values.clone(), payload_of(&once, json))
        })
        .collect()
}

/// The ids of a preference's points, one per time it was given.
fn preference_ids(preference: &Preference) -> Vec<u64> {
    let id_of = |given: &crate::memory::Given| {
        let parts = [&preference.id, &given.date, &given.repository, &given.run];
        point_id(&crate::memory::digest(&parts.map(String::as_str)))
    };
    preference.given.iter().map(id_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_becomes_keyword_matches_and_is_empty_conditions() {
        let filter = Filter {
            must: vec![Condition::is(Field::Repository, "acme/my orders")],
            should: vec![Condition::Unknown(Field::Stack)],
            must_not: vec![Condition::Is(Field::Category, vec!["a".into(), "b".into()])],
        };
        let qdrant = to_qdrant(&filter);
        let text = format!("{qdrant:?}");
        // A value with a space stays a keyword, never a full-text match.
        assert!(
            text.contains("Keywords(RepeatedStrings { strings: [\"acme/my orders\"] })"),
            "{text}"
        );
        assert!(text.contains("IsEmpty(IsEmptyCondition { key: \"stack\" })"), "{text}");
        assert_eq!((qdrant.must.len(), qdrant.should.len(), qdrant.must_not.len()), (1, 1, 1));
    }

    #[test]
    fn point_ids_come_from_entry_ids_and_days_are_numbers() {
        assert_eq!(point_id("00000000000a"), 10);
        assert_ne!(point_id("not hex"), point_id("other"));
        assert_eq!(day_number("2026-11-20"), 20_261_120);
        assert_eq!(day_number(""), 0);
        assert_eq!(collection(Kind::GoodJob), "nomad-spec-good-jobs");
        assert_eq!(collection(Kind::Episode), "nomad-spec-episodes");
    }

    #[test]
    fn a_server_that_answers_http_but_not_grpc_is_told_apart() {
        let answered = |code, message: &str| QdrantError::ResponseError {
            status: tonic::Status::new(code, message),
        };
        // The two ways the client reports it (seen against Qdrant Cloud's REST port).
        let missing = answered(
            Code::Unimplemented,
            "grpc-status header missing, mapped from HTTP status code 404",
        );
        assert_eq!(http_not_grpc(&missing).as_deref(), Some("HTTP 404"));
        let body_first = answered(
            Code::Internal,
            "protocol error: received message with invalid compression flag: 123 (valid flags \
             are 0 and 1) while receiving response with status: 401 Unauthorized",
        );
        assert_eq!(http_not_grpc(&body_first).as_deref(), Some("HTTP 401 Unauthorized"));
        // A gRPC answer is not that, nor is a refused connection.
        assert_eq!(http_not_grpc(&answered(Code::NotFound, "collection missing")), None);
        let refused = answered(Code::Internal, "Failed to connect to http://x:6334/: refused");
        assert_eq!(http_not_grpc(&refused), None);
    }
}
