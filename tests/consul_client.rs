//! The Consul client against the fake: KV values decoded from base64, catalog and health,
//! a refused token, and a slow agent that leaves a note instead of holding the run.

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
