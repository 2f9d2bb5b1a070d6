//! Memory across repositories on one machine (issue 14), through the real binary against the
//! fake Nomad: a Spring service in one repository runs out of memory and is fixed; the next
//! Spring service, in another repository, gets the memory that worked in its first job and an
//! image under the registry people answered before, and is healthy with no fix. And the
//! `memory` commands that let a person see and edit what was remembered; a store that cannot
//! be read never fails a run. The same story with memory in Qdrant (the fake Qdrant, spoken to
//! through qdrant-client's gRPC), which the embedded store answers alike; a Qdrant that is down
//! or refuses the key never fails a run either.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakes::nomad::{FakeNomad, JobRule, Scenario};
use fakes::qdrant::FakeQdrant;

/// A repository of one Spring Boot service, in a folder named `name`.
fn spring_repository(parent: &Path, name: &str) -> PathBuf {
    let root = parent.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("pom.xml"),
        format!(
            "<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.acme</groupId>\n  \
             <artifactId>{name}</artifactId>\n  <version>1.0</version>\n  <parent>\n    \
             <groupId>org.springframework.boot</groupId>\n    \
             <artifactId>spring-boot-starter-parent</artifactId>\n    \
             <version>3.3.0</version>\n  </parent>\n  <dependencies>\n    <dependency>\n      \
             <groupId>org.springframework.boot</groupId>\n      \
             <artifactId>spring-boot-starter-web</artifactId>\n    </dependency>\n  \
             </dependencies>\n</project>\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        "FROM eclipse-temurin:21-jre\nCOPY target/app.jar /app.jar\nEXPOSE 8080\n\
         CMD [\"java\", \"-jar\", \"/app.jar\"]\n",
    )
    .unwrap();
    root
}

/// The binary in `dir`, with the memory file `store` and the fake Nomad.
fn nomad_spec(dir: &Path, store: &Path, nomad: &str, args: &[&str]) -> Output {
    nomad_spec_with(dir, store, nomad, args, &[])
}

/// The same, with more variables set (`QDRANT_URL`).
fn nomad_spec_with(
    dir: &Path,
    store: &Path,
    nomad: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command
        .args(args)
        .current_dir(dir)
        .env("NOMAD_ADDR", nomad)
        .env("NOMAD_SPEC_MEMORY_PATH", store)
        .env("NOMAD_SPEC_MEMORY_CLUSTER", "prod");
    for name in [
        "QDRANT_URL",
        "QDRANT_API_KEY",
        "RUST_LOG",
        "NOMAD_TOKEN",
        "NOMAD_NAMESPACE",
        "NOMAD_SPEC_MEMORY",
        "NOMAD_SPEC_EMBEDDING_MODEL",
        "NOMAD_SPEC_LLM_BASE_URL",
        "OPENAI_BASE_URL",
        "CONSUL_HTTP_ADDR",
        "VAULT_ADDR",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    command.output().unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

fn succeeded(output: &Output) -> (String, String) {
    let (stdout, stderr) = text(output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    (stdout, stderr)
}

/// A Spring service needs more than the analysis suggests (1024 MB) on this cluster.
fn cluster() -> FakeNomad {
    FakeNomad::start(Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(1500)))
        .unwrap()
}

#[test]
fn a_failure_fixed_in_one_repository_is_not_repeated_in_the_next_and_an_answer_is_asked_once() {
    let nomad = cluster();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("data/memory.json");

    // Repository A: an answer, then a deploy that runs out of memory and is fixed.
    let orders = spring_repository(dir.path(), "orders");
    let generate = ["generate", "--no-questions", "--set", "image.orders=ghcr.io/acme/orders:1.4"];
    succeeded(&nomad_spec(&orders, &store, &nomad.url(), &generate));
    let job = "deploy/orders.nomad.hcl";
    let (stdout, _) =
        succeeded(&nomad_spec(&orders, &store, &nomad.url(), &["deploy", job, "--fix"]));
    assert!(stdout.starts_with("job orders: healthy after 1 fix(es)"), "{stdout}");
    assert!(stdout.contains("Raised memory to 1536 MB"), "{stdout}");

    let (listed, _) = succeeded(&nomad_spec(&orders, &store, &nomad.url(), &["memory", "list"]));
    assert!(
        listed.contains("out-of-memory on java/spring-boot in orders (prod, 20")
            && listed.contains("fixed with 1536 MB, healthy"),
        "{listed}"
    );
    assert!(listed.contains("image.* = ghcr.io/acme on prod (given 1 time(s)"), "{listed}");
    assert!(listed.contains("good-job"), "{listed}");

    // Repository B: another Spring service. Its first job has the memory that worked and the
    // registry answered before, each a decision that says where it comes from.
    let billing = spring_repository(dir.path(), "billing");
    let (decisions, stderr) =
        succeeded(&nomad_spec(&billing, &store, &nomad.url(), &["generate", "--no-questions"]));
    assert!(
        decisions.contains(
            "memory.billing: 1536 — remembered: an out-of-memory on a java/spring-boot service in \
             orders was fixed with 1536 MB on 20"
        ),
        "{decisions}"
    );
    assert!(
        decisions.contains(
            "image.billing: ghcr.io/acme/billing:latest — remembered: `image.*` was answered \
             `ghcr.io/acme` 1 time(s) on this cluster, last in orders on 20"
        ),
        "{decisions}"
    );
    // Still a question the person may answer otherwise, with memory's default.
    assert!(
        stderr.contains("image.billing = ghcr.io/acme/billing:latest  (remembered"),
        "{stderr}"
    );
    let file = std::fs::read_to_string(billing.join("deploy/billing.nomad.hcl")).unwrap();
    assert!(file.contains("memory = 1536"), "{file}");
    assert!(file.contains("ghcr.io/acme/billing:latest"), "{file}");
    let (stdout, _) = succeeded(&nomad_spec(
        &billing,
        &store,
        &nomad.url(),
        &["deploy", "deploy/billing.nomad.hcl", "--fix"],
    ));
    assert!(stdout.starts_with("job billing: healthy\n"), "healthy with no fix: {stdout}");
    assert_eq!(nomad.register_calls("billing"), 1);
}

#[test]
fn the_deploy_loop_tries_the_remembered_fix_first() {
    let nomad = cluster();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memory.json");
    let orders = spring_repository(dir.path(), "orders");
    succeeded(&nomad_spec(&orders, &store, &nomad.url(), &["generate", "--no-questions"]));
    succeeded(&nomad_spec(
        &orders,
        &store,
        &nomad.url(),
        &["deploy", "deploy/orders.nomad.hcl", "--fix"],
    ));

    // A job written without memory's help (--no-memory) fails the same way; the loop gives it
    // what worked at once, and says where that comes from.
    let billing = spring_repository(dir.path(), "billing");
    let generate = ["generate", "--no-questions", "--no-memory"];
    succeeded(&nomad_spec(&billing, &store, &nomad.url(), &generate));
    let deploy = ["deploy", "deploy/billing.nomad.hcl", "--fix"];
    let (stdout, _) = succeeded(&nomad_spec(&billing, &store, &nomad.url(), &deploy));
    assert!(stdout.starts_with("job billing: healthy after 1 fix(es)"), "{stdout}");
    assert!(
        stdout.contains(
            "fix: The same out-of-memory on a java/spring-boot service in orders was fixed with \
             1536 MB on 20"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("from 1024 MB to 1536 MB at once"), "{stdout}");

    // With --no-memory the rules step up on their own.
    let third = spring_repository(dir.path(), "shipping");
    succeeded(&nomad_spec(&third, &store, &nomad.url(), &generate));
    let deploy = ["deploy", "deploy/shipping.nomad.hcl", "--fix", "--no-memory"];
    let (stdout, _) = succeeded(&nomad_spec(&third, &store, &nomad.url(), &deploy));
    assert!(stdout.contains("Raised memory to 1536 MB"), "{stdout}");
    assert!(!stdout.contains("The same out-of-memory"), "{stdout}");
}

#[test]
fn memory_commands_list_show_forget_export_and_import() {
    let nomad = cluster();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memory.json");
    let orders = spring_repository(dir.path(), "orders");
    let run = |args: &[&str]| nomad_spec(&orders, &store, &nomad.url(), args);
    let (_, stderr) = succeeded(&run(&["memory", "list"]));
    assert!(stderr.contains("is empty"), "{stderr}");
    succeeded(&run(&["generate", "--no-questions", "--set", "datacenters=eu1"]));
    let (listed, _) = succeeded(&run(&["memory", "list", "--format", "json"]));
    let entries: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let id = entries[0]["id"].as_str().unwrap().to_string();
    assert_eq!(entries[0]["kind"], "preference");

    let (shown, _) = succeeded(&run(&["memory", "show", &id[..4]]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (shown["key"].as_str(), shown["value"].as_str()),
        (Some("datacenters"), Some("eu1"))
    );

    let exported = dir.path().join("exported.json");
    succeeded(&run(&["memory", "export", exported.to_str().unwrap()]));
    let (forgot, _) = succeeded(&run(&["memory", "forget", &id]));
    assert!(forgot.starts_with(&format!("forgot preference {id}: datacenters = eu1")), "{forgot}");
    let (_, stderr) = succeeded(&run(&["memory", "list"]));
    assert!(stderr.contains("is empty"), "{stderr}");
    let missing = run(&["memory", "forget", &id]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).1.contains("no entry's id starts with"), "{:?}", text(&missing));

    // The round trip: what was exported comes back whole.
    succeeded(&run(&["memory", "import", exported.to_str().unwrap()]));
    let (again, _) = succeeded(&run(&["memory", "export"]));
    assert_eq!(again, std::fs::read_to_string(&exported).unwrap());
    // Importing it twice adds nothing.
    succeeded(&run(&["memory", "import", exported.to_str().unwrap()]));
    let (twice, _) = succeeded(&run(&["memory", "export"]));
    assert_eq!(twice, again);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 9}").unwrap();
    let refused = run(&["memory", "import", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).1.contains("format 9 (this nomad-spec reads format 1)"),
        "{:?}",
        text(&refused)
    );
}

#[test]
fn a_store_that_cannot_be_read_never_fails_a_run_and_is_left_as_it_is() {
    let nomad = cluster();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memory.json");
    std::fs::write(&store, "{ this is not memory").unwrap();
    let orders = spring_repository(dir.path(), "orders");
    let (_, stderr) =
        succeeded(&nomad_spec(&orders, &store, &nomad.url(), &["generate", "--no-questions"]));
    assert!(stderr.contains("note: memory is not used and not written in this run:"), "{stderr}");
    assert!(stderr.contains("memory.json is not nomad-spec's memory"), "{stderr}");
    let deploy = ["deploy", "deploy/orders.nomad.hcl", "--fix"];
    let (stdout, _) = succeeded(&nomad_spec(&orders, &store, &nomad.url(), &deploy));
    assert!(stdout.starts_with("job orders: healthy after 1 fix(es)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "{ this is not memory");
    // The commands that look at the store say what is wrong with it.
    let listed = nomad_spec(&orders, &store, &nomad.url(), &["memory", "list"]);
    assert_eq!(listed.status.code(), Some(2));
    // Turned off, memory is neither read nor written.
    let mut off = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    let output = off
        .args(["memory", "list"])
        .env("NOMAD_SPEC_MEMORY", "off")
        .env("NOMAD_SPEC_MEMORY_PATH", &store)
        .output()
        .unwrap();
    assert!(text(&output).1.contains("memory is turned off"), "{:?}", text(&output));
}

#[test]
fn with_qdrant_a_fix_and_an_answer_from_one_repository_serve_the_next() {
    let nomad = cluster();
    let qdrant = FakeQdrant::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The file the embedded store would use: with Qdrant it is never written.
    let store = dir.path().join("memory.json");
    let vars = [("QDRANT_URL", qdrant.url())];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |repository: &Path, args: &[&str]| {
        succeeded(&nomad_spec_with(repository, &store, &nomad.url(), args, &vars))
    };

    let orders = spring_repository(dir.path(), "orders");
    run(&orders, &["generate", "--no-questions", "--set", "image.orders=ghcr.io/acme/orders:1.4"]);
    let (stdout, _) = run(&orders, &["deploy", "deploy/orders.nomad.hcl", "--fix"]);
    assert!(stdout.starts_with("job orders: healthy after 1 fix(es)"), "{stdout}");
    assert_eq!(qdrant.points("nomad-spec-episodes"), Some(1));
    assert_eq!(qdrant.points("nomad-spec-preferences"), Some(1));
    assert_eq!(qdrant.points("nomad-spec-good-jobs"), Some(1));
    assert!(!store.exists(), "the embedded store is not used");

    // Another repository, the same server: its first job has what the first one learned.
    let billing = spring_repository(dir.path(), "billing");
    let (decisions, _) = run(&billing, &["generate", "--no-questions"]);
    assert!(
        decisions.contains(
            "memory.billing: 1536 — remembered: an out-of-memory on a java/spring-boot service in \
             orders was fixed with 1536 MB on 20"
        ),
        "{decisions}"
    );
    assert!(
        decisions.contains(
            "image.billing: ghcr.io/acme/billing:latest — remembered: `image.*` was answered \
             `ghcr.io/acme` 1 time(s) on this cluster, last in orders on 20"
        ),
        "{decisions}"
    );
    let (stdout, _) = run(&billing, &["deploy", "deploy/billing.nomad.hcl", "--fix"]);
    assert!(stdout.starts_with("job billing: healthy\n"), "healthy with no fix: {stdout}");

    // A job written without memory fails the same way: the fix loop asks Qdrant, with the
    // failure's category and stack in the query's filter, and applies what worked at once.
    let shipping = spring_repository(dir.path(), "shipping");
    run(&shipping, &["generate", "--no-questions", "--no-memory"]);
    let (stdout, _) = run(&shipping, &["deploy", "deploy/shipping.nomad.hcl", "--fix"]);
    assert!(
        stdout.contains(
            "fix: The same out-of-memory on a java/spring-boot service in orders was fixed with \
             1536 MB on 20"
        ),
        "{stdout}"
    );
    let filters: Vec<String> = qdrant
        .calls()
        .into_iter()
        .filter(|c| c.method == "Points/Query" && c.collection == "nomad-spec-episodes")
        .map(|c| format!("{:?}", c.filter))
        .collect();
    assert!(
        filters.iter().any(|f| f.contains("out-of-memory") && f.contains("java/spring-boot")),
        "{filters:?}"
    );
    assert!(!store.exists());

    // The memory commands see and edit the server, as runs use it.
    let memory = |args: &[&str]| {
        let mut all = vec!["memory"];
        all.extend_from_slice(args);
        succeeded(&nomad_spec_with(&orders, &store, &nomad.url(), &all, &vars)).0
    };
    let listed: serde_json::Value =
        serde_json::from_str(&memory(&["list", "--format", "json"])).unwrap();
    let kinds: Vec<&str> =
        listed.as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    // Both fixed failures, the answer, and the three healthy jobs.
    let kinds_held = ["episode", "episode", "preference", "good-job", "good-job", "good-job"];
    assert_eq!(kinds, kinds_held, "{listed}");
    let episode = listed[0]["id"].as_str().unwrap().to_string();
    let shown: serde_json::Value = serde_json::from_str(&memory(&["show", &episode[..6]])).unwrap();
    assert_eq!(shown["category"], "out-of-memory");
    let exported = dir.path().join("exported.json");
    memory(&["export", exported.to_str().unwrap()]);
    let forgot = memory(&["forget", &episode]);
    assert!(forgot.starts_with(&format!("forgot episode {episode}: out-of-memory")), "{forgot}");
    assert_eq!(qdrant.points("nomad-spec-episodes"), Some(1), "deleted on the server");
    // The round trip: what was exported comes back whole, and twice is once.
    let imported = memory(&["import", exported.to_str().unwrap()]);
    assert!(imported.contains(&format!("into Qdrant at {}", qdrant.url())), "{imported}");
    memory(&["import", exported.to_str().unwrap()]);
    assert_eq!(memory(&["export"]), std::fs::read_to_string(&exported).unwrap());
    assert_eq!(qdrant.points("nomad-spec-episodes"), Some(2));
    assert_eq!(qdrant.points("nomad-spec-preferences"), Some(1), "given once, one point");
    // A replacement the server refuses half-way (its episodes' vectors of another
    // embedding's dimension) fails and loses nothing: what is new is written before what is
    // old is deleted.
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    for episode in other["episodes"].as_array_mut().unwrap() {
        episode["vector"]["values"] = serde_json::json!([0.6, 0.8]);
    }
    let other_file = dir.path().join("other-embedding.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let refused = nomad_spec_with(
        &orders,
        &store,
        &nomad.url(),
        &["memory", "import", "--replace", other_file.to_str().unwrap()],
        &vars,
    );
    assert!(!refused.status.success(), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("nomad-spec-episodes"));
    assert_eq!(memory(&["export"]), std::fs::read_to_string(&exported).unwrap(), "all kept");
    // Replacing with a store of nothing leaves nothing.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{\"format\": 1}").unwrap();
    memory(&["import", "--replace", empty.to_str().unwrap()]);
    let (_, stderr) =
        succeeded(&nomad_spec_with(&orders, &store, &nomad.url(), &["memory", "list"], &vars));
    assert!(stderr.contains(&format!("memory (Qdrant at {}) is empty", qdrant.url())), "{stderr}");
    assert!(!store.exists(), "the file is never used with Qdrant");
}

#[test]
fn a_qdrant_that_is_down_or_refuses_the_key_is_a_note_and_the_run_goes_on() {
    let nomad = cluster();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memory.json");
    let orders = spring_repository(dir.path(), "orders");
    let down = fakes::faults::refused_url();
    let vars = [("QDRANT_URL", down.as_str())];
    let generate = ["generate", "--no-questions", "--set", "image.orders=ghcr.io/acme/orders:1"];
    let (_, stderr) = succeeded(&nomad_spec_with(&orders, &store, &nomad.url(), &generate, &vars));
    // Said once for the recall, once for the save, in a few words.
    let why = format!("cannot reach Qdrant at {down}: connection refused");
    assert!(stderr.contains(&format!("note: memory was not consulted: {why}\n")), "{stderr}");
    assert!(stderr.contains(&format!("note: memory was not saved: {why}\n")), "{stderr}");
    let deploy = ["-v", "deploy", "deploy/orders.nomad.hcl", "--fix"];
    let output = nomad_spec_with(&orders, &store, &nomad.url(), &deploy, &vars);
    let (stdout, stderr) = succeeded(&output);
    assert!(stdout.starts_with("job orders: healthy after 1 fix(es)"), "{stdout}");
    assert!(stderr.contains(&format!("memory was not consulted: {why}")), "{stderr}");

    // A server that answers HTTP but not gRPC (Qdrant's REST port, say): said once, with
    // the port to use (nothing is saved: the image is not answered).
    let rest = nomad.url();
    let vars_rest = [("QDRANT_URL", rest.as_str())];
    let catalog = spring_repository(dir.path(), "catalog");
    let plain = ["generate", "--no-questions"];
    let (_, stderr) =
        succeeded(&nomad_spec_with(&catalog, &store, &nomad.url(), &plain, &vars_rest));
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("not gRPC")).collect();
    assert_eq!(notes.len(), 1, "said once for the recall of three collections: {stderr}");
    assert!(
        notes[0].starts_with(&format!(
            "note: memory was not consulted: cannot reach Qdrant at {rest}: it answers HTTP "
        )),
        "{stderr}"
    );
    assert!(
        notes[0].ends_with(
            "QDRANT_URL names Qdrant's gRPC port (6334 by default), not its REST port (6333)"
        ),
        "{stderr}"
    );

    // A server that wants another key: said, and the key never shown.
    let qdrant = FakeQdrant::with_api_key("the-right-key").unwrap();
    let url = qdrant.url();
    let vars = [("QDRANT_URL", url.as_str()), ("QDRANT_API_KEY", "a-wrong-s3cr3t")];
    let billing = spring_repository(dir.path(), "billing");
    let generate = ["generate", "--no-questions"];
    let output = nomad_spec_with(&billing, &store, &nomad.url(), &generate, &vars);
    let (stdout, stderr) = succeeded(&output);
    assert!(
        stderr.contains(&format!(
            "note: memory was not consulted: cannot recall from nomad-spec-preferences on Qdrant \
             at {url}: it refused the API key (QDRANT_API_KEY)\n"
        )),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("s3cr3t"));
    assert_eq!(qdrant.points("nomad-spec-preferences"), None, "nothing was written");
}

/// Episodes of several stacks, categories, repositories and days, with their vectors.
fn many_episodes() -> nomad_spec::memory::Memory {
    use nomad_spec::memory::embedding::local;
    use nomad_spec::memory::{episode_text, Context, Episode, Lesson, Memory, Outcome};
    let stacks = [Some("java/spring-boot"), Some("node/express"), Some("python/flask"), None];
    let categories = ["out-of-memory", "crash-on-start", "health-check-failing"];
    let lessons = [
        Some(Lesson::Memory { memory_mb: 1024 }),
        Some(Lesson::CheckPath { path: "/health".into() }),
        Some(Lesson::Other { summary: "port".into() }),
        None,
    ];
    let outcomes = [Outcome::Healthy, Outcome::FailedAgain, Outcome::RolledBack];
    let mut memory = Memory::new();
    for n in 0..60usize {
        let stack = stacks[n % 4];
        let category = categories[n % 3];
        let stderr = vec![format!("worker {} failed: {category} {}", n % 7, n % 5)];
        let explanation = format!("task app{} failed", n % 11);
        let text = episode_text(category, stack, &explanation, &stderr);
        memory.add_episode(Episode {
            id: format!("{:012x}", 0xa000 + n),
            context: Context {
                repository: format!("acme/repo{}", n % 6),
                cluster: if n % 5 == 0 { "staging".into() } else { "prod".into() },
                // A day of its own for each: newest first has one answer.
                date: format!("2026-{:02}-{:02}", 1 + n / 28, 1 + n % 28),
            },
            stack: stack.map(Into::into),
            category: category.into(),
            explanation,
            events: Vec::new(),
            stderr,
            job: Default::default(),
            fix: lessons[(n / 2) % 4].clone(),
            outcome: outcomes[(n / 3) % 3],
            vector: local(&text),
        });
    }
    memory
}

#[test]
fn the_embedded_store_and_qdrant_give_the_same_top_results() {
    use nomad_spec::memory::embedding::local;
    use nomad_spec::memory::learn::{answer_recalls, fix_recall, FailureQuery};
    use nomad_spec::memory::recall::{Condition, Field, Filter, Recall};
    use nomad_spec::memory::store::qdrant::QdrantStore;
    use nomad_spec::memory::{Given, Kind, Preference};
    use nomad_spec::settings::QdrantSettings;

    let fake = FakeQdrant::start().unwrap();
    let mut memory = many_episodes();
    for (n, (key, value)) in
        [("image.*", "ghcr.io/acme"), ("image.*", "quay.io/acme"), ("datacenters", "eu1")]
            .into_iter()
            .enumerate()
    {
        for run in 0..=n {
            memory.remember(Preference::new(
                key,
                value,
                "prod",
                Given {
                    date: format!("2026-11-0{}", run + 1),
                    repository: format!("acme/repo{run}"),
                    run: format!("#{run}"),
                },
            ));
        }
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = QdrantStore::new(&QdrantSettings { url: fake.url(), api_key: None }).unwrap();
    runtime.block_on(store.save(&memory)).unwrap();
    assert_eq!(fake.points("nomad-spec-episodes"), Some(60));

    let stderr = vec!["java.lang.OutOfMemoryError: Java heap space".to_string()];
    let failure = |category, stack| FailureQuery {
        category,
        stack,
        explanation: "task app3 failed",
        stderr: &stderr,
    };
    let near = |text: &str| Some(local(text));
    let analysis_stacks = answer_recalls(&nomad_spec::analyze::Analysis::default());
    let mut recalls = vec![
        fix_recall(
            failure("out-of-memory", Some("java/spring-boot")),
            near("out-of-memory java heap"),
        ),
        fix_recall(failure("health-check-failing", None), near("health check failing /health")),
        fix_recall(failure("crash-on-start", Some("node/express")), None),
        Recall {
            kind: Kind::Episode,
            filter: Filter {
                must: vec![Condition::is(Field::Cluster, "prod")],
                must_not: vec![Condition::Is(
                    Field::Repository,
                    vec!["acme/repo1".into(), "acme/repo2".into()],
                )],
                ..Filter::default()
            },
            near: near("worker 3 failed crash-on-start"),
            limit: 5,
        },
        Recall { kind: Kind::Episode, filter: Filter::default(), near: None, limit: 7 },
        Recall {
            kind: Kind::Preference,
            filter: Filter {
                must: vec![Condition::is(Field::Key, "image.*")],
                ..Filter::default()
            },
            near: None,
            limit: 10,
        },
    ];
    recalls.extend(analysis_stacks);
    for recall in &recalls {
        let embedded = memory.recall(recall);
        let served = runtime.block_on(store.recall(recall)).unwrap();
        let ids = |m: &nomad_spec::memory::Memory| -> Vec<String> {
            m.list().into_iter().map(|l| l.id).collect()
        };
        assert_eq!(ids(&served), ids(&embedded), "{recall:?}");
        // Preferences come back whole: every time each was given.
        assert_eq!(served.preferences, embedded.preferences, "{recall:?}");
    }
    // The queries were not empty answers agreeing by chance.
    assert!(!memory.recall(&recalls[0]).episodes.is_empty());
    assert!(!memory.recall(&recalls[1]).episodes.is_empty());
    assert!(!memory.recall(&recalls[3]).episodes.is_empty());
    assert_eq!(memory.recall(&recalls[5]).preferences.len(), 2);
}
