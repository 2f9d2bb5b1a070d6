//! How services reach each other and what they are given, on small repositories written here:
//! each rule where it must fire and where it must not. Every case runs the whole way a user
//! does (analysis of the folder, then the builder with `deploy.*=true` where a backing service
//! must be in the job) and reads the rendered job and the decisions.

use nomad_spec::analyze::{self, Analysis};
use nomad_spec::cli::generate::explain;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::{build, render_files};
use nomad_spec::jobspec::config::Config;

/// Writes `files` into a fresh folder and generates from it: (every job's text, decisions).
fn generate(files: &[(&str, &str)], answers: &[(&str, &str)]) -> (String, String, Analysis) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let analysis = analyze::analyze(dir.path(), &Default::default());
    let mut given = Answers::default();
    for (key, value) in answers {
        given.set(&format!("{key}={value}")).unwrap();
    }
    let generated = build(&analysis, &given, &Config::default(), "shop").unwrap();
    let jobs = render_files(&generated, &Config::default(), "shop").unwrap();
    let text = jobs.iter().map(|j| j.text.as_str()).collect::<Vec<_>>().join("\n");
    (text, explain(&generated), analysis)
}

fn decisions_about<'a>(decisions: &'a str, subject: &str) -> Vec<&'a str> {
    decisions.lines().filter(|l| l.trim_start().starts_with(subject)).collect()
}

#[test]
fn a_fixed_compose_address_is_the_service_whatever_the_variable_is_called() {
    let compose = "services:
  resolver:
    image: example/resolver:1.0
    ports: [\"5054:5054/udp\", \"5054:5054/tcp\"]
    networks:
      dns:
        ipv4_address: 172.20.0.2
  filter:
    image: example/filter:2.0
    environment:
      - UPSTREAMS=172.20.0.2#5054;1.1.1.1
      - SEARCH_DOMAIN=172.20.0.2.example
    networks: [dns]
networks:
  dns:
    ipam:
      config:
        - subnet: 172.20.0.0/24
";
    let (job, decisions, _) = generate(&[("compose.yaml", compose)], &[]);
    // The address becomes the lookup's; the dnsmasq-style `#port` and the other resolver stay.
    assert!(
        job.contains(
            "UPSTREAMS={{ range $i, $s := nomadService \"shop-resolver\" }}{{ if eq $i 0 }}\
             {{ .Address }}{{ end }}{{ end }}#5054;1.1.1.1"
        ),
        "{job}"
    );
    // The port it dials is the one written, so it must stay where it is.
    assert!(decisions.contains("resolver port udp: static host port 5054"), "{decisions}");
    assert!(
        decisions.contains("filter env UPSTREAMS: host only: resolver listens on its static port"),
        "{decisions}"
    );
    // Not an address: the same digits inside a longer name are left alone.
    assert!(job.contains("SEARCH_DOMAIN = \"172.20.0.2.example\""), "{job}");
}

#[test]
fn a_service_name_is_an_address_only_in_a_variable_that_holds_one() {
    let compose = "services:
  web:
    image: example/web:1.0
    environment:
      CACHE_HOST: cache
      GREETING: cache
  cache:
    image: redis:7
";
    let (job, _, _) = generate(&[("compose.yaml", compose)], &[("deploy.cache", "true")]);
    assert!(job.contains("CACHE_HOST={{ range $i, $s := nomadService \"shop-cache\""), "{job}");
    assert!(job.contains("GREETING = \"cache\""), "{job}");
}

#[test]
fn a_docker_secret_a_configuration_file_reads_is_rendered_from_vault() {
    let compose = "services:
  proxy:
    image: nginx:1.27
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
    secrets:
      - site_key
secrets:
  site_key:
    file: ./dev/site_key
";
    let nginx = "events {}
http {
  server {
    listen 443 ssl;
    # ssl_certificate /run/secrets/old_cert;
    ssl_certificate /run/secrets/site_cert;
    ssl_certificate_key /run/secrets/site_key;
  }
}
";
    let files = [("compose.yaml", compose), ("nginx.conf", nginx), ("dev/site_key", "x")];
    let (job, decisions, _) = generate(&files, &[]);
    // Read by the file and given by nothing: from Vault, at the path the file reads.
    assert!(job.contains("secrets/site_cert:/run/secrets/site_cert:ro"), "{job}");
    let cert = decisions_about(&decisions, "proxy file /run/secrets/site_cert: rendered");
    assert_eq!(cert.len(), 1, "{decisions}");
    assert!(cert[0].contains("nginx.conf reads /run/secrets/site_cert"), "{}", cert[0]);
    assert!(cert[0].contains("(nginx.conf:6)"), "{}", cert[0]);
    // Given by compose already: once, as compose's secret.
    assert_eq!(job.matches(":/run/secrets/site_key:ro").count(), 1, "{job}");
    assert!(decisions.contains("compose gives it the secret `site_key`"), "{decisions}");
    // A commented-out path is not read.
    assert!(!job.contains("secrets/old_cert:"), "{job}");
}

#[test]
fn a_password_written_in_a_client_s_code_is_the_one_the_database_must_get() {
    let compose = "services:
  api:
    build: ./api
  db:
    image: postgres:17
    environment:
      POSTGRES_PASSWORD: example
";
    let dockerfile = "FROM node:22\nCOPY . .\nCMD [\"node\", \"server.js\"]\n";
    let package = r#"{"name": "api", "dependencies": {"pg": "8"}}"#;
    let with_password = "const pool = new Pool({\n  connectionString: 'postgres://postgres:example@db/postgres'\n});\n";
    let files = [
        ("compose.yaml", compose),
        ("api/Dockerfile", dockerfile),
        ("api/package.json", package),
        ("api/server.js", with_password),
    ];
    let (_, decisions, _) = generate(&files, &[("deploy.db", "true")]);
    let said = decisions_about(&decisions, "db secret POSTGRES_PASSWORD: must be the password");
    assert_eq!(said.len(), 1, "{decisions}");
    assert!(said[0].contains("api/server.js:2 log in to db"), "{}", said[0]);

    // The password read from the environment: nothing to say.
    let from_env = "const pool = new Pool({\n  connectionString: `postgres://postgres:${process.env.PW}@db/postgres`\n});\n";
    let files = [
        ("compose.yaml", compose),
        ("api/Dockerfile", dockerfile),
        ("api/package.json", package),
        ("api/server.js", from_env),
    ];
    let (_, decisions, _) = generate(&files, &[("deploy.db", "true")]);
    assert!(!decisions.contains("must be the password"), "{decisions}");
}

#[test]
fn a_page_calling_localhost_from_the_browser_is_said_to_need_a_public_address() {
    let compose = "services:
  site:
    image: nginx:1.27
    ports: [\"8090:80\"]
    volumes:
      - ./site:/usr/share/nginx/html
  api:
    image: example/api:1.0
    ports: [\"8080:8080\"]
";
    let script = "fetch(\"/relative\");\nfetch(\"http://localhost:8080/orders\").then(r => r.json());\nfetch(\"http://localhost:9999/x\");\n";
    let files = [
        ("compose.yaml", compose),
        ("site/index.html", "<script src=\"js/app.js\"></script>"),
        ("site/js/app.js", script),
    ];
    let (_, decisions, _) = generate(&files, &[]);
    let said = decisions_about(&decisions, "site file /usr/share/nginx/html/js/app.js: calls");
    assert_eq!(said.len(), 1, "{decisions}");
    assert!(said[0].contains("site/js/app.js:2 calls http://localhost:8080"), "{}", said[0]);
    assert!(said[0].contains("hostname.api"), "{}", said[0]);
    // A port no service publishes is nobody's: nothing said about it.
    assert!(!decisions.contains("localhost:9999"), "{decisions}");
}

#[test]
fn a_client_with_no_address_anywhere_is_said_unwired_with_the_framework_s_setting() {
    let compose = "services:
  shop:
    build: ./shop
  database:
    image: postgres:17
";
    let pom = "<project><parent><artifactId>spring-boot-starter-parent</artifactId></parent>
<dependencies>
<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>
<dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId></dependency>
</dependencies></project>
";
    let dockerfile = "FROM eclipse-temurin:21\nCOPY target/shop.jar /app.jar\nCMD [\"java\", \"-jar\", \"/app.jar\"]\n";
    let files = [("compose.yaml", compose), ("shop/pom.xml", pom), ("shop/Dockerfile", dockerfile)];
    let (_, decisions, analysis) = generate(&files, &[("deploy.database", "true")]);
    let shop = analysis.services.iter().find(|s| s.name == "shop").unwrap();
    assert!(shop.clients.iter().any(|c| c.backing == "postgres"), "{:?}", shop.clients);
    let said = decisions_about(&decisions, "shop reaches database: not wired");
    assert_eq!(said.len(), 1, "{decisions}");
    assert!(said[0].contains("SPRING_DATASOURCE_URL=jdbc:postgresql://"), "{}", said[0]);

    // The same service given the address in its environment: wired, nothing said.
    let compose = "services:
  shop:
    build: ./shop
    environment:
      SPRING_DATASOURCE_URL: jdbc:postgresql://database:5432/shop
  database:
    image: postgres:17
";
    let files = [("compose.yaml", compose), ("shop/pom.xml", pom), ("shop/Dockerfile", dockerfile)];
    let (job, decisions, _) = generate(&files, &[("deploy.database", "true")]);
    assert!(!decisions.contains("not wired"), "{decisions}");
    assert!(job.contains("jdbc:postgresql://{{ range $i, $s := nomadService"), "{job}");
}

#[test]
fn an_image_s_served_web_interface_is_checked_and_its_optional_listeners_are_not() {
    let compose = "services:
  dns:
    image: pihole/pihole:2025.08.0
    ports:
      - \"53:53/tcp\"
      - \"53:53/udp\"
      - \"8080:80/tcp\"
      - \"8443:443/tcp\"
";
    let (_, decisions, _) = generate(&[("compose.yaml", compose)], &[]);
    assert!(decisions.contains("dns port http check: tcp"), "{decisions}");
    assert!(decisions.contains("dns port tcp check: tcp"), "{decisions}");
    assert!(decisions.contains("dns port tcp_443: registered without a check"), "{decisions}");
}

#[test]
fn a_standalone_mongo_keeps_its_data_and_not_the_config_server_folder() {
    let compose = "services:
  mongo:
    image: mongo:8.0
";
    let (job, _, _) = generate(&[("compose.yaml", compose)], &[("deploy.mongo", "true")]);
    assert!(job.contains("destination = \"/data/db\""), "{job}");
    assert!(!job.contains("/data/configdb"), "{job}");
}

#[test]
fn an_image_of_another_registry_says_where_pull_credentials_go() {
    let compose = "services:\n  web:\n    build: ./web\n";
    let files = [("compose.yaml", compose), ("web/Dockerfile", "FROM nginx:1.27\nEXPOSE 80\n")];
    let (job, decisions, _) = generate(&files, &[("image.web", "ghcr.io/acme/shop/web:3f2a1c")]);
    let said = decisions_about(&decisions, "web: pulled from ghcr.io");
    assert_eq!(said.len(), 1, "{decisions}");
    assert!(said[0].contains("docker plugin's `auth`"), "{}", said[0]);
    // Nothing of credentials goes into the job itself.
    assert!(!job.contains("auth"), "{job}");
    // Docker Hub, and a registry nothing can pull from, say nothing of credentials.
    for image in ["acme/web:1.4.2", "registry.invalid/shop/web:latest"] {
        let (_, decisions, _) = generate(&files, &[("image.web", image)]);
        assert!(!decisions.contains("pulled from"), "{image}: {decisions}");
    }
}

#[test]
fn a_connection_url_without_credentials_is_wired_and_one_with_them_keeps_its_password_in_vault() {
    let compose = "services:
  api:
    image: example/api:1.0
    environment:
      DATABASE_URL: postgres://db:5432/app
      CACHE_URL: redis://:s3cret@cache:6379/0
  db:
    image: postgres:17
  cache:
    image: redis:7
";
    let answers = [("deploy.db", "true"), ("deploy.cache", "true")];
    let (job, decisions, _) = generate(&[("compose.yaml", compose)], &answers);
    assert!(
        job.contains("DATABASE_URL=postgres://{{ range $i, $s := nomadService \"shop-db\""),
        "{job}"
    );
    assert!(!decisions.contains("secret DATABASE_URL"), "{decisions}");
    // The password never reaches the job; the address still comes from the registry.
    assert!(!job.contains("s3cret"), "{job}");
    assert!(decisions.contains("api env CACHE_URL: the URL's address from the lookup of cache"));
}
