//! The fake's JSON against the real Nomad API samples in the corpus (`nomad-api/*.json`):
//! every top-level key a sample has, the fake has too, and every field both have is of the
//! same JSON type (recursively; `null` stands for an empty value in Nomad and matches any).

mod common;
// The corpus, found (or skipped) as by the main crate's tests.
#[path = "../../common/corpus.rs"]
mod corpus;

use std::path::Path;

use common::{call, deploy, get, post, register, web_job};
use fakes::nomad::{FakeNomad, Scenario};
use serde_json::{json, Value};

fn sample(corpus: &Path, name: &str) -> Value {
    let path = corpus.join("nomad-api").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read sample {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("sample {} is not JSON: {e}", path.display()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Type mismatches between `sample` and `fake` at `path`, recursing into shared keys, the
/// first elements of arrays, and the first values of maps keyed by names (task groups, tasks).
fn mismatches(path: &str, sample: &Value, fake: &Value, out: &mut Vec<String>) {
    if sample.is_null() || fake.is_null() || sample == "..." {
        return;
    }
    if kind(sample) != kind(fake) {
        out.push(format!("{path}: sample is {}, fake is {}", kind(sample), kind(fake)));
        return;
    }
    match (sample, fake) {
        (Value::Object(s), Value::Object(f)) => {
            let shared: Vec<&String> = s.keys().filter(|k| f.contains_key(*k)).collect();
            if shared.is_empty() && !s.is_empty() && !f.is_empty() {
                // A map keyed by names: compare one entry with one entry.
                if let (Some((sk, sv)), Some((_, fv))) = (s.iter().next(), f.iter().next()) {
                    mismatches(&format!("{path}[{sk}]"), sv, fv, out);
                }
                return;
            }
            for key in shared {
                mismatches(&format!("{path}.{key}"), &s[key], &f[key], out);
            }
        }
        (Value::Array(s), Value::Array(f)) => {
            if let (Some(sv), Some(fv)) = (s.iter().find(|v| *v != "..."), f.first()) {
                mismatches(&format!("{path}[0]"), sv, fv, out);
            }
        }
        _ => {}
    }
}

/// Asserts the fake's answer has the sample's top-level keys and the same field types.
fn assert_shape(corpus: &Path, name: &str, fake: &Value) {
    let sample = sample(corpus, name);
    let (sample, fake) = match (&sample, fake) {
        (Value::Array(s), Value::Array(f)) => (
            s.first().cloned().unwrap_or(Value::Null),
            f.first().cloned().unwrap_or_else(|| panic!("{name}: the fake's list is empty")),
        ),
        _ => (sample.clone(), fake.clone()),
    };
    if let Some(keys) = sample.as_object() {
        let missing: Vec<&String> =
            keys.keys().filter(|k| fake.get(k.as_str()).is_none()).collect();
        assert!(
            missing.is_empty(),
            "{name}: the fake lacks top-level keys {missing:?}\nfake: {fake:#}"
        );
    }
    let mut found = Vec::new();
    mismatches("", &sample, &fake, &mut found);
    assert!(found.is_empty(), "{name}: {found:#?}");
}

#[tokio::test]
async fn responses_have_the_keys_and_types_of_real_nomad() {
    let Some(corpus) = corpus::for_test() else { return };
    let mut scenario = Scenario::default();
    scenario.namespaces.push("apps".to_string());
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();

    let plan = post(
        &format!("{base}/v1/job/web/plan"),
        json!({"Job": web_job("web", 8192, "redis:7"), "Diff": true}),
    )
    .await;
    assert_shape(&corpus, "jobs--create-job-plan.json", &plan.body);
    let created = register(&base, web_job("web", 256, "redis:7")).await;
    assert_shape(&corpus, "jobs--create-job.json", &created.body);
    let eval_id = created.body["EvalID"].as_str().unwrap_or_default().to_string();
    let (_, deployment) = deploy(&base, web_job("web", 300, "redis:7")).await;
    assert_shape(
        &corpus,
        "jobs--update-existing-job.json",
        &register(&base, web_job("web", 300, "redis:7")).await.body,
    );
    assert!(nomad.wait_settled(std::time::Duration::from_secs(10)));

    let deployment_id = deployment["ID"].as_str().unwrap_or_default();
    assert_shape(&corpus, "deployments--read-deployment.json", &deployment);
    assert_shape(
        &corpus,
        "jobs--read-job-s-most-recent-deployment.json",
        &get(&format!("{base}/v1/job/web/deployment")).await.body,
    );
    assert_shape(
        &corpus,
        "jobs--list-job-deployments.json",
        &get(&format!("{base}/v1/job/web/deployments")).await.body,
    );
    assert_shape(
        &corpus,
        "deployments--list-allocations-for-deployment.json",
        &get(&format!("{base}/v1/deployment/allocations/{deployment_id}")).await.body,
    );
    let evaluation = get(&format!("{base}/v1/evaluation/{eval_id}?related=true")).await.body;
    assert_shape(&corpus, "evaluations--read-evaluation.json", &evaluation);
    assert_shape(
        &corpus,
        "jobs--list-job-evaluations.json",
        &get(&format!("{base}/v1/job/web/evaluations")).await.body,
    );
    let allocations = get(&format!("{base}/v1/job/web/allocations")).await.body;
    assert_shape(&corpus, "jobs--list-job-allocations.json", &allocations);
    let alloc_id = allocations[0]["ID"].as_str().unwrap_or_default();
    assert_shape(
        &corpus,
        "allocations--read-allocation.json",
        &get(&format!("{base}/v1/allocation/{alloc_id}")).await.body,
    );
    assert_shape(
        &corpus,
        "jobs--read-job-summary.json",
        &get(&format!("{base}/v1/job/web/summary")).await.body,
    );
    assert_shape(&corpus, "jobs--list-jobs.json", &get(&format!("{base}/v1/jobs")).await.body);
    assert_shape(
        &corpus,
        "jobs--list-job-versions.json",
        &get(&format!("{base}/v1/job/web/versions?diffs=true")).await.body,
    );
    let revert =
        post(&format!("{base}/v1/job/web/revert"), json!({"JobID": "web", "JobVersion": 0})).await;
    assert_shape(&corpus, "jobs--revert-to-older-job-version.json", &revert.body);
    let stop = call(reqwest::Method::DELETE, &format!("{base}/v1/job/web"), None, None).await;
    assert_shape(&corpus, "jobs--stop-a-job.json", &stop.body);
    let validate =
        post(&format!("{base}/v1/validate/job"), json!({"Job": web_job("web", 5, "redis:7")}))
            .await;
    assert_shape(&corpus, "validate--validate-job.json", &validate.body);
}

#[tokio::test]
async fn the_corpus_job_round_trips_with_every_field() {
    let Some(corpus) = corpus::for_test() else { return };
    let mut scenario = Scenario::default();
    scenario.namespaces.push("apps".to_string());
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let job = sample(&corpus, "jobs--read-job.json");
    let registered = register(&base, job).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    // The sample job is periodic and parameterized: Nomad creates no evaluation for it.
    assert_eq!(registered.body["EvalID"], "");
    assert_eq!(registered.body["EvalCreateIndex"], 0);
    assert!(nomad.evaluations("example").is_empty());
    let read = get(&format!("{base}/v1/job/example?namespace=apps")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_shape(&corpus, "jobs--read-job.json", &read.body);
    assert_eq!(read.body["Status"], "running", "a periodic parent runs without allocations");
    assert_eq!(
        read.body["TaskGroups"],
        sample(&corpus, "jobs--read-job.json")["TaskGroups"],
        "groups come back unchanged"
    );
}

#[tokio::test]
async fn the_agent_answers_in_the_modern_shape() {
    let Some(corpus) = corpus::for_test() else { return };
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let agent = get(&format!("{}/v1/agent/self", nomad.url())).await.body;
    let sample = sample(&corpus, "agent--query-self.json");
    for key in sample.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
    {
        assert!(agent.get(&key).is_some(), "agent/self lacks {key}");
    }
    // The corpus sample comes from Nomad 0.5, where `config.Version` was a string; Nomad 1.x
    // answers an object, which is what the fake (and a client for today's Nomad) speaks.
    assert_eq!(kind(&sample["config"]["Version"]), "string");
    assert_eq!(agent["config"]["Version"]["Version"], "1.10.3");
    assert_eq!(agent["member"]["Tags"]["build"], "1.10.3");
}

#[test]
fn the_shape_check_catches_wrong_types_and_tolerates_nulls() {
    let sample =
        json!({"Count": 1, "Tags": ["a"], "Groups": {"cache": {"Healthy": true}}, "Meta": null});
    let good =
        json!({"Count": 3, "Tags": [], "Groups": {"web": {"Healthy": false}}, "Meta": {"a": "b"}});
    let mut found = Vec::new();
    mismatches("", &sample, &good, &mut found);
    assert!(found.is_empty(), "{found:?}");
    let bad = json!({"Count": "3", "Tags": ["a"], "Groups": {"web": {"Healthy": "yes"}}});
    mismatches("", &sample, &bad, &mut found);
    assert_eq!(
        found,
        vec![
            ".Count: sample is number, fake is string".to_string(),
            ".Groups[cache].Healthy: sample is bool, fake is string".to_string(),
        ]
    );
}
