//! Helpers shared by the fake Nomad's tests: a small HTTP client over reqwest, a realistic
//! service job, and watchers that follow evaluations and deployments with blocking queries.

#![allow(dead_code)]

use serde_json::{json, Value};

/// A Nomad API answer: status, `X-Nomad-Index` and body (JSON when it parses, else text).
pub struct Answer {
    pub status: u16,
    pub index: u64,
    pub body: Value,
    pub text: String,
}

pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    // Installing twice is refused harmlessly; the first test to get here wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.header("X-Nomad-Token", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers on loopback");
    let status = response.status().as_u16();
    let index = response
        .headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, index, body, text }
}

pub async fn get(url: &str) -> Answer {
    call(reqwest::Method::GET, url, None, None).await
}

pub async fn post(url: &str, body: Value) -> Answer {
    call(reqwest::Method::POST, url, None, Some(body)).await
}

/// A service job with one group of `count` docker tasks, a dynamic port and a checked service.
pub fn web_job(id: &str, memory: u64, image: &str) -> Value {
    json!({
        "ID": id,
        "Name": id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "Update": {"MaxParallel": 1, "AutoRevert": true, "HealthCheck": "checks"},
        "TaskGroups": [{
            "Name": "web",
            "Count": 2,
            "Networks": [{"DynamicPorts": [{"Label": "http", "To": 8080}]}],
            "Services": [{"Name": id, "PortLabel": "http", "Checks": [
                {
                    "Name": "alive", "Type": "http", "Path": "/health",
                    "Interval": 10_000_000_000u64, "Timeout": 2_000_000_000u64,
                }
            ]}],
            "Tasks": [{
                "Name": "app",
                "Driver": "docker",
                "Config": {"image": image, "ports": ["http"]},
                "Resources": {"CPU": 200, "MemoryMB": memory}
            }]
        }]
    })
}

/// Follows an evaluation with blocking queries until the scheduler has processed it.
pub async fn wait_eval(base: &str, eval_id: &str) -> Value {
    let mut index = 0;
    for _ in 0..500 {
        let answer = get(&format!("{base}/v1/evaluation/{eval_id}?index={index}&wait=2s")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        if answer.body["Status"] != "pending" {
            return answer.body;
        }
        index = answer.index;
    }
    panic!("evaluation {eval_id} never left pending");
}

/// Follows a deployment with blocking queries until it is no longer running.
pub async fn wait_deployment(base: &str, deployment_id: &str) -> Value {
    let mut index = 0;
    for _ in 0..500 {
        let answer =
            get(&format!("{base}/v1/deployment/{deployment_id}?index={index}&wait=2s")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        if answer.body["Status"] != "running" {
            return answer.body;
        }
        index = answer.index;
    }
    panic!("deployment {deployment_id} never concluded");
}

pub async fn register(base: &str, job: Value) -> Answer {
    post(&format!("{base}/v1/jobs"), json!({"Job": job})).await
}

pub async fn deploy(base: &str, job: Value) -> (Value, Value) {
    let registered = register(base, job).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let eval = wait_eval(base, registered.body["EvalID"].as_str().unwrap_or_default()).await;
    let deployment_id = eval["DeploymentID"].as_str().unwrap_or_default().to_string();
    assert!(
        !deployment_id.is_empty(),
        "a service job with an update block gets a deployment: {eval}"
    );
    (eval, wait_deployment(base, &deployment_id).await)
}
