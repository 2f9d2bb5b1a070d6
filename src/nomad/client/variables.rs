//! Nomad Variables and their locks (Nomad 1.7+), as `nomad-spec serve` uses them to share its
//! work queue and to hold a lock per change request across replicas.
//!
//! The shapes are those of Nomad's `/v1/var` and `/v1/vars` endpoints
//! (<https://developer.hashicorp.com/nomad/api-docs/variables/variables>, `.../locks`): a lock
//! is acquired with `PUT /v1/var/:path?lock-acquire` (Nomad answers 409 when another holder
//! has it), renewed with `?lock-renew` and released with `?lock-release`, both naming the lock
//! by the ID the acquire returned. A lock that is neither renewed nor released expires (Nomad
//! waits up to twice its TTL, then its lock delay). Writes are never retried: a write Nomad
//! may have applied is not sent twice.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Call, NomadClient, NomadError};

/// A variable's items: the only data Nomad keeps in it.
pub type Items = BTreeMap<String, String>;

/// A variable as `GET /v1/var/:path` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    pub path: String,
    #[serde(default)]
    pub items: Items,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
}

/// A variable's metadata, as `GET /v1/vars` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariableMetadata {
    pub path: String,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
}

/// A lock this client holds on a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableLock {
    /// The variable's path.
    pub path: String,
    /// The ID Nomad gave the lock; every later operation on it names it.
    pub id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LockedVariable {
    lock: Option<LockBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LockBody {
    #[serde(rename = "ID")]
    id: String,
}

/// Nomad's answers that say the lock is not (or no longer) the caller's: 409 with the
/// conflicting variable, or the server's own words when the variable or its lock is gone.
fn lost(err: &NomadError) -> bool {
    match err {
        NomadError::Server { status: 409, .. } => true,
        NomadError::Server { body, .. } => {
            body.contains("doesn't hold a lock")
                || body.contains("doesn't exist")
                || body.contains("locked variable")
        }
        _ => false,
    }
}

/// A Go duration as Nomad reads one (`15s`, `1500ms`).
fn go_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

impl NomadClient {
    /// `GET /v1/var/:path`; `None` when there is no such variable.
    pub async fn variable(&self, path: &str) -> Result<Option<Variable>, NomadError> {
        let call = Call::new(Method::GET, var_segments(path), format!("read variable {path}"))
            .not_found(format!("variable {path}"));
        match self.call(call).await {
            Ok(indexed) => Ok(Some(indexed.value)),
            Err(NomadError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GET /v1/vars?prefix=`: the variables under `prefix`, oldest first (Nomad's raft index
    /// orders them as they were written).
    pub async fn variables(&self, prefix: &str) -> Result<Vec<VariableMetadata>, NomadError> {
        let call = Call::new(Method::GET, vec!["vars"], format!("list variables under {prefix}"))
            .query("prefix", prefix);
        let mut list: Vec<VariableMetadata> = self.call(call).await?.value;
        list.sort_by_key(|meta| meta.create_index);
        Ok(list)
    }

    /// `PUT /v1/var/:path?cas=0`: creates the variable only if there is none at `path`;
    /// `false` when one was there already.
    pub async fn create_variable(&self, path: &str, items: &Items) -> Result<bool, NomadError> {
        let call = Call::new(Method::PUT, var_segments(path), format!("create variable {path}"))
            .query("cas", "0")
            .body(json!({ "Path": path, "Items": items }));
        match self.call::<Value>(call).await {
            Ok(_) => Ok(true),
            Err(NomadError::Server { status: 409, .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `PUT /v1/var/:path` with the lock's ID: replaces the items of a variable this client
    /// holds the lock of; `false` when the lock is no longer its.
    pub async fn update_locked_variable(
        &self,
        lock: &VariableLock,
        items: &Items,
    ) -> Result<bool, NomadError> {
        let path = lock.path.as_str();
        let call = Call::new(Method::PUT, var_segments(path), format!("update variable {path}"))
            .body(json!({ "Path": path, "Items": items, "Lock": { "ID": lock.id } }));
        match self.call::<Value>(call).await {
            Ok(_) => Ok(true),
            Err(err) if lost(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `DELETE /v1/var/:path`; deleting what is not there is no error, as in Nomad.
    pub async fn delete_variable(&self, path: &str) -> Result<(), NomadError> {
        let call = Call::new(Method::DELETE, var_segments(path), format!("delete variable {path}"));
        self.send(&call).await?;
        Ok(())
    }

    /// `PUT /v1/var/:path?lock-acquire`: the lock on `path` (the variable is created when
    /// missing, its items kept when not), or `None` when someone else holds it. `ttl` and
    /// `delay` must be between 10 s and 24 h, as Nomad requires.
    pub async fn acquire_variable_lock(
        &self,
        path: &str,
        ttl: Duration,
        delay: Duration,
    ) -> Result<Option<VariableLock>, NomadError> {
        let body = json!({
            "Path": path,
            "Lock": { "TTL": go_duration(ttl), "LockDelay": go_duration(delay) },
        });
        let call = Call::new(Method::PUT, var_segments(path), format!("lock variable {path}"))
            .query("lock-acquire", "")
            .body(body);
        match self.call::<LockedVariable>(call).await {
            Ok(indexed) => match indexed.value.lock {
                Some(lock) if !lock.id.is_empty() => {
                    Ok(Some(VariableLock { path: path.to_string(), id: lock.id }))
                }
                _ => Err(NomadError::BadResponse {
                    what: format!("lock variable {path}"),
                    detail: "the answer names no lock ID".into(),
                }),
            },
            Err(NomadError::Server { status: 409, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `PUT /v1/var/:path?lock-renew`: `false` when the lock is no longer this client's
    /// (expired, released, or taken over).
    pub async fn renew_variable_lock(&self, lock: &VariableLock) -> Result<bool, NomadError> {
        let path = lock.path.as_str();
        let call = Call::new(Method::PUT, var_segments(path), format!("renew the lock on {path}"))
            .query("lock-renew", "")
            .body(json!({ "Path": path, "Lock": { "ID": lock.id } }));
        match self.call::<Value>(call).await {
            Ok(_) => Ok(true),
            Err(err) if lost(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `PUT /v1/var/:path?lock-release`: `false` when the lock was no longer this client's.
    pub async fn release_variable_lock(&self, lock: &VariableLock) -> Result<bool, NomadError> {
        let path = lock.path.as_str();
        let call =
            Call::new(Method::PUT, var_segments(path), format!("release the lock on {path}"))
                .query("lock-release", "")
                .body(json!({ "Path": path, "Lock": { "ID": lock.id } }));
        match self.call::<Value>(call).await {
            Ok(_) => Ok(true),
            Err(err) if lost(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// `var` and the path's segments (a variable path holds `/`, which must stay a separator).
fn var_segments(path: &str) -> Vec<&str> {
    std::iter::once("var").chain(path.split('/').filter(|s| !s.is_empty())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_durations() {
        assert_eq!(go_duration(Duration::from_secs(15)), "15s");
        assert_eq!(go_duration(Duration::from_millis(10_500)), "10500ms");
    }

    #[test]
    fn paths_keep_their_separators() {
        assert_eq!(
            var_segments("nomad-spec/serve/lock/ab"),
            ["var", "nomad-spec", "serve", "lock", "ab"]
        );
    }

    #[test]
    fn a_lost_lock_is_told_from_a_failure() {
        let server = |status, body: &str| NomadError::Server {
            status,
            what: "renew".into(),
            body: body.into(),
            tries: Default::default(),
        };
        assert!(lost(&server(409, "{}")));
        assert!(lost(&server(500, "variable doesn't hold a lock")));
        assert!(lost(&server(500, "attempting to modify locked variable")));
        assert!(!lost(&server(500, "No cluster leader")));
        assert!(!lost(&NomadError::Unreachable {
            address: "x".into(),
            reason: "y".into(),
            tries: Default::default()
        }));
    }
}
