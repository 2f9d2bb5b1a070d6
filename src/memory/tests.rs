//! Tests of memory's pure part: what is learned from answers, what memory gives back and why,
//! and how entries are merged, shown and forgotten.

use super::embedding::local;
use super::learn::{
    is_secret_answer, preferences_from, remembered_answers, remembered_fix, FailureQuery,
};
use super::*;
use crate::analyze::{Analysis, Language, Role, Service, Source};
use crate::jobspec::answers::{Answers, Question};

fn spring(name: &str) -> Service {
    let mut service = Service::new(name, Source::Build, name);
    service.language = Some(Language::Java);
    service.framework = Some("spring-boot".into());
    service.resources.memory = 256;
    service
}

fn analysis(services: Vec<Service>) -> Analysis {
    Analysis { services, notes: Vec::new() }
}

fn given(repository: &str, date: &str) -> Given {
    Given { date: date.into(), repository: repository.into(), run: format!("{repository}#1") }
}

fn context(repository: &str, date: &str) -> Context {
    Context { repository: repository.into(), cluster: "prod".into(), date: date.into() }
}

fn episode(repository: &str, stack: &str, fix: Option<Lesson>, outcome: Outcome) -> Episode {
    let stderr = vec!["java.lang.OutOfMemoryError: Java heap space".to_string()];
    let explanation = "task \"app\" was OOM-killed".to_string();
    let text = episode_text("out-of-memory", Some(stack), &explanation, &stderr);
    Episode {
        id: digest(&[repository, stack, &format!("{fix:?}{outcome}")]),
        context: context(repository, "2026-11-20"),
        stack: Some(stack.into()),
        category: "out-of-memory".into(),
        explanation,
        events: Vec::new(),
        stderr,
        job: BTreeMap::new(),
        fix,
        outcome,
        vector: local(&text),
    }
}

fn question(key: &str, default: &str) -> Question {
    Question {
        key: key.into(),
        prompt: format!("{key}?"),
        default: default.into(),
        reason: "the builder's".into(),
        needs_answer: true,
    }
}

fn answers(pairs: &[&str]) -> Answers {
    let mut answers = Answers::default();
    for pair in pairs {
        answers.set(pair).unwrap();
    }
    answers
}

#[test]
fn answers_become_generalized_preferences_and_secrets_never_do() {
    let analysis = analysis(vec![spring("orders")]);
    let answers = answers(&[
        "image.orders=ghcr.io/acme/orders:1.4",
        "hostname.orders=orders.apps.acme.dev",
        "memory.orders=1024",
        "datacenters=eu1,eu2",
        "env.orders.DB_PASSWORD=hunter2-hunter2",
        "env.orders.LOG_LEVEL=debug",
        "secret.API_TOKEN=kv/data/orders#token",
    ]);
    let learned =
        preferences_from(&answers, &analysis, "prod", &given("acme/orders", "2026-11-20"));
    let pairs: Vec<(&str, &str)> =
        learned.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
    assert_eq!(
        pairs,
        vec![
            ("datacenters", "eu1,eu2"),
            ("image.*", "ghcr.io/acme"),
            ("hostname.*", "apps.acme.dev"),
            ("memory@java/spring-boot", "1024"),
        ]
    );
    let stored = serde_json::to_string(&learned).unwrap();
    assert!(!stored.contains("hunter2") && !stored.contains("kv/data"), "{stored}");
}

#[test]
fn a_secret_s_answer_is_recognised_by_its_key_its_name_or_its_value() {
    assert!(is_secret_answer("secret.DB_PASSWORD", "kv/data/shop#password"));
    assert!(is_secret_answer("env.api.DB_PASSWORD", "x"));
    assert!(is_secret_answer("env.api.SETTING", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
    assert!(!is_secret_answer("image.api", "ghcr.io/acme/api:1"));
}

#[test]
fn an_answer_given_in_one_repository_is_the_next_one_s_default_with_its_reason() {
    let mut memory = Memory::new();
    let first = analysis(vec![spring("orders")]);
    for preference in preferences_from(
        &answers(&["image.orders=ghcr.io/acme/orders:1.4"]),
        &first,
        "prod",
        &given("acme/orders", "2026-11-20"),
    ) {
        memory.remember(preference);
    }
    let second = analysis(vec![spring("billing")]);
    let questions = [question("image.billing", "registry.invalid/billing/billing:latest")];
    let found = remembered_answers(&memory, &second, &questions, &Answers::default(), "prod");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "image.billing");
    assert_eq!(found[0].value, "ghcr.io/acme/billing:latest");
    assert!(
        found[0].reason.starts_with(
            "remembered: `image.*` was answered `ghcr.io/acme` 1 time(s) on this cluster, last \
             in acme/orders on 2026-11-20 (memory preference "
        ),
        "{}",
        found[0].reason
    );
    // A person's answer always wins.
    let answered = answers(&["image.billing=quay.io/other/billing:2"]);
    assert!(remembered_answers(&memory, &second, &questions, &answered, "prod").is_empty());
}

#[test]
fn a_default_from_memory_is_never_applied_to_a_secret_s_value() {
    // Even a store someone edited to hold one.
    let mut memory = Memory::new();
    memory.remember(Preference::new(
        "env.*.DB_PASSWORD",
        "hunter2",
        "prod",
        given("acme/orders", "2026-11-20"),
    ));
    memory.remember(Preference::new("image.*", "ghcr.io/acme", "prod", given("a/b", "2026-11-20")));
    let questions = [
        question("env.billing.DB_PASSWORD", ""),
        question("secret.DB_PASSWORD", "kv/data/billing#password"),
    ];
    let found = remembered_answers(
        &memory,
        &analysis(vec![spring("billing")]),
        &questions,
        &Answers::default(),
        "prod",
    );
    assert!(found.iter().all(|r| !r.key.contains("PASSWORD")), "{found:#?}");
}

#[test]
fn a_stack_gets_the_memory_an_out_of_memory_fix_taught_it() {
    let mut memory = Memory::new();
    memory.add_episode(episode(
        "acme/orders",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 512 }),
        Outcome::FailedAgain,
    ));
    memory.add_episode(episode(
        "acme/orders",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 1024 }),
        Outcome::Healthy,
    ));
    let mut flask = Service::new("web", Source::Build, "web");
    flask.language = Some(Language::Python);
    flask.framework = Some("flask".into());
    let found = remembered_answers(
        &memory,
        &analysis(vec![spring("billing"), flask]),
        &[],
        &Answers::default(),
        "prod",
    );
    assert_eq!(found.len(), 1, "only the Spring service: {found:#?}");
    assert_eq!((found[0].key.as_str(), found[0].value.as_str()), ("memory.billing", "1024"));
    assert!(
        found[0].reason.starts_with(
            "remembered: an out-of-memory on a java/spring-boot service in acme/orders was fixed \
             with 1024 MB on 2026-11-20 and then healthy (memory episode "
        ),
        "{}",
        found[0].reason
    );
}

#[test]
fn a_fix_counts_against_the_memory_the_job_would_get_not_the_analysis_guess() {
    // The analysis suggests 1024 MB for Spring, but the conventions' class gives 512 MB (the
    // question's default): the 1024 MB that fixed the same stack is more than the job gets.
    let mut memory = Memory::new();
    memory.add_episode(episode(
        "acme/shop",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 1024 }),
        Outcome::Healthy,
    ));
    let mut billing = spring("billing");
    billing.resources.memory = 1024;
    let analysis = analysis(vec![billing]);
    let none = Answers::default();
    assert!(remembered_answers(&memory, &analysis, &[], &none, "prod").is_empty());
    let questions = [question("memory.billing", "512")];
    let found = remembered_answers(&memory, &analysis, &questions, &none, "prod");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].key.as_str(), found[0].value.as_str()), ("memory.billing", "1024"));
    assert!(found[0].reason.ends_with("; 512 MB was proposed"), "{}", found[0].reason);
}

#[test]
fn the_fix_tried_first_is_one_that_made_the_same_failure_healthy() {
    let mut memory = Memory::new();
    let failed = episode(
        "a/x",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 512 }),
        Outcome::FailedAgain,
    );
    let healthy = episode(
        "a/x",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 1024 }),
        Outcome::Healthy,
    );
    let other_stack =
        episode("a/y", "node/express", Some(Lesson::Memory { memory_mb: 4096 }), Outcome::Healthy);
    memory.add_episode(failed);
    memory.add_episode(healthy.clone());
    memory.add_episode(other_stack);
    let stderr = vec!["java.lang.OutOfMemoryError: Metaspace".to_string()];
    let query = FailureQuery {
        category: "out-of-memory",
        stack: Some("java/spring-boot"),
        explanation: "task \"api\" was OOM-killed",
        stderr: &stderr,
    };
    let recalled = remembered_fix(&memory, query).unwrap();
    assert_eq!(recalled.episode.id, healthy.id);
    assert_eq!(
        recalled.sentence(),
        format!(
            "The same out-of-memory on a java/spring-boot service in a/x was fixed with 1024 MB \
             on 2026-11-20 (memory episode {})",
            healthy.id
        )
    );
    // Another category, or another stack with no episode of its own: nothing to try.
    let crash = FailureQuery { category: "crash-on-start", ..query };
    assert!(remembered_fix(&memory, crash).is_none());
    let go = FailureQuery { stack: Some("go/gin"), ..query };
    assert!(remembered_fix(&memory, go).is_none());
}

#[test]
fn a_race_between_two_runs_is_merged_never_lost() {
    let base = {
        let mut memory = Memory::new();
        memory.remember(Preference::new(
            "image.*",
            "ghcr.io/acme",
            "prod",
            given("a/x", "2026-11-01"),
        ));
        memory
    };
    let mut one = base.clone();
    one.remember(Preference::new("image.*", "ghcr.io/acme", "prod", given("a/y", "2026-11-02")));
    one.add_episode(episode("a/y", "java/spring-boot", None, Outcome::RolledBack));
    let mut two = base.clone();
    two.remember(Preference::new("image.*", "ghcr.io/acme", "prod", given("a/z", "2026-11-03")));
    two.add_good_job(GoodJob {
        id: "g1".into(),
        context: context("a/z", "2026-11-03"),
        stacks: vec!["go".into()],
        analysis: "job z".into(),
        job: serde_json::json!({"ID": "z"}),
        vector: local("go job z"),
    });
    one.merge(two.clone());
    assert_eq!(one.episodes.len(), 1);
    assert_eq!(one.good_jobs.len(), 1);
    assert_eq!(one.preferences.len(), 1);
    let repositories: Vec<&str> =
        one.preferences[0].given.iter().map(|g| g.repository.as_str()).collect();
    assert_eq!(repositories, vec!["a/x", "a/y", "a/z"], "the base's answer counts once");
    // Merging again changes nothing.
    let before = one.clone();
    one.merge(two);
    assert_eq!(one, before);
}

#[test]
fn entries_are_listed_shown_and_forgotten_by_their_id_or_its_start() {
    let mut memory = Memory::new();
    let kept = episode(
        "a/x",
        "java/spring-boot",
        Some(Lesson::Memory { memory_mb: 1024 }),
        Outcome::Healthy,
    );
    memory.add_episode(kept.clone());
    memory.remember(Preference::new("datacenters", "eu1", "prod", given("a/x", "2026-11-20")));
    let listed = memory.list();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0].summary,
        "out-of-memory on java/spring-boot in a/x (prod, 2026-11-20): fixed with 1024 MB, healthy"
    );
    assert_eq!(
        listed[1].summary,
        "datacenters = eu1 on prod (given 1 time(s), last in a/x on 2026-11-20)"
    );
    let shown = memory.show(&kept.id[..6]).unwrap();
    assert_eq!(shown["fix"], serde_json::json!({"set": "memory", "memory_mb": 1024}));
    assert!(memory.show("zzz").unwrap_err().contains("no entry's id starts with `zzz`"));
    assert!(memory.forget("").is_err());
    let before = memory.clone();
    let forgotten = memory.forget(&kept.id).unwrap();
    assert_eq!(forgotten.kind, Kind::Episode);
    assert!(memory.episodes.is_empty() && memory.preferences.len() == 1);
    // What the edit removed, for a store that deletes entries one by one (Qdrant).
    let removed = before.without(&memory);
    assert_eq!((removed.episodes, removed.preferences.len()), (vec![kept], 0));
    assert!(memory.without(&before).is_empty());
}

#[test]
fn the_stack_is_the_framework_the_image_or_the_language() {
    use super::learn::stack_of;
    assert_eq!(stack_of(&spring("orders")).as_deref(), Some("java/spring-boot"));
    let mut db = Service::new("db", Source::Image, ".");
    db.image = Some("docker.io/library/postgres:16".into());
    db.role = Role::Database;
    assert_eq!(stack_of(&db).as_deref(), Some("postgres"));
    let mut go = Service::new("api", Source::Build, "api");
    go.language = Some(Language::Go);
    assert_eq!(stack_of(&go).as_deref(), Some("go"));
    assert_eq!(stack_of(&Service::new("x", Source::Build, ".")), None);
}
