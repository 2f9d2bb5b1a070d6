//! The job a cluster's Nomad version wants: the same analysis and `.nomad-spec.toml` rendered
//! for Nomad 1.6 (token policies, node pool), 1.9 (workload identity role) and 1.11 (task
//! `secret` blocks when asked for), and KV v1 template paths. Snapshots are files under
//! `tests/snapshots/` (regenerate with `INSTA_UPDATE=always cargo test --test
//! version_rendering` and review).

use std::path::Path;

use nomad_spec::analyze::Analysis;
use nomad_spec::cli::generate::explain;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::build::render_files;
use nomad_spec::jobspec::config::Config;

fn analysis() -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate/app-secrets.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn config(toml: &str) -> Config {
    Config::from_toml(toml, ".nomad-spec.toml").unwrap()
}

fn generate(config: &Config) -> (String, String) {
    let generated = build(&analysis(), &Answers::default(), config, "app-secrets").unwrap();
    let files = render_files(&generated, config, "shop").unwrap();
    let text = files.iter().map(|f| format!("=== {}\n{}", f.path, f.text)).collect::<String>();
    (text, explain(&generated))
}

const CLUSTER: &str = r#"
node_pool = "apps"

[vault]
role = "shop-workloads"
use_secret_blocks = true
"#;

#[test]
fn nomad_1_6_gets_policies_and_no_node_pool() {
    let (files, decisions) = generate(&config(&format!("nomad_version = \"1.6\"\n{CLUSTER}")));
    insta::assert_snapshot!("version_1_6", files);
    assert!(files.contains("policies = [\"app-secrets\"]"), "{files}");
    assert!(!files.contains("role =") && !files.contains("  secret \""), "{files}");
    assert!(files.contains("node_pool   = \"apps\""), "{files}");
    assert!(decisions.contains("has no Vault workload identity"), "{decisions}");
    assert!(decisions.contains("use_secret_blocks needs Nomad 1.11"), "{decisions}");
}

#[test]
fn nomad_1_5_drops_the_node_pool() {
    let (files, decisions) = generate(&config(&format!("nomad_version = \"1.5.6\"\n{CLUSTER}")));
    assert!(!files.contains("node_pool"), "{files}");
    assert!(decisions.contains("node pools need Nomad 1.6"), "{decisions}");
}

#[test]
fn nomad_1_9_gets_the_workload_identity_role_and_templates() {
    let (files, _) = generate(&config(&format!("nomad_version = \"1.9.3\"\n{CLUSTER}")));
    insta::assert_snapshot!("version_1_9", files);
    assert!(files.contains("role = \"shop-workloads\""), "{files}");
    assert!(files.contains("{{ with secret \"kv/data/app-secrets\" }}"), "{files}");
    assert!(!files.contains("policies"), "{files}");
}

#[test]
fn nomad_1_11_gets_secret_blocks_when_asked() {
    let (files, decisions) = generate(&config(&format!("nomad_version = \"1.11.0\"\n{CLUSTER}")));
    insta::assert_snapshot!("version_1_11", files);
    assert!(files.contains("secret \"kv_app_secrets\" {"), "{files}");
    assert!(files.contains("engine = \"kv_v2\""), "{files}");
    assert!(files.contains("\"${secret."), "{files}");
    assert!(!files.contains("with secret"), "{files}");
    assert!(decisions.contains("`secret` blocks"), "{decisions}");
}

#[test]
fn kv_v1_paths_and_fields() {
    let (files, _) = generate(&config("nomad_version = \"1.9\"\n[vault]\nkv_version = 1\n"));
    assert!(files.contains("{{ with secret \"kv/app-secrets\" }}"), "{files}");
    assert!(files.contains("{{ .Data."), "{files}");
    assert!(!files.contains(".Data.data"), "{files}");
}

#[test]
fn no_version_means_the_newest_nomad() {
    let (latest, _) = generate(&Config::default());
    let (newest, _) = generate(&config("nomad_version = \"1.12.0\"\n"));
    assert_eq!(latest, newest);
    assert!(latest.contains("vault {}"), "{latest}");
}

#[test]
fn every_rendering_is_a_valid_job() {
    for version in ["1.6", "1.9", "1.11"] {
        let (files, _) = generate(&config(&format!("nomad_version = \"{version}\"\n{CLUSTER}")));
        let job = files.split_once('\n').map(|(_, job)| job).unwrap_or_default();
        let diagnostics = nomad_spec::jobspec::validate::validate_source(job, "job.nomad.hcl");
        assert!(
            nomad_spec::jobspec::validate::is_valid(&diagnostics),
            "{version}: {diagnostics:?}"
        );
    }
}

#[test]
fn never_a_vault_env_map() {
    for version in ["1.6", "1.9", "1.11"] {
        let (files, _) = generate(&config(&format!("nomad_version = \"{version}\"\n{CLUSTER}")));
        let vault = files.split("vault {").nth(1).unwrap_or_default();
        let block = vault.split("\n      }").next().unwrap_or_default();
        assert!(!block.contains("env {"), "{version}: {block}");
    }
}

#[tokio::test]
async fn features_come_from_the_clusters_agent_self() {
    use nomad_spec::jobspec::features::Feature;
    for (version, identity, blocks) in [("1.6.5", false, false), ("1.11.0", true, true)] {
        let scenario = fakes::nomad::Scenario { version: version.into(), ..Default::default() };
        let fake = fakes::nomad::FakeNomad::start(scenario).unwrap();
        let vars = [("NOMAD_ADDR".to_string(), fake.url())].into_iter().collect();
        let config = nomad_spec::nomad::NomadConfig::from_vars(&vars).unwrap();
        let client = nomad_spec::nomad::NomadClient::new(config).unwrap();
        let agent = client.agent_self().await.unwrap();
        let features = agent.features().unwrap();
        assert_eq!(features.has(Feature::VaultWorkloadIdentity), identity, "{version}");
        assert_eq!(features.has(Feature::SecretBlocks), blocks, "{version}");
        assert!(features.describe().contains(version), "{}", features.describe());
    }
}
