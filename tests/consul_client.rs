//! The Consul client against the fake: KV values decoded from base64, catalog and health,
//! a refused token, a slow agent that leaves a note instead of holding the run, and the
//! session locks `serve`'s replicas share (held, released, lapsed, taken over).

use std::collections::BTreeMap;
use std::time::Duration;

use fakes::consul::{ConsulState, FakeConsul};
use nomad_spec::infra::consul::{look_up_services, ConsulClient, ConsulError};
use nomad_spec::settings::Settings;

fn client(consul: &FakeConsul, token: Option<&str>) -> ConsulClient {
    let mut env = BTreeMap::from([("CONSUL_HTTP_ADDR".to_string(), consul.http_addr())]);
    if let Some(token) = token {
        env.insert("CONSUL_HTTP_TOKEN".into(), token.into());
    }
    match ConsulClient::configured(&Settings::from_vars(&env)) {
        Ok(Some(client)) => client,
        other => panic!("no client: {other:?}"),
    }
}

fn dependencies(names: &[&str]) -> BTreeMap<String, Vec<String>> {
    names.iter().map(|n| (n.to_string(), Vec::new())).collect()
}

#[tokio::test]
async fn kv_catalog_and_health() {
    let consul = FakeConsul::start(
        ConsulState::default()
            .put("config/nomad-agent/conventions", br#"{"datacenters": ["dc1"]}"#)
            .put("config/other key", b"x")
            .service("postgres", 5432, "passing")
            .service("postgres", 5432, "critical"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let client = client(&consul, None);
    let conventions = client.conventions("config/nomad-agent/conventions").await;
    let conventions = conventions.unwrap_or_else(|e| panic!("{e:#}")).unwrap_or_default();
    assert_eq!(conventions.datacenters, Some(vec!["dc1".to_string()]));
    // A key with a space travels percent-encoded.
    let value = client.kv_get("config/other key").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value.as_deref(), Some(&b"x"[..]));
    assert_eq!(client.kv_get("missing").await.ok(), Some(None));

    let lookup = look_up_services(&client, &dependencies(&["postgres", "redis"])).await;
    assert_eq!(lookup.found.len(), 1);
    let found = &lookup.found["postgres"];
    assert_eq!((found.passing, found.instances), (1, 2));
    assert!(lookup.notes.is_empty(), "{:?}", lookup.notes);
}

#[tokio::test]
async fn a_wrong_token_is_acl_not_found() {
    let mut state = ConsulState::default().service("db", 5432, "passing");
    state.token = Some("right".into());
    let consul = FakeConsul::start(state).unwrap_or_else(|e| panic!("{e}"));
    let refused = client(&consul, Some("wrong")).services().await;
    match refused {
        Err(ConsulError::Forbidden { body, .. }) => assert_eq!(body, "ACL not found"),
        other => panic!("expected a 403: {other:?}"),
    }
    let admitted = client(&consul, Some("right")).services().await;
    assert_eq!(admitted.ok().map(|s| s.len()), Some(1));
}

#[tokio::test]
async fn a_slow_agent_leaves_a_note() {
    let mut state = ConsulState::default().service("db", 5432, "passing");
    state.delay = Some(Duration::from_secs(5));
    let consul = FakeConsul::start(state).unwrap_or_else(|e| panic!("{e}"));
    let client = client(&consul, None).with_timeout(Duration::from_millis(100));
    let lookup = look_up_services(&client, &dependencies(&["db"])).await;
    assert!(lookup.found.is_empty());
    assert_eq!(lookup.notes.len(), 1);
    assert!(lookup.notes[0].contains("service lookup skipped"), "{:?}", lookup.notes);
    assert!(lookup.notes[0].contains("timed out"), "{:?}", lookup.notes);
}

/// A fake whose session second lasts `ms` milliseconds.
fn quick_sessions(ms: u64) -> FakeConsul {
    let state = ConsulState { lock_second: Some(Duration::from_millis(ms)), ..Default::default() };
    FakeConsul::start(state).unwrap_or_else(|e| panic!("{e}"))
}

const TTL: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_session_lock_is_held_by_one_until_released() {
    let consul = quick_sessions(1000);
    let client = client(&consul, None);
    let key = "nomad-spec/serve/lock/github~3Aacme~2Fshop~237";
    let first = client.acquire_lock(key, TTL, TTL, "replica a").await;
    let first = first.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("not acquired"));
    assert_eq!(consul.lock_holder(key).as_deref(), Some("replica a"));
    // Held: the other replica is told no, and its session does not linger.
    let second = client.acquire_lock(key, TTL, TTL, "replica b").await;
    assert!(matches!(second, Ok(None)), "{second:?}");
    assert_eq!(consul.live_sessions(), 1);
    assert_eq!(client.renew_lock(&first).await.ok(), Some(true));

    // Released: no lock delay, the next one takes it at once.
    assert_eq!(client.release_lock(&first).await.ok(), Some(true));
    assert_eq!(consul.lock_holder(key), None);
    assert_eq!(client.renew_lock(&first).await.ok(), Some(false), "its session is gone");
    let second = client.acquire_lock(key, TTL, TTL, "replica b").await;
    assert!(matches!(second, Ok(Some(_))), "{second:?}");
    assert_eq!(consul.lock_holder(key).as_deref(), Some("replica b"));
}

#[tokio::test]
async fn a_lapsed_session_frees_its_lock_after_the_lock_delay() {
    // A session second of 20 ms: twice the 10 s TTL is 400 ms, the 60 s delay 1.2 s more.
    let consul = quick_sessions(20);
    let client = client(&consul, None);
    let key = "nomad-spec/serve/deploy/acme";
    let delay = Duration::from_secs(60);
    let dead = client.acquire_lock(key, TTL, delay, "dead replica").await;
    let dead = dead.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("not acquired"));
    // Nobody renews it: it lapses, and for the lock delay nobody may take the key.
    while consul.lock_holder(key).is_some() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(client.renew_lock(&dead).await.ok(), Some(false));
    let during_delay = client.acquire_lock(key, TTL, TTL, "live replica").await;
    assert!(matches!(during_delay, Ok(None)), "{during_delay:?}");
    let taken = loop {
        match client.acquire_lock(key, TTL, TTL, "live replica").await {
            Ok(Some(lock)) => break lock,
            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(err) => panic!("{err}"),
        }
    };
    assert_eq!(consul.lock_holder(key).as_deref(), Some("live replica"));
    // The dead replica's release, should it come back, changes nothing.
    assert_eq!(client.release_lock(&dead).await.ok(), Some(false));
    assert_eq!(consul.lock_holder(key).as_deref(), Some("live replica"));
    assert_eq!(client.release_lock(&taken).await.ok(), Some(true));
}

#[tokio::test]
async fn a_session_ttl_consul_refuses_is_an_error_naming_it() {
    let consul = quick_sessions(1000);
    let client = client(&consul, None);
    let refused = client.acquire_lock("k", Duration::from_secs(5), TTL, "replica").await;
    match refused {
        Err(ConsulError::Status { status: 400, body, .. }) => {
            assert!(body.contains("Session TTL '5s' must be between"), "{body}")
        }
        other => panic!("expected a 400: {other:?}"),
    }
    let refused = client.acquire_lock("k", TTL, Duration::from_secs(61), "replica").await;
    assert!(matches!(refused, Err(ConsulError::Status { status: 400, .. })), "{refused:?}");
    assert_eq!(consul.live_sessions(), 0);
}
