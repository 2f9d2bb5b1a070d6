//! The Nomad client's behaviour on the wire, against a scripted loopback server: headers and
//! query parameters it sends, how it maps statuses to error kinds, which calls it retries,
//! timeouts, and a Nomad that is down. Scenario-level tests use the fake Nomad instead.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nomad_spec::nomad::{Blocking, NomadClient, NomadConfig, NomadError};
use nomad_spec::settings::RetryPolicy;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A canned answer: status, extra headers, body; `None` never answers (a hung server).
type Answer = Option<(u16, Vec<(&'static str, String)>, String)>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Serves the answers in order (the last one repeats), recording each request.
async fn scripted(answers: Vec<Answer>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut served = 0;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let answer = answers[served.min(answers.len() - 1)].clone();
            served += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buffer).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buffer.len() >= end + 4 + length {
                            break (head, text[end + 4..end + 4 + length].to_string());
                        }
                    }
                };
                let mut lines = head.lines();
                let request = lines.next().unwrap_or_default().to_string();
                let mut parts = request.split_whitespace();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
                    .collect();
                log.lock().unwrap().push(Seen {
                    method: parts.next().unwrap_or_default().to_string(),
                    target: parts.next().unwrap_or_default().to_string(),
                    headers,
                    body,
                });
                let Some((status, extra, body)) = answer else {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                };
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (address, seen)
}

fn ok(body: serde_json::Value) -> Answer {
    Some((200, vec![("x-nomad-index", "42".into())], body.to_string()))
}

fn status(code: u16, body: &str) -> Answer {
    Some((code, vec![], body.to_string()))
}

fn client(address: &str, token: Option<&str>) -> NomadClient {
    NomadClient::new(NomadConfig {
        address: address.to_string(),
        token: token.map(Into::into),
        namespace: Some("apps".into()),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy { first_wait: Duration::from_millis(10), ..RetryPolicy::default() },
        ..NomadConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn sends_token_namespace_and_blocking_parameters() {
    let (address, seen) = scripted(vec![ok(json!({"ID": "e1", "Status": "complete"}))]).await;
    let client = client(&address, Some("s3cr3t"));
    let eval = client.evaluation("e1", Blocking::after(7, Duration::from_secs(1))).await.unwrap();
    assert_eq!(eval.value.status, "complete");
    assert_eq!(eval.index, 42);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].method, "GET");
    assert!(seen[0].target.starts_with("/v1/evaluation/e1?"), "{}", seen[0].target);
    for part in ["namespace=apps", "index=7", "wait=1000ms"] {
        assert!(seen[0].target.contains(part), "{} lacks {part}", seen[0].target);
    }
    assert_eq!(seen[0].headers.get("x-nomad-token").map(String::as_str), Some("s3cr3t"));
}

#[tokio::test]
async fn register_sends_enforce_index_and_maps_the_refusal() {
    let (address, seen) = scripted(vec![status(
        500,
        "Enforcing job modify index 12: job exists with conflicting job modify index: 15",
    )])
    .await;
    let err = client(&address, None)
        .register(&json!({"ID": "web", "Type": "service"}), Some(12))
        .await
        .unwrap_err();
    assert!(matches!(err, NomadError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("changed on Nomad since it was planned"), "{err}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "a refused EnforceIndex is final, never tried again");
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["EnforceIndex"], true);
    assert_eq!(body["JobModifyIndex"], 12);
    assert_eq!(body["Job"]["ID"], "web");
}

#[tokio::test]
async fn reads_are_retried_after_server_errors() {
    let (address, seen) = scripted(vec![
        status(500, "rpc error: leader lost"),
        status(500, "rpc error: leader lost"),
        ok(json!({"ID": "web", "Version": 4})),
    ])
    .await;
    let job = client(&address, None).job("web").await.unwrap();
    assert_eq!(job.value.version, 4);
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn writes_are_not_retried() {
    let (address, seen) = scripted(vec![status(500, "boom"), ok(json!({}))]).await;
    let err = client(&address, None).stop("web").await.unwrap_err();
    assert!(matches!(err, NomadError::Server { status: 500, .. }), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn forbidden_and_not_found_say_what_they_mean() {
    let (address, _) = scripted(vec![status(403, "Permission denied")]).await;
    let err = client(&address, Some("wrong")).job("web").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "permission denied: the token in NOMAD_TOKEN cannot read job web in namespace apps"
    );
    assert!(!format!("{err:?}").contains("wrong"));

    let (address, _) = scripted(vec![status(404, "job not found")]).await;
    let err = client(&address, None).job("web").await.unwrap_err();
    assert_eq!(err.to_string(), "job web not found in namespace apps");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (address, seen) = scripted(vec![None]).await;
    let client = NomadClient::new(NomadConfig {
        address,
        request_timeout: Duration::from_millis(300),
        retry: RetryPolicy { first_wait: Duration::from_millis(10), ..RetryPolicy::default() },
        ..NomadConfig::default()
    })
    .unwrap();
    let err = client.agent_self().await.unwrap_err();
    assert!(matches!(err, NomadError::Timeout { .. }), "{err:?}");
    // A server that did not answer in time is not asked again: it would cost the same wait.
    assert_eq!(seen.lock().unwrap().len(), 1, "no retry after a timeout");
}

#[tokio::test]
async fn malformed_bodies_are_bad_responses() {
    let (address, _) = scripted(vec![Some((200, vec![], "{\"ID\": ".into()))]).await;
    let err = client(&address, None).job("web").await.unwrap_err();
    assert!(matches!(err, NomadError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn nomad_down_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let address = format!("http://127.0.0.1:{port}");
    let err = client(&address, None).agent_self().await.unwrap_err();
    assert!(matches!(err, NomadError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("cannot reach Nomad at {address}")), "{err}");
}

#[test]
fn binary_reports_nomad_down_with_its_exit_code() {
    // Port 1 (tcpmux) is privileged and unused: a freed ephemeral port could be taken by a
    // fake server of a test running beside this one.
    let port = 1;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["status", "web"])
        .env("NOMAD_ADDR", format!("http://127.0.0.1:{port}"))
        .env_remove("NOMAD_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("cannot reach Nomad at http://127.0.0.1:"), "{stderr}");
}

#[tokio::test]
async fn tls_server_name_is_the_name_asked_for_at_the_address_given() {
    let (address, seen) = scripted(vec![ok(json!({"config": {"Version": "1.9.3"}}))]).await;
    let port = address.rsplit(':').next().unwrap().to_string();
    let client = NomadClient::new(NomadConfig {
        address,
        tls_server_name: Some("server.global.nomad".into()),
        ..NomadConfig::default()
    })
    .unwrap();
    let agent = client.agent_self().await.unwrap();
    assert_eq!(agent.version().as_deref(), Some("1.9.3"));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].headers.get("host").map(String::as_str),
        Some(format!("server.global.nomad:{port}").as_str())
    );
}

#[tokio::test]
async fn too_many_requests_waits_as_asked_then_retries() {
    let (address, seen) = scripted(vec![
        Some((429, vec![("retry-after", "0".into())], "rate limited".into())),
        ok(json!({"ID": "web", "Version": 2})),
    ])
    .await;
    let job = client(&address, None).job("web").await.unwrap();
    assert_eq!(job.value.version, 2);
    assert_eq!(seen.lock().unwrap().len(), 2);
}
