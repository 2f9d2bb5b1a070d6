//! Memory across repositories on one machine (issue 14), through the real binary against the
//! fake Nomad: a Spring service in one repository runs out of memory and is fixed; the next
//! Spring service, in another repository, gets the memory that worked in its first job and an
//! image under the registry people answered before, and is healthy with no fix. And the
//! `memory` commands that let a person see and edit what was remembered; a store that cannot
//! be read never fails a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakes::nomad::{FakeNomad, JobRule, Scenario};

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
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command
        .args(args)
        .current_dir(dir)
        .env("NOMAD_ADDR", nomad)
        .env("NOMAD_SPEC_MEMORY_PATH", store)
        .env("NOMAD_SPEC_MEMORY_CLUSTER", "prod");
    for name in [
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
