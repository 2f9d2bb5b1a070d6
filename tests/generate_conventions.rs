//! Every option of `.nomad-spec.toml`, each shown by the job file it renders (file snapshots
//! under `tests/snapshots/`, regenerated with `INSTA_UPDATE=always` after a layout change).

use std::path::Path;

use nomad_spec::analyze::Analysis;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::build::render_files;
use nomad_spec::jobspec::config::Config;

fn fixture(name: &str) -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Whether `text` contains `needle`, whatever the alignment before each `=` (the formatter
/// pads attribute names in a run to the same width).
fn has(text: &str, needle: &str) -> bool {
    let squeeze =
        |s: &str| regex::Regex::new(r"[ \t]+=").unwrap().replace_all(s, " =").into_owned();
    squeeze(text).contains(&squeeze(needle))
}

/// The files generated for `fixture` with the configuration text and answers given.
fn generate(fixture_name: &str, config: &str, answers: &[&str]) -> String {
    let config = Config::from_toml(config, ".nomad-spec.toml").unwrap();
    let mut parsed = Answers::default();
    for line in answers {
        parsed.set(line).unwrap();
    }
    let analysis = fixture(&format!("{fixture_name}.json"));
    let generated = build(&analysis, &parsed, &config, "shop").unwrap();
    let files = render_files(&generated, &config, "shop").unwrap();
    files.iter().map(|f| format!("=== {}\n{}", f.path, f.text)).collect::<Vec<_>>().join("\n")
}

#[test]
fn terraform_datacenters_variable() {
    let text = generate(
        "web-http-check",
        "[terraform]\ndatacenters_variable = \"datacenter\"\n",
        &[
            "env.web.LITERAL=${x} %{y} $${z} %%{w}",
            "env.web.ADDR=http://${NOMAD_IP_http}:${NOMAD_PORT_http}",
        ],
    );
    insta::assert_snapshot!("convention_terraform", text);
    assert!(has(&text, "datacenters = [\"${datacenter}\"]"));
    // Terraform gives `$${` back as `${` and `%%{` as `%{`: the plain job file, escapes intact.
    let plain = generate(
        "web-http-check",
        "datacenters = [\"dc1\"]\n",
        &[
            "env.web.LITERAL=${x} %{y} $${z} %%{w}",
            "env.web.ADDR=http://${NOMAD_IP_http}:${NOMAD_PORT_http}",
        ],
    );
    let templated = text.replace("${datacenter}", "dc1").replace("$${", "${").replace("%%{", "%{");
    let body = |text: &str| text.split_once("\n\n").map(|(_, body)| body.to_string()).unwrap();
    assert_eq!(body(&templated), body(&plain));
    assert!(has(&plain, r#"LITERAL = "$${x} %%{y} $$${z} %%%{w}""#), "{plain}");
}

#[test]
fn architecture_constraint() {
    insta::assert_snapshot!(
        "convention_architecture",
        generate("worker", "architecture = \"arm64\"\n", &[])
    );
}

#[test]
fn service_classes_override_the_analysis() {
    let config = "[classes.small]\ncpu = 50\nmemory = 64\n\
                  [classes.database]\ncpu = 500\nmemory = 1024\nmemory_max = 2048\n\
                  [service_classes]\nweb = \"small\"\n";
    insta::assert_snapshot!(
        "convention_service_classes",
        generate("app-database", config, &["deploy.db=true"])
    );
}

#[test]
fn csi_volumes_with_permission_fixing_init_task() {
    let config = "[volumes]\ntype = \"csi\"\ninit_image = \"alpine:3.20\"\n\
                  default_owner = \"33:33\"\naccess_mode = \"multi-node-multi-writer\"\n";
    insta::assert_snapshot!("convention_csi_volumes", generate("app-volume", config, &[]));
    // The official image's user is known; the answer wins over both.
    let db = generate("app-database", "[volumes]\ntype = \"csi\"\n", &["deploy.db=true"]);
    assert!(has(&db, r#"args = ["-R", "999:999", "/var/lib/postgresql/data"]"#), "{db}");
    let answered = generate("app-volume", config, &["owner.uploads=82:82"]);
    assert!(has(&answered, r#"args = ["-R", "82:82", "/var/www/uploads"]"#), "{answered}");
}

#[test]
fn volumes_without_permission_fixing() {
    let text = generate("app-volume", "[volumes]\nfix_permissions = false\n", &[]);
    insta::assert_snapshot!("convention_no_fix_permissions", text);
    assert!(!text.contains("prestart"));
}

#[test]
fn fabio_routes_for_public_hostnames() {
    let text = generate("web-http-check", "[fabio]\n", &["hostname.web=shop.example.com"]);
    insta::assert_snapshot!("convention_fabio", text);
    let grpc = generate(
        "grpc-service",
        "[fabio]\ntag_prefix = \"edge-\"\n",
        &["hostname.greeter=rpc.example.com/greeter"],
    );
    assert!(has(&grpc, r#"tags = ["edge-rpc.example.com/greeter proto=grpc"]"#), "{grpc}");
    let tcp = generate("app-database", "[fabio]\n", &["deploy.db=true", "route_port.db=15432"]);
    assert!(has(&tcp, r#"tags = ["urlprefix-:15432 proto=tcp"]"#), "{tcp}");
    insta::assert_snapshot!("convention_fabio_tcp_port", tcp);
    let without = generate("web-http-check", "", &["hostname.web=shop.example.com"]);
    assert!(has(&without, r#"public_hostname = "shop.example.com""#), "{without}");
}

#[test]
fn template_delimiters() {
    let config = "[templates]\nleft_delimiter = \"[[\"\nright_delimiter = \"]]\"\n";
    insta::assert_snapshot!(
        "convention_template_delimiters",
        generate("app-database", config, &[])
    );
}

#[test]
fn default_datacenters_namespace_and_node_pool() {
    let config = "datacenters = [\"eu-west-1\", \"eu-west-2\"]\nnamespace = \"shop\"\nnode_pool = \"apps\"\n";
    insta::assert_snapshot!("convention_placement_defaults", generate("worker", config, &[]));
    let answered =
        generate("worker", config, &["datacenters=dc9", "namespace=other", "node_pool=gpu"]);
    assert!(has(&answered, "datacenters = [\"dc9\"]") && has(&answered, "namespace = \"other\""));
    assert!(has(&answered, "node_pool = \"gpu\""), "{answered}");
}

#[test]
fn job_prefix_and_output_path() {
    let config = "job_prefix = \"acme-\"\noutput = \"nomad/jobs/{job}.hcl\"\n";
    let text = generate("app-database", config, &["deploy.db=true"]);
    insta::assert_snapshot!("convention_job_prefix_output", text);
    assert!(text.starts_with("=== nomad/jobs/acme-shop.hcl\n"), "{text}");
    assert!(text.contains("=== nomad/jobs/acme-shop-db.hcl\n"), "{text}");
}

#[test]
fn vault_role_mount_and_path_pattern() {
    let config =
        "[vault]\nmount = \"secret\"\npath = \"apps/{job}/{service}\"\nrole = \"shop-reader\"\n";
    insta::assert_snapshot!("convention_vault_role", generate("app-secrets", config, &[]));
}

#[test]
fn vault_legacy_policies() {
    let config = "[vault]\npolicies = [\"shop-read\"]\n";
    insta::assert_snapshot!("convention_vault_policies", generate("app-secrets", config, &[]));
}

#[test]
fn registry_for_built_images() {
    let text = generate("web-http-check", "registry = \"ghcr.io/acme/\"\n", &[]);
    insta::assert_snapshot!("convention_registry", text);
    assert!(has(&text, r#"image = "ghcr.io/acme/web:latest""#), "{text}");
}

#[test]
fn consul_service_provider() {
    let config = "service_provider = \"consul\"\n";
    insta::assert_snapshot!("convention_consul_grpc", generate("grpc-service", config, &[]));
    let lookups = generate("app-database", config, &[]);
    insta::assert_snapshot!("convention_consul_lookups", lookups);
    assert!(lookups.contains(":= service \"shop-db\" }}"), "{lookups}");
}
