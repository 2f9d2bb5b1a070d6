//! Nomad Variables and their locks, as the fake keeps them: items per namespace and path,
//! check-and-set writes, and locks that are acquired, renewed and released by their ID and
//! expire when their holder goes quiet.
//!
//! The rules are Nomad's (<https://developer.hashicorp.com/nomad/api-docs/variables/locks> and
//! the server code behind it): acquiring a held lock, renewing or releasing with another ID,
//! and writing or deleting a locked variable without its ID answer **409** with the variable
//! (items, never the lock); a lock's TTL and lock delay must be between 10 s and 24 h
//! (defaults 15 s each); the server gives a holder up to **twice the TTL** after its last
//! renewal, after which the lock can no longer be renewed, and removes it once the **lock
//! delay** has passed too, when anyone may take it. A release needs the ID and no items.
//!
//! Lock time runs on the wall clock; `Timing::lock_second_ms` sets how long one of the lock's
//! seconds lasts (1000 by default), so a test can see a 10 s TTL expire in half a second
//! while the client still sends the durations real Nomad accepts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::cluster::{now_nanos, ApiError};

/// Nomad's bounds on a lock's TTL and delay, and its defaults.
const MIN_LOCK: Duration = Duration::from_secs(10);
const MAX_LOCK: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_LOCK: Duration = Duration::from_secs(15);
/// Nomad's limit on a variable's encrypted size; the fake counts the items' JSON.
const MAX_SIZE: usize = 64 * 1024;

/// Every variable, by namespace and path.
#[derive(Debug, Default)]
pub(crate) struct Variables {
    vars: BTreeMap<(String, String), Var>,
    next_lock: u64,
}

#[derive(Debug, Clone)]
struct Var {
    namespace: String,
    path: String,
    items: BTreeMap<String, String>,
    create_index: u64,
    modify_index: u64,
    create_time: u128,
    modify_time: u128,
    lock: Option<Lock>,
}

#[derive(Debug, Clone)]
struct Lock {
    id: String,
    ttl: Duration,
    delay: Duration,
    /// When it was acquired or last renewed.
    renewed: Instant,
}

/// What a variable request ends in, besides a plain error.
pub(crate) enum VarError {
    /// An error answer with Nomad's status and words.
    Api(ApiError),
    /// 409 with the conflicting variable (its lock left out).
    Conflict(Value),
}

impl From<ApiError> for VarError {
    fn from(err: ApiError) -> VarError {
        VarError::Api(err)
    }
}

/// A lock operation of `PUT /v1/var/:path?<operation>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockOperation {
    Acquire,
    Renew,
    Release,
}

/// The clock locks run on: now, and how long one of their seconds lasts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockClock {
    pub now: Instant,
    pub second: Duration,
}

impl LockClock {
    fn scaled(&self, duration: Duration) -> Duration {
        self.second.mul_f64(duration.as_secs_f64())
    }
}

impl Lock {
    /// The holder may still renew it (the server's timer, twice the TTL, has not fired).
    fn renewable(&self, clock: &LockClock) -> bool {
        clock.now < self.renewed + clock.scaled(self.ttl * 2)
    }

    /// The lock still stands (renewable, or expired but within its lock delay).
    fn standing(&self, clock: &LockClock) -> bool {
        clock.now < self.renewed + clock.scaled(self.ttl * 2 + self.delay)
    }

    fn json(&self) -> Value {
        json!({
            "TTL": go_duration(self.ttl),
            "LockDelay": go_duration(self.delay),
            "ID": self.id,
        })
    }
}

impl Var {
    fn metadata(&self, with_lock: bool) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("Namespace".into(), json!(self.namespace));
        map.insert("Path".into(), json!(self.path));
        map.insert("CreateIndex".into(), json!(self.create_index));
        map.insert("CreateTime".into(), json!(self.create_time as u64));
        map.insert("ModifyIndex".into(), json!(self.modify_index));
        map.insert("ModifyTime".into(), json!(self.modify_time as u64));
        let lock = match (&self.lock, with_lock) {
            (Some(lock), true) => lock.json(),
            _ => Value::Null,
        };
        map.insert("Lock".into(), lock);
        map
    }

    fn with_items(&self, with_lock: bool) -> Value {
        let mut map = self.metadata(with_lock);
        map.insert("Items".into(), json!(self.items));
        Value::Object(map)
    }

    fn conflict(&self) -> VarError {
        VarError::Conflict(self.with_items(false))
    }
}

impl Variables {
    /// Drops the locks whose TTL and delay have both passed, as Nomad's server does once the
    /// lock delay after an expiry is over; `true` when one was dropped.
    pub fn expire_locks(&mut self, clock: &LockClock, index: &mut u64) -> bool {
        let mut changed = false;
        for var in self.vars.values_mut() {
            if var.lock.as_ref().is_some_and(|lock| !lock.standing(clock)) {
                var.lock = None;
                *index += 1;
                var.modify_index = *index;
                changed = true;
            }
        }
        changed
    }

    /// `GET /v1/var/:path`; the lock shows to a management token (or with ACLs off) only.
    pub fn get(&self, namespace: &str, path: &str, management: bool) -> Result<Value, ApiError> {
        self.vars
            .get(&(namespace.to_string(), path.to_string()))
            .map(|var| var.with_items(management))
            .ok_or_else(|| ApiError::new(404, "variable not found"))
    }

    /// `GET /v1/vars?prefix=`: metadata of the variables under `prefix`, in path order.
    pub fn list(&self, namespace: Option<&str>, prefix: &str, management: bool) -> Vec<Value> {
        self.vars
            .values()
            .filter(|var| namespace.is_none_or(|ns| ns == var.namespace))
            .filter(|var| var.path.starts_with(prefix))
            .map(|var| Value::Object(var.metadata(management)))
            .collect()
    }

    /// `PUT /v1/var/:path` (optionally `?cas=N`): writes the items; a locked variable takes
    /// the write only with its lock's ID.
    pub fn put(
        &mut self,
        namespace: &str,
        path: &str,
        body: &Value,
        cas: Option<u64>,
        clock: &LockClock,
        index: &mut u64,
    ) -> Result<Value, VarError> {
        validate_path(path)?;
        let items = items_of(body)?;
        if items.is_empty() {
            return Err(ApiError::new(400, "variable missing required Items object").into());
        }
        let key = (namespace.to_string(), path.to_string());
        let existing = self.vars.get(&key);
        match (cas, existing) {
            (Some(0), Some(var)) => return Err(var.conflict()),
            (Some(n), Some(var)) if n != 0 && n != var.modify_index => return Err(var.conflict()),
            (Some(n), None) if n != 0 => {
                return Err(VarError::Conflict(json!({
                    "Namespace": namespace, "Path": path, "CreateIndex": 0, "CreateTime": 0,
                    "ModifyIndex": 0, "ModifyTime": 0, "Items": null, "Lock": null,
                })))
            }
            _ => {}
        }
        if let Some(var) = existing {
            if let Some(lock) = var.lock.as_ref().filter(|lock| lock.standing(clock)) {
                if lock_id_of(body) != Some(lock.id.as_str()) {
                    return Err(var.conflict());
                }
            }
        }
        let var = self.write(key, items, index);
        Ok(var.with_items(true))
    }

    /// `DELETE /v1/var/:path`: gone (or never there); a locked variable stays.
    pub fn delete(
        &mut self,
        namespace: &str,
        path: &str,
        cas: Option<u64>,
        clock: &LockClock,
        index: &mut u64,
    ) -> Result<(), VarError> {
        let key = (namespace.to_string(), path.to_string());
        let Some(var) = self.vars.get(&key) else { return Ok(()) };
        if cas.is_some_and(|n| n != var.modify_index) {
            return Err(var.conflict());
        }
        if var.lock.as_ref().is_some_and(|lock| lock.standing(clock)) {
            return Err(var.conflict());
        }
        self.vars.remove(&key);
        *index += 1;
        Ok(())
    }

    /// `PUT /v1/var/:path?lock-acquire|lock-renew|lock-release`.
    pub fn lock(
        &mut self,
        operation: LockOperation,
        namespace: &str,
        path: &str,
        body: &Value,
        clock: &LockClock,
        index: &mut u64,
    ) -> Result<Value, VarError> {
        validate_path(path)?;
        let key = (namespace.to_string(), path.to_string());
        match operation {
            LockOperation::Acquire => {
                let ttl = lock_duration(body, "TTL")?;
                let delay = lock_duration(body, "LockDelay")?;
                let items = items_of(body)?;
                if let Some(var) = self.vars.get(&key) {
                    if var.lock.as_ref().is_some_and(|lock| lock.standing(clock)) {
                        return Err(var.conflict());
                    }
                }
                self.next_lock += 1;
                let id = lock_id(self.next_lock);
                let items = match self.vars.get(&key) {
                    // The items are replaced only when the request brings some.
                    Some(var) if items.is_empty() => var.items.clone(),
                    _ => items,
                };
                let var = self.write(key, items, index);
                var.lock = Some(Lock { id, ttl, delay, renewed: clock.now });
                Ok(var.with_items(true))
            }
            LockOperation::Renew => {
                let Some(var) = self.vars.get_mut(&key) else {
                    return Err(ApiError::new(500, "variable doesn't exist").into());
                };
                let Some(lock) = var.lock.as_mut() else {
                    return Err(ApiError::new(500, "variable doesn't hold a lock").into());
                };
                if lock_id_of(body) != Some(lock.id.as_str()) || !lock.renewable(clock) {
                    // Another holder's lock, or one whose timer already fired: it stands only
                    // until its delay is over, and cannot be renewed.
                    return Err(var.conflict());
                }
                lock.renewed = clock.now;
                Ok(Value::Object(var.metadata(true)))
            }
            LockOperation::Release => {
                if !items_of(body)?.is_empty() {
                    return Err(ApiError::new(400, "a lock release cannot change the items").into());
                }
                let Some(var) = self.vars.get(&key) else {
                    return Err(ApiError::new(500, "variable doesn't exist").into());
                };
                let Some(lock) = &var.lock else {
                    return Err(ApiError::new(500, "variable doesn't hold a lock").into());
                };
                if lock_id_of(body) != Some(lock.id.as_str()) {
                    return Err(var.conflict());
                }
                *index += 1;
                let Some(var) = self.vars.get_mut(&key) else {
                    return Err(ApiError::new(500, "variable doesn't exist").into());
                };
                var.lock = None;
                var.modify_index = *index;
                var.modify_time = now_nanos();
                let mut released = var.metadata(false);
                released.remove("Lock");
                Ok(Value::Object(released))
            }
        }
    }

    /// Stores `items` at `key` (created or replaced), keeping its lock.
    fn write(
        &mut self,
        key: (String, String),
        items: BTreeMap<String, String>,
        index: &mut u64,
    ) -> &mut Var {
        *index += 1;
        let now = now_nanos();
        let (namespace, path) = key.clone();
        let var = self.vars.entry(key).or_insert_with(|| Var {
            namespace,
            path,
            items: BTreeMap::new(),
            create_index: *index,
            modify_index: *index,
            create_time: now,
            modify_time: now,
            lock: None,
        });
        var.items = items;
        var.modify_index = *index;
        var.modify_time = now;
        var
    }
}

/// A lock ID, UUID-shaped and distinct per lock (its own sequence, so the cluster's other
/// IDs stay what they were).
fn lock_id(n: u64) -> String {
    let mix = n.wrapping_mul(0xd6e8_feb8_6659_fd93) ^ 0x5bd1_e995;
    format!(
        "{:08x}-{:04x}-4{:03x}-9{:03x}-{:012x}",
        (mix >> 32) as u32,
        (mix >> 16) as u16,
        (n >> 4) & 0xfff,
        n & 0xfff,
        mix & 0xffff_ffff_ffff
    )
}

/// Nomad's rule for variable paths, and its reserved `nomad/` top-level folder.
fn validate_path(path: &str) -> Result<(), ApiError> {
    let valid = !path.is_empty()
        && path.len() <= 128
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'/'));
    if !valid {
        return Err(ApiError::new(400, format!("invalid path {path:?}")));
    }
    let reserved = path == "nomad" || path.starts_with("nomad/");
    if reserved && path != "nomad/jobs" && !path.starts_with("nomad/jobs/") {
        return Err(ApiError::new(
            400,
            "\"nomad\" is a reserved top-level directory path, but you may write variables \
             to \"nomad/jobs\" or below",
        ));
    }
    Ok(())
}

/// The request's `Items` (every value a string, as Nomad decodes them); none is empty.
fn items_of(body: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(items) = body.get("Items").filter(|items| !items.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let Some(object) = items.as_object() else {
        return Err(ApiError::new(400, "Items must be an object of strings"));
    };
    let mut out = BTreeMap::new();
    for (key, value) in object {
        let Some(text) = value.as_str() else {
            return Err(ApiError::new(
                400,
                format!("json: cannot unmarshal {value} into Go struct field of type string"),
            ));
        };
        out.insert(key.clone(), text.to_string());
    }
    if serde_json::to_string(&out).map(|text| text.len()).unwrap_or(0) > MAX_SIZE {
        return Err(ApiError::new(400, "variables are limited to 64KiB in total size"));
    }
    Ok(out)
}

fn lock_id_of(body: &Value) -> Option<&str> {
    body.get("Lock")?.get("ID")?.as_str().filter(|id| !id.is_empty())
}

/// The lock's `TTL` or `LockDelay` (a Go duration), Nomad's default when absent.
fn lock_duration(body: &Value, field: &str) -> Result<Duration, ApiError> {
    let Some(text) = body.get("Lock").and_then(|lock| lock.get(field)).and_then(Value::as_str)
    else {
        return Ok(DEFAULT_LOCK);
    };
    let duration = super::http::parse_wait(text)
        .ok_or_else(|| ApiError::new(400, format!("invalid lock {field} {text:?}")))?;
    if duration < MIN_LOCK || duration > MAX_LOCK {
        return Err(ApiError::new(
            400,
            format!("lock {field} must be between 10s and 24h0m0s, not {text}"),
        ));
    }
    Ok(duration)
}

fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(now: Instant) -> LockClock {
        LockClock { now, second: Duration::from_millis(1) }
    }

    #[test]
    fn a_held_lock_conflicts_until_twice_its_ttl_and_its_delay_have_passed() {
        let start = Instant::now();
        let mut vars = Variables::default();
        let mut index = 1;
        let body = json!({"Lock": {"TTL": "10s", "LockDelay": "10s"}});
        let first = vars
            .lock(LockOperation::Acquire, "default", "a/b", &body, &clock(start), &mut index)
            .ok()
            .unwrap();
        let id = first["Lock"]["ID"].as_str().unwrap().to_string();
        let at = |ms| clock(start + Duration::from_millis(ms));
        let acquire = |vars: &mut Variables, ms, index: &mut u64| {
            vars.lock(LockOperation::Acquire, "default", "a/b", &body, &at(ms), index)
        };
        assert!(matches!(acquire(&mut vars, 5, &mut index), Err(VarError::Conflict(_))));
        // The timer fires at 2 × TTL: no renewal after it, but the lock stands its delay.
        let renew = json!({"Lock": {"ID": id}});
        assert!(vars
            .lock(LockOperation::Renew, "default", "a/b", &renew, &at(19), &mut index)
            .is_ok());
        assert!(matches!(
            vars.lock(LockOperation::Renew, "default", "a/b", &renew, &at(40), &mut index),
            Err(VarError::Conflict(_))
        ));
        assert!(matches!(acquire(&mut vars, 45, &mut index), Err(VarError::Conflict(_))));
        assert!(acquire(&mut vars, 50, &mut index).is_ok());
    }

    #[test]
    fn only_the_lock_id_releases_and_writes() {
        let now = clock(Instant::now());
        let mut vars = Variables::default();
        let mut index = 1;
        let acquired = vars
            .lock(LockOperation::Acquire, "default", "w", &json!({}), &now, &mut index)
            .ok()
            .unwrap();
        assert_eq!(acquired["Lock"]["TTL"], "15s");
        let id = acquired["Lock"]["ID"].as_str().unwrap();
        let items = json!({"Items": {"k": "v"}});
        assert!(matches!(
            vars.put("default", "w", &items, None, &now, &mut index),
            Err(VarError::Conflict(_))
        ));
        let with_id = json!({"Items": {"k": "v"}, "Lock": {"ID": id}});
        assert!(vars.put("default", "w", &with_id, None, &now, &mut index).is_ok());
        let wrong = json!({"Lock": {"ID": "not-it"}});
        assert!(matches!(
            vars.lock(LockOperation::Release, "default", "w", &wrong, &now, &mut index),
            Err(VarError::Conflict(_))
        ));
        assert!(matches!(
            vars.delete("default", "w", None, &now, &mut index),
            Err(VarError::Conflict(_))
        ));
        let release = json!({"Lock": {"ID": id}});
        let released = vars
            .lock(LockOperation::Release, "default", "w", &release, &now, &mut index)
            .ok()
            .unwrap();
        assert!(released.get("Lock").is_none());
        assert_eq!(vars.get("default", "w", true).unwrap()["Items"]["k"], "v");
        assert!(vars.delete("default", "w", None, &now, &mut index).is_ok());
        assert_eq!(vars.get("default", "w", true).unwrap_err().status, 404);
    }

    #[test]
    fn requests_nomad_refuses() {
        let now = clock(Instant::now());
        let mut vars = Variables::default();
        let mut index = 1;
        let status = |result: Result<Value, VarError>| match result {
            Err(VarError::Api(err)) => err.status,
            Err(VarError::Conflict(_)) => 409,
            Ok(_) => 200,
        };
        let items = json!({"Items": {"k": "v"}});
        assert_eq!(status(vars.put("default", "bad path", &items, None, &now, &mut index)), 400);
        assert_eq!(status(vars.put("default", "nomad/x", &items, None, &now, &mut index)), 400);
        assert_eq!(status(vars.put("default", "x", &json!({}), None, &now, &mut index)), 400);
        let short = json!({"Lock": {"TTL": "5s"}});
        assert_eq!(
            status(vars.lock(LockOperation::Acquire, "default", "x", &short, &now, &mut index)),
            400
        );
        assert_eq!(status(vars.put("default", "x", &items, Some(0), &now, &mut index)), 200);
        assert_eq!(status(vars.put("default", "x", &items, Some(0), &now, &mut index)), 409);
        assert_eq!(
            status(vars.lock(LockOperation::Renew, "default", "x", &json!({}), &now, &mut index)),
            500
        );
    }
}
