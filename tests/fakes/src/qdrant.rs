//! A stateful fake of Qdrant's gRPC API (port 6334 on a real server), built on qdrant-client's
//! own generated server traits (`collections_server::Collections`,
//! `points_server::Points`), so every message it reads and answers is the client's own type.
//!
//! It owns the collections (their dimension and distance, payload indexes, points with their
//! vectors and payloads) and plays what nomad-spec uses: collections created, described,
//! listed, checked and dropped; payload indexes created; points upserted, deleted (by id or
//! filter), searched (`Query` with a nearest vector, and the older `Search`), scrolled (pages,
//! `order_by` on an indexed number) and counted. Filters are Qdrant's: `must`, `should`,
//! `must_not`, `min_should`, nested filters, keyword / keywords / except matches, integer and
//! boolean matches, `is_empty`, `is_null`, `has_id`. Cosine vectors are normalized when stored,
//! as Qdrant does, so a score is a dot product.
//!
//! It refuses what a real server refuses, with the same gRPC codes: a missing collection
//! (`NOT_FOUND`), a collection created twice (`ALREADY_EXISTS`), a vector of the wrong
//! dimension (`INVALID_ARGUMENT`), `order_by` on a field without a range index, and, when an
//! API key is set, a request without it or with another (`UNAUTHENTICATED`). What it does not
//! play (named vectors, sparse vectors, geo and text conditions, recommendations, ...) is
//! `UNIMPLEMENTED`, never a silent wrong answer. Every call is recorded with its collection and
//! filter, so a test can see that a filter went to the server.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::Context as _;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::{self as q, condition, point_id, r#match, value, vectors_config};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// A point kept: its id, vector (normalized for cosine) and payload.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    pub id: q::PointId,
    pub vector: Vec<f32>,
    pub payload: HashMap<String, q::Value>,
}

/// A collection kept.
#[derive(Debug, Clone)]
pub struct StoredCollection {
    /// The vectors' dimension.
    pub dimension: u64,
    /// `q::Distance` as its number.
    pub distance: i32,
    /// Payload indexes: field → `q::FieldType` as its number.
    pub indexes: BTreeMap<String, i32>,
    /// Points by id.
    pub points: BTreeMap<Id, StoredPoint>,
}

/// A point id, ordered as Qdrant orders them (numbers before UUIDs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Id {
    Num(u64),
    Uuid(String),
}

/// One call the fake answered (or refused).
#[derive(Debug, Clone)]
pub struct Call {
    /// The gRPC method (`Points/Query`).
    pub method: &'static str,
    /// The collection it named.
    pub collection: String,
    /// The filter it carried.
    pub filter: Option<q::Filter>,
}

/// What the fake Qdrant knows.
#[derive(Debug, Default)]
pub struct QdrantState {
    /// Collections by name.
    pub collections: BTreeMap<String, StoredCollection>,
    /// When set, every request must carry it in `api-key`.
    pub api_key: Option<String>,
    /// Every call, in order.
    pub calls: Vec<Call>,
    /// Operations so far (each write's `operation_id`).
    pub operations: u64,
}

/// A fake Qdrant served on a loopback port by its own thread, stopped when dropped.
pub struct FakeQdrant {
    addr: SocketAddr,
    state: Arc<Mutex<QdrantState>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeQdrant {
    /// Serves an empty Qdrant on a free loopback port.
    pub fn start() -> anyhow::Result<FakeQdrant> {
        FakeQdrant::start_on("127.0.0.1:0", QdrantState::default())
    }

    /// Serves an empty Qdrant that wants `api_key`.
    pub fn with_api_key(api_key: &str) -> anyhow::Result<FakeQdrant> {
        let state = QdrantState { api_key: Some(api_key.to_string()), ..QdrantState::default() };
        FakeQdrant::start_on("127.0.0.1:0", state)
    }

    /// Serves `state` on `listen` (port 0 for a free one).
    pub fn start_on(listen: &str, state: QdrantState) -> anyhow::Result<FakeQdrant> {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        listener.set_nonblocking(true).context("cannot make the listener non-blocking")?;
        let addr = listener.local_addr().context("cannot read the listening address")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot build the fake Qdrant's runtime")?;
        let incoming = {
            let _entered = runtime.enter();
            let listener =
                tokio::net::TcpListener::from_std(listener).context("cannot adopt the listener")?;
            tonic::transport::server::TcpIncoming::from(listener)
        };
        let state = Arc::new(Mutex::new(state));
        let service = Service { state: state.clone() };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let checker = service.clone();
        let keyed = move |request: Request<()>| checker.check_key(request);
        let name = format!("fake Qdrant on {addr}");
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                runtime.block_on(async move {
                    let served = tonic::transport::Server::builder()
                        .add_service(CollectionsServer::with_interceptor(
                            service.clone(),
                            keyed.clone(),
                        ))
                        .add_service(PointsServer::with_interceptor(service, keyed))
                        .serve_with_incoming(incoming);
                    // Not a graceful shutdown: a client's idle connection (its runtime maybe
                    // blocked on this very drop) would be waited for forever.
                    tokio::select! {
                        result = served => {
                            if let Err(error) = result {
                                eprintln!("{name} stopped: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })
            .context("cannot start the fake Qdrant's thread")?;
        Ok(FakeQdrant { addr, state, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`, as `QDRANT_URL` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it knows now.
    pub fn state(&self) -> MutexGuard<'_, QdrantState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The calls answered so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many points `collection` holds (`None`: no such collection).
    pub fn points(&self, collection: &str) -> Option<usize> {
        self.state().collections.get(collection).map(|c| c.points.len())
    }
}

impl Drop for FakeQdrant {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Both services over the same state.
#[derive(Clone)]
struct Service {
    state: Arc<Mutex<QdrantState>>,
}

type Answer<T> = Result<Response<T>, Status>;

impl Service {
    fn lock(&self) -> MutexGuard<'_, QdrantState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Qdrant's api-key check: no key, or another one, is `UNAUTHENTICATED`.
    fn check_key(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(wanted) = self.lock().api_key.clone() else { return Ok(request) };
        match request.metadata().get("api-key").and_then(|v| v.to_str().ok()) {
            None => Err(Status::unauthenticated(
                "Must provide an API key or an Authorization bearer token",
            )),
            Some(given) if given == wanted => Ok(request),
            Some(_) => Err(Status::unauthenticated("Invalid API key or JWT")),
        }
    }

    /// Records a call and runs `answer` on the state.
    fn with<T>(
        &self,
        method: &'static str,
        collection: &str,
        filter: Option<&q::Filter>,
        answer: impl FnOnce(&mut QdrantState) -> Result<T, Status>,
    ) -> Answer<T> {
        let mut state = self.lock();
        state.calls.push(Call {
            method,
            collection: collection.to_string(),
            filter: filter.cloned(),
        });
        answer(&mut state).map(Response::new)
    }
}

/// The collection named, or Qdrant's `NOT_FOUND`.
fn collection<'s>(
    state: &'s mut QdrantState,
    name: &str,
) -> Result<&'s mut StoredCollection, Status> {
    state
        .collections
        .get_mut(name)
        .ok_or_else(|| Status::not_found(format!("Not found: Collection `{name}` doesn't exist!")))
}

fn unplayed(what: &str) -> Status {
    Status::unimplemented(format!("the fake Qdrant does not play {what}"))
}

fn done(state: &mut QdrantState) -> q::PointsOperationResponse {
    state.operations += 1;
    q::PointsOperationResponse {
        result: Some(q::UpdateResult {
            operation_id: Some(state.operations),
            status: q::UpdateStatus::Completed as i32,
        }),
        time: 0.0,
        usage: None,
    }
}

fn id_of(id: &q::PointId) -> Result<Id, Status> {
    match &id.point_id_options {
        Some(point_id::PointIdOptions::Num(n)) => Ok(Id::Num(*n)),
        Some(point_id::PointIdOptions::Uuid(u)) => Ok(Id::Uuid(u.clone())),
        None => Err(Status::invalid_argument("Wrong input: a point id is empty")),
    }
}

/// The dense vector of a point as upserted (the field of today, or the deprecated `data`).
#[allow(deprecated)]
fn dense_of(vectors: Option<&q::Vectors>) -> Result<Vec<f32>, Status> {
    match vectors.and_then(|v| v.vectors_options.as_ref()) {
        Some(q::vectors::VectorsOptions::Vector(vector)) => match &vector.vector {
            Some(q::vector::Vector::Dense(dense)) => Ok(dense.data.clone()),
            None if vector.indices.is_none() => Ok(vector.data.clone()),
            _ => Err(unplayed("sparse or multi-dense vectors")),
        },
        Some(q::vectors::VectorsOptions::Vectors(_)) => Err(unplayed("named vectors")),
        None => Err(Status::invalid_argument("Wrong input: a point has no vector")),
    }
}

/// Qdrant's dimension check, then cosine's normalization.
fn checked(collection: &StoredCollection, mut vector: Vec<f32>) -> Result<Vec<f32>, Status> {
    if vector.len() as u64 != collection.dimension {
        return Err(Status::invalid_argument(format!(
            "Wrong input: Vector dimension error: expected dim: {}, got {}",
            collection.dimension,
            vector.len()
        )));
    }
    if collection.distance == q::Distance::Cosine as i32 {
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
    }
    Ok(vector)
}

fn score(collection: &StoredCollection, a: &[f32], b: &[f32]) -> Result<f32, Status> {
    let dot = || a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    match q::Distance::try_from(collection.distance) {
        Ok(q::Distance::Cosine | q::Distance::Dot) => Ok(dot()),
        Ok(q::Distance::Euclid) => {
            Ok(a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt())
        }
        _ => Err(unplayed("this distance")),
    }
}

/// The values a payload holds at `key` (a list's elements, one value otherwise).
fn values_at<'p>(payload: &'p HashMap<String, q::Value>, key: &str) -> Vec<&'p value::Kind> {
    match payload.get(key).and_then(|v| v.kind.as_ref()) {
        None | Some(value::Kind::NullValue(_)) => Vec::new(),
        Some(value::Kind::ListValue(list)) => {
            list.values.iter().filter_map(|v| v.kind.as_ref()).collect()
        }
        Some(kind) => vec![kind],
    }
}

/// Whether a point passes a filter, as Qdrant decides it.
fn passes(filter: &q::Filter, point: &StoredPoint) -> Result<bool, Status> {
    let all = |conditions: &[q::Condition]| -> Result<Vec<bool>, Status> {
        conditions.iter().map(|c| holds(c, point)).collect()
    };
    let must = all(&filter.must)?.into_iter().all(|h| h);
    let should = filter.should.is_empty() || all(&filter.should)?.into_iter().any(|h| h);
    let must_not = all(&filter.must_not)?.into_iter().any(|h| h);
    let min_should = match &filter.min_should {
        None => true,
        Some(min) => {
            all(&min.conditions)?.into_iter().filter(|h| *h).count() as u64 >= min.min_count
        }
    };
    Ok(must && should && !must_not && min_should)
}

fn holds(condition: &q::Condition, point: &StoredPoint) -> Result<bool, Status> {
    match &condition.condition_one_of {
        Some(condition::ConditionOneOf::Field(field)) => field_holds(field, point),
        Some(condition::ConditionOneOf::IsEmpty(empty)) => {
            Ok(values_at(&point.payload, &empty.key).is_empty())
        }
        Some(condition::ConditionOneOf::IsNull(null)) => Ok(matches!(
            point.payload.get(&null.key).and_then(|v| v.kind.as_ref()),
            Some(value::Kind::NullValue(_))
        )),
        Some(condition::ConditionOneOf::HasId(has)) => {
            let id = &point.id;
            Ok(has.has_id.iter().any(|h| h == id))
        }
        Some(condition::ConditionOneOf::Filter(filter)) => passes(filter, point),
        Some(_) => Err(unplayed("nested, has_vector or slice conditions")),
        None => Err(Status::invalid_argument("Wrong input: an empty condition")),
    }
}

fn field_holds(field: &q::FieldCondition, point: &StoredPoint) -> Result<bool, Status> {
    let values = values_at(&point.payload, &field.key);
    if let Some(empty) = field.is_empty {
        return Ok(values.is_empty() == empty);
    }
    let Some(wanted) = field.r#match.as_ref().and_then(|m| m.match_value.as_ref()) else {
        return Err(unplayed("range, geo, datetime or values_count conditions"));
    };
    fn keyword(k: &value::Kind) -> Option<&str> {
        match k {
            value::Kind::StringValue(s) => Some(s),
            _ => None,
        }
    }
    let integer = |k: &value::Kind| match k {
        value::Kind::IntegerValue(i) => Some(*i),
        _ => None,
    };
    Ok(match wanted {
        r#match::MatchValue::Keyword(word) => {
            values.iter().any(|v| keyword(v) == Some(word.as_str()))
        }
        r#match::MatchValue::Keywords(words) => {
            values.iter().any(|v| keyword(v).is_some_and(|k| words.strings.iter().any(|w| w == k)))
        }
        r#match::MatchValue::ExceptKeywords(words) => {
            !values.iter().any(|v| keyword(v).is_some_and(|k| words.strings.iter().any(|w| w == k)))
        }
        r#match::MatchValue::Integer(n) => values.iter().any(|v| integer(v) == Some(*n)),
        r#match::MatchValue::Integers(ns) => {
            values.iter().any(|v| integer(v).is_some_and(|i| ns.integers.contains(&i)))
        }
        r#match::MatchValue::ExceptIntegers(ns) => {
            !values.iter().any(|v| integer(v).is_some_and(|i| ns.integers.contains(&i)))
        }
        r#match::MatchValue::Boolean(b) => {
            values.iter().any(|v| matches!(v, value::Kind::BoolValue(x) if x == b))
        }
        r#match::MatchValue::Text(_)
        | r#match::MatchValue::Phrase(_)
        | r#match::MatchValue::TextAny(_)
        | r#match::MatchValue::Prefix(_)
        | r#match::MatchValue::Substring(_) => return Err(unplayed("full-text matches")),
    })
}

/// The payload a selector asks for.
fn payload_for(
    selector: Option<&q::WithPayloadSelector>,
    payload: &HashMap<String, q::Value>,
) -> Result<HashMap<String, q::Value>, Status> {
    use q::with_payload_selector::SelectorOptions;
    Ok(match selector.and_then(|s| s.selector_options.as_ref()) {
        None | Some(SelectorOptions::Enable(false)) => HashMap::new(),
        Some(SelectorOptions::Enable(true)) => payload.clone(),
        Some(SelectorOptions::Include(include)) => payload
            .iter()
            .filter(|(k, _)| include.fields.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(SelectorOptions::Exclude(exclude)) => payload
            .iter()
            .filter(|(k, _)| !exclude.fields.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// The vector a selector asks for.
fn vectors_for(
    selector: Option<&q::WithVectorsSelector>,
    vector: &[f32],
) -> Option<q::VectorsOutput> {
    use q::with_vectors_selector::SelectorOptions;
    match selector.and_then(|s| s.selector_options.as_ref()) {
        Some(SelectorOptions::Enable(true)) => Some(q::VectorsOutput {
            vectors_options: Some(q::vectors_output::VectorsOptions::Vector(q::VectorOutput {
                vector: Some(q::vector_output::Vector::Dense(q::DenseVector {
                    data: vector.to_vec(),
                })),
                ..Default::default()
            })),
        }),
        _ => None,
    }
}

/// The points of a collection that pass an optional filter, in id order.
fn admitted<'c>(
    collection: &'c StoredCollection,
    filter: Option<&q::Filter>,
) -> Result<Vec<&'c StoredPoint>, Status> {
    let mut found = Vec::new();
    for point in collection.points.values() {
        if filter.map_or(Ok(true), |f| passes(f, point))? {
            found.push(point);
        }
    }
    Ok(found)
}

/// The nearest points to `vector`: best first (for Euclid, the closest), ties in id order.
#[allow(clippy::too_many_arguments)]
fn nearest(
    collection: &StoredCollection,
    vector: Vec<f32>,
    filter: Option<&q::Filter>,
    limit: u64,
    offset: u64,
    threshold: Option<f32>,
    with_payload: Option<&q::WithPayloadSelector>,
    with_vectors: Option<&q::WithVectorsSelector>,
) -> Result<Vec<q::ScoredPoint>, Status> {
    let query = checked(collection, vector)?;
    let euclid = collection.distance == q::Distance::Euclid as i32;
    let mut scored = Vec::new();
    for point in admitted(collection, filter)? {
        let s = score(collection, &query, &point.vector)?;
        let kept = threshold.is_none_or(|t| if euclid { s <= t } else { s >= t });
        if kept {
            scored.push((s, point));
        }
    }
    scored.sort_by(|(a, _), (b, _)| {
        let order = a.partial_cmp(b).unwrap_or(Ordering::Equal);
        if euclid {
            order
        } else {
            order.reverse()
        }
    });
    scored
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(s, point)| {
            Ok(q::ScoredPoint {
                id: Some(point.id.clone()),
                payload: payload_for(with_payload, &point.payload)?,
                score: s,
                version: 0,
                vectors: vectors_for(with_vectors, &point.vector),
                ..Default::default()
            })
        })
        .collect()
}

#[tonic::async_trait]
impl Collections for Service {
    async fn get(
        &self,
        request: Request<q::GetCollectionInfoRequest>,
    ) -> Answer<q::GetCollectionInfoResponse> {
        let name = request.into_inner().collection_name;
        self.with("Collections/Get", &name, None, |state| {
            let collection = collection(state, &name)?;
            let payload_schema = collection
                .indexes
                .iter()
                .map(|(field, kind)| {
                    let data_type = match q::FieldType::try_from(*kind) {
                        Ok(q::FieldType::Integer) => q::PayloadSchemaType::Integer,
                        Ok(q::FieldType::Float) => q::PayloadSchemaType::Float,
                        Ok(q::FieldType::Bool) => q::PayloadSchemaType::Bool,
                        _ => q::PayloadSchemaType::Keyword,
                    };
                    let info = q::PayloadSchemaInfo {
                        data_type: data_type as i32,
                        params: None,
                        points: Some(collection.points.len() as u64),
                    };
                    (field.clone(), info)
                })
                .collect();
            Ok(q::GetCollectionInfoResponse {
                result: Some(q::CollectionInfo {
                    status: q::CollectionStatus::Green as i32,
                    segments_count: 1,
                    config: Some(q::CollectionConfig {
                        params: Some(q::CollectionParams {
                            shard_number: 1,
                            vectors_config: Some(q::VectorsConfig {
                                config: Some(vectors_config::Config::Params(q::VectorParams {
                                    size: collection.dimension,
                                    distance: collection.distance,
                                    ..Default::default()
                                })),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    payload_schema,
                    points_count: Some(collection.points.len() as u64),
                    ..Default::default()
                }),
                time: 0.0,
            })
        })
    }

    async fn list(
        &self,
        _request: Request<q::ListCollectionsRequest>,
    ) -> Answer<q::ListCollectionsResponse> {
        self.with("Collections/List", "", None, |state| {
            Ok(q::ListCollectionsResponse {
                collections: state
                    .collections
                    .keys()
                    .map(|name| q::CollectionDescription { name: name.clone() })
                    .collect(),
                time: 0.0,
            })
        })
    }

    async fn create(
        &self,
        request: Request<q::CreateCollection>,
    ) -> Answer<q::CollectionOperationResponse> {
        let create = request.into_inner();
        let name = create.collection_name.clone();
        self.with("Collections/Create", &name, None, |state| {
            if state.collections.contains_key(&name) {
                return Err(Status::already_exists(format!(
                    "Wrong input: Collection `{name}` already exists!"
                )));
            }
            let params = match create.vectors_config.and_then(|c| c.config) {
                Some(vectors_config::Config::Params(params)) => params,
                Some(vectors_config::Config::ParamsMap(_)) => return Err(unplayed("named vectors")),
                None => return Err(unplayed("collections without a dense vector")),
            };
            if params.size == 0 {
                return Err(Status::invalid_argument(
                    "Validation error in body: [vectors.size: value 0 invalid, must be 1 or larger]",
                ));
            }
            if q::Distance::try_from(params.distance).is_err()
                || params.distance == q::Distance::UnknownDistance as i32
            {
                return Err(Status::invalid_argument("Wrong input: unknown distance"));
            }
            state.collections.insert(
                name.clone(),
                StoredCollection {
                    dimension: params.size,
                    distance: params.distance,
                    indexes: BTreeMap::new(),
                    points: BTreeMap::new(),
                },
            );
            Ok(q::CollectionOperationResponse { result: true, time: 0.0 })
        })
    }

    async fn update(
        &self,
        _request: Request<q::UpdateCollection>,
    ) -> Answer<q::CollectionOperationResponse> {
        Err(unplayed("collection updates"))
    }

    async fn delete(
        &self,
        request: Request<q::DeleteCollection>,
    ) -> Answer<q::CollectionOperationResponse> {
        let name = request.into_inner().collection_name;
        self.with("Collections/Delete", &name, None, |state| {
            Ok(q::CollectionOperationResponse {
                result: state.collections.remove(&name).is_some(),
                time: 0.0,
            })
        })
    }

    async fn update_aliases(
        &self,
        _request: Request<q::ChangeAliases>,
    ) -> Answer<q::CollectionOperationResponse> {
        Err(unplayed("aliases"))
    }

    async fn list_collection_aliases(
        &self,
        _request: Request<q::ListCollectionAliasesRequest>,
    ) -> Answer<q::ListAliasesResponse> {
        Err(unplayed("aliases"))
    }

    async fn list_aliases(
        &self,
        _request: Request<q::ListAliasesRequest>,
    ) -> Answer<q::ListAliasesResponse> {
        Err(unplayed("aliases"))
    }

    async fn collection_cluster_info(
        &self,
        _request: Request<q::CollectionClusterInfoRequest>,
    ) -> Answer<q::CollectionClusterInfoResponse> {
        Err(unplayed("cluster info"))
    }

    async fn collection_exists(
        &self,
        request: Request<q::CollectionExistsRequest>,
    ) -> Answer<q::CollectionExistsResponse> {
        let name = request.into_inner().collection_name;
        self.with("Collections/CollectionExists", &name, None, |state| {
            Ok(q::CollectionExistsResponse {
                result: Some(q::CollectionExists { exists: state.collections.contains_key(&name) }),
                time: 0.0,
            })
        })
    }

    async fn update_collection_cluster_setup(
        &self,
        _request: Request<q::UpdateCollectionClusterSetupRequest>,
    ) -> Answer<q::UpdateCollectionClusterSetupResponse> {
        Err(unplayed("cluster setup"))
    }

    async fn create_shard_key(
        &self,
        _request: Request<q::CreateShardKeyRequest>,
    ) -> Answer<q::CreateShardKeyResponse> {
        Err(unplayed("shard keys"))
    }

    async fn delete_shard_key(
        &self,
        _request: Request<q::DeleteShardKeyRequest>,
    ) -> Answer<q::DeleteShardKeyResponse> {
        Err(unplayed("shard keys"))
    }

    async fn list_shard_keys(
        &self,
        _request: Request<q::ListShardKeysRequest>,
    ) -> Answer<q::ListShardKeysResponse> {
        Err(unplayed("shard keys"))
    }
}

#[tonic::async_trait]
impl Points for Service {
    async fn upsert(
        &self,
        request: Request<q::UpsertPoints>,
    ) -> Answer<q::PointsOperationResponse> {
        let upsert = request.into_inner();
        let name = upsert.collection_name.clone();
        self.with("Points/Upsert", &name, None, |state| {
            if upsert.update_filter.is_some() || upsert.shard_key_selector.is_some() {
                return Err(unplayed("conditional upserts or shard keys"));
            }
            let target = collection(state, &name)?;
            // Checked whole first: a refused batch changes nothing.
            let mut points = Vec::new();
            for point in upsert.points {
                let id = point
                    .id
                    .as_ref()
                    .ok_or_else(|| Status::invalid_argument("Wrong input: a point has no id"))?;
                let vector = checked(target, dense_of(point.vectors.as_ref())?)?;
                points.push((
                    id_of(id)?,
                    StoredPoint { id: id.clone(), vector, payload: point.payload },
                ));
            }
            target.points.extend(points);
            Ok(done(state))
        })
    }

    async fn delete(
        &self,
        request: Request<q::DeletePoints>,
    ) -> Answer<q::PointsOperationResponse> {
        use q::points_selector::PointsSelectorOneOf;
        let delete = request.into_inner();
        let name = delete.collection_name.clone();
        let selector = delete.points.and_then(|p| p.points_selector_one_of);
        let filter = match &selector {
            Some(PointsSelectorOneOf::Filter(filter)) => Some(filter.clone()),
            _ => None,
        };
        self.with("Points/Delete", &name, filter.as_ref(), |state| {
            let target = collection(state, &name)?;
            let doomed: Vec<Id> = match selector {
                Some(PointsSelectorOneOf::Points(list)) => {
                    list.ids.iter().map(id_of).collect::<Result<_, _>>()?
                }
                Some(PointsSelectorOneOf::Filter(filter)) => {
                    let mut doomed = Vec::new();
                    for (id, point) in &target.points {
                        if passes(&filter, point)? {
                            doomed.push(id.clone());
                        }
                    }
                    doomed
                }
                None => return Err(Status::invalid_argument("Wrong input: no points selected")),
            };
            for id in doomed {
                target.points.remove(&id);
            }
            Ok(done(state))
        })
    }

    async fn get(&self, request: Request<q::GetPoints>) -> Answer<q::GetResponse> {
        let get = request.into_inner();
        let name = get.collection_name.clone();
        self.with("Points/Get", &name, None, |state| {
            let target = collection(state, &name)?;
            let mut result = Vec::new();
            for id in &get.ids {
                if let Some(point) = target.points.get(&id_of(id)?) {
                    result.push(q::RetrievedPoint {
                        id: Some(point.id.clone()),
                        payload: payload_for(get.with_payload.as_ref(), &point.payload)?,
                        vectors: vectors_for(get.with_vectors.as_ref(), &point.vector),
                        ..Default::default()
                    });
                }
            }
            Ok(q::GetResponse { result, time: 0.0, usage: None })
        })
    }

    async fn update_vectors(
        &self,
        _request: Request<q::UpdatePointVectors>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("vector updates"))
    }

    async fn delete_vectors(
        &self,
        _request: Request<q::DeletePointVectors>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("vector deletes"))
    }

    async fn set_payload(
        &self,
        _request: Request<q::SetPayloadPoints>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("payload updates"))
    }

    async fn overwrite_payload(
        &self,
        _request: Request<q::SetPayloadPoints>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("payload updates"))
    }

    async fn delete_payload(
        &self,
        _request: Request<q::DeletePayloadPoints>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("payload updates"))
    }

    async fn clear_payload(
        &self,
        _request: Request<q::ClearPayloadPoints>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("payload updates"))
    }

    async fn create_field_index(
        &self,
        request: Request<q::CreateFieldIndexCollection>,
    ) -> Answer<q::PointsOperationResponse> {
        let create = request.into_inner();
        let name = create.collection_name.clone();
        self.with("Points/CreateFieldIndex", &name, None, |state| {
            let kind = create.field_type.ok_or_else(|| {
                Status::invalid_argument("Wrong input: a payload index needs a field type")
            })?;
            if q::FieldType::try_from(kind).is_err() {
                return Err(Status::invalid_argument("Wrong input: unknown field type"));
            }
            collection(state, &name)?.indexes.insert(create.field_name.clone(), kind);
            Ok(done(state))
        })
    }

    async fn delete_field_index(
        &self,
        request: Request<q::DeleteFieldIndexCollection>,
    ) -> Answer<q::PointsOperationResponse> {
        let delete = request.into_inner();
        let name = delete.collection_name.clone();
        self.with("Points/DeleteFieldIndex", &name, None, |state| {
            collection(state, &name)?.indexes.remove(&delete.field_name);
            Ok(done(state))
        })
    }

    async fn create_vector_name(
        &self,
        _request: Request<q::CreateVectorNameRequest>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("named vectors"))
    }

    async fn delete_vector_name(
        &self,
        _request: Request<q::DeleteVectorNameRequest>,
    ) -> Answer<q::PointsOperationResponse> {
        Err(unplayed("named vectors"))
    }

    async fn search(&self, request: Request<q::SearchPoints>) -> Answer<q::SearchResponse> {
        let search = request.into_inner();
        let name = search.collection_name.clone();
        self.with("Points/Search", &name, search.filter.as_ref(), |state| {
            if search.vector_name.as_deref().is_some_and(|n| !n.is_empty())
                || search.sparse_indices.is_some()
            {
                return Err(unplayed("named or sparse vectors"));
            }
            let target = collection(state, &name)?;
            let result = nearest(
                target,
                search.vector.clone(),
                search.filter.as_ref(),
                search.limit,
                search.offset.unwrap_or(0),
                search.score_threshold,
                search.with_payload.as_ref(),
                search.with_vectors.as_ref(),
            )?;
            Ok(q::SearchResponse { result, time: 0.0, usage: None })
        })
    }

    async fn search_batch(
        &self,
        _request: Request<q::SearchBatchPoints>,
    ) -> Answer<q::SearchBatchResponse> {
        Err(unplayed("batches"))
    }

    async fn search_groups(
        &self,
        _request: Request<q::SearchPointGroups>,
    ) -> Answer<q::SearchGroupsResponse> {
        Err(unplayed("groups"))
    }

    async fn scroll(&self, request: Request<q::ScrollPoints>) -> Answer<q::ScrollResponse> {
        let scroll = request.into_inner();
        let name = scroll.collection_name.clone();
        self.with("Points/Scroll", &name, scroll.filter.as_ref(), |state| {
            let target = collection(state, &name)?;
            let limit = scroll.limit.unwrap_or(10) as usize;
            let mut points = admitted(target, scroll.filter.as_ref())?;
            let mut next_page_offset = None;
            match &scroll.order_by {
                Some(order) => {
                    let ranged = matches!(
                        target.indexes.get(&order.key).map(|k| q::FieldType::try_from(*k)),
                        Some(Ok(q::FieldType::Integer
                            | q::FieldType::Float
                            | q::FieldType::Datetime))
                    );
                    if !ranged {
                        return Err(Status::invalid_argument(format!(
                            "Bad request: No range index for `order_by` key: `{}`. Please create \
                             one to use `order_by`. Check https://qdrant.tech/documentation/\
                             concepts/indexing/#payload-index to see which payload schemas \
                             support Range conditions",
                            order.key
                        )));
                    }
                    if scroll.offset.is_some() {
                        return Err(Status::invalid_argument(
                            "Bad request: Offset is not supported with `order_by`",
                        ));
                    }
                    let number = |p: &StoredPoint| -> f64 {
                        match values_at(&p.payload, &order.key).first() {
                            Some(value::Kind::IntegerValue(i)) => *i as f64,
                            Some(value::Kind::DoubleValue(d)) => *d,
                            _ => f64::NAN,
                        }
                    };
                    // Points without a number are left out, as Qdrant does.
                    points.retain(|p| !number(p).is_nan());
                    let descending = order.direction == Some(q::Direction::Desc as i32);
                    points.sort_by(|a, b| {
                        let order = number(a).partial_cmp(&number(b)).unwrap_or(Ordering::Equal);
                        if descending {
                            order.reverse()
                        } else {
                            order
                        }
                    });
                    points.truncate(limit);
                }
                None => {
                    if let Some(offset) = &scroll.offset {
                        let from = id_of(offset)?;
                        points.retain(|p| id_of(&p.id).is_ok_and(|id| id >= from));
                    }
                    if points.len() > limit {
                        next_page_offset = Some(points[limit].id.clone());
                        points.truncate(limit);
                    }
                }
            }
            let mut result = Vec::new();
            for point in points {
                result.push(q::RetrievedPoint {
                    id: Some(point.id.clone()),
                    payload: payload_for(scroll.with_payload.as_ref(), &point.payload)?,
                    vectors: vectors_for(scroll.with_vectors.as_ref(), &point.vector),
                    ..Default::default()
                });
            }
            Ok(q::ScrollResponse { next_page_offset, result, time: 0.0, usage: None })
        })
    }

    async fn recommend(
        &self,
        _request: Request<q::RecommendPoints>,
    ) -> Answer<q::RecommendResponse> {
        Err(unplayed("recommendations"))
    }

    async fn recommend_batch(
        &self,
        _request: Request<q::RecommendBatchPoints>,
    ) -> Answer<q::RecommendBatchResponse> {
        Err(unplayed("recommendations"))
    }

    async fn recommend_groups(
        &self,
        _request: Request<q::RecommendPointGroups>,
    ) -> Answer<q::RecommendGroupsResponse> {
        Err(unplayed("recommendations"))
    }

    async fn discover(&self, _request: Request<q::DiscoverPoints>) -> Answer<q::DiscoverResponse> {
        Err(unplayed("discovery"))
    }

    async fn discover_batch(
        &self,
        _request: Request<q::DiscoverBatchPoints>,
    ) -> Answer<q::DiscoverBatchResponse> {
        Err(unplayed("discovery"))
    }

    async fn count(&self, request: Request<q::CountPoints>) -> Answer<q::CountResponse> {
        let count = request.into_inner();
        let name = count.collection_name.clone();
        self.with("Points/Count", &name, count.filter.as_ref(), |state| {
            let target = collection(state, &name)?;
            let found = admitted(target, count.filter.as_ref())?.len() as u64;
            Ok(q::CountResponse {
                result: Some(q::CountResult { count: found }),
                time: 0.0,
                usage: None,
            })
        })
    }

    async fn update_batch(
        &self,
        _request: Request<q::UpdateBatchPoints>,
    ) -> Answer<q::UpdateBatchResponse> {
        Err(unplayed("batches"))
    }

    async fn query(&self, request: Request<q::QueryPoints>) -> Answer<q::QueryResponse> {
        use q::query::Variant;
        use q::vector_input::Variant as Input;
        let query = request.into_inner();
        let name = query.collection_name.clone();
        self.with("Points/Query", &name, query.filter.as_ref(), |state| {
            if !query.prefetch.is_empty()
                || query.using.as_deref().is_some_and(|u| !u.is_empty())
                || query.lookup_from.is_some()
            {
                return Err(unplayed("prefetches, named vectors or lookups"));
            }
            let vector = match query.query.as_ref().and_then(|q| q.variant.as_ref()) {
                Some(Variant::Nearest(input)) => match &input.variant {
                    Some(Input::Dense(dense)) => dense.data.clone(),
                    _ => return Err(unplayed("nearest queries other than by a dense vector")),
                },
                _ => return Err(unplayed("queries other than nearest")),
            };
            let target = collection(state, &name)?;
            let points = nearest(
                target,
                vector,
                query.filter.as_ref(),
                query.limit.unwrap_or(10),
                query.offset.unwrap_or(0),
                query.score_threshold,
                query.with_payload.as_ref(),
                query.with_vectors.as_ref(),
            )?;
            Ok(q::QueryResponse { result: points, time: 0.0, usage: None })
        })
    }

    async fn query_batch(
        &self,
        _request: Request<q::QueryBatchPoints>,
    ) -> Answer<q::QueryBatchResponse> {
        Err(unplayed("batches"))
    }

    async fn query_groups(
        &self,
        _request: Request<q::QueryPointGroups>,
    ) -> Answer<q::QueryGroupsResponse> {
        Err(unplayed("groups"))
    }

    async fn facet(&self, _request: Request<q::FacetCounts>) -> Answer<q::FacetResponse> {
        Err(unplayed("facets"))
    }

    async fn search_matrix_pairs(
        &self,
        _request: Request<q::SearchMatrixPoints>,
    ) -> Answer<q::SearchMatrixPairsResponse> {
        Err(unplayed("distance matrices"))
    }

    async fn search_matrix_offsets(
        &self,
        _request: Request<q::SearchMatrixPoints>,
    ) -> Answer<q::SearchMatrixOffsetsResponse> {
        Err(unplayed("distance matrices"))
    }
}
