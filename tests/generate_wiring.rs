//! How services reach each other and what they are given, on small repositories written here:
//! each rule where it must fire and where it must not. Every case runs the whole way a user
//! does (analysis of the folder, then the builder with `deploy.*=true` where a backing service
//! must be in the job) and reads the rendered job and the decisions.

use nomad_spec::analyze::{self, Analysis};
use nomad_spec::cli::generate::explain;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::{build, render_files};
use nomad_spec::jobspec::config::Config;

/// A fresh folder holding `files`.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Writes `files` into a fresh folder and generates from it: (every job's text, decisions).
fn generate(files: &[(&str, &str)], answers: &[(&str, &str)]) -> (String, String, Analysis) {
    let dir = folder(files);
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

/// Like [`generate`], with conventions and no answers: (jobs, decisions, the keys of the
/// questions that need an answer).
fn generate_with(files: &[(&str, &str)], config: &Config) -> (String, String, String) {
    let dir = folder(files);
    let analysis = analyze::analyze(dir.path(), &Default::default());
    let given = Answers::default();
    let generated = build(&analysis, &given, config, "shop").unwrap();
    let jobs = render_files(&generated, config, "shop").unwrap();
    let text = jobs.iter().map(|j| j.text.as_str()).collect::<Vec<_>>().join("\n");
    let questions: String = generated
        .unanswered
        .iter()
        .filter(|q| q.needs_answer)
        .map(|q| format!("{}\n", q.key))
        .collect();
    (text, explain(&generated), questions)
}

/// A web app and a worker whose code writes the compose names of their dependencies.
const DIALING_APP: [(&str, &str); 7] = [
    (
        "compose.yaml",
        "services:
  web:
    build: web
    ports: [\"8000:8000\"]
  worker:
    build: worker
  redis:
    image: redis:7.4
  db:
    image: postgres:17
",
    ),
    (
        "web/Dockerfile",
        "FROM python:3.12-alpine\nCOPY . /code\nCMD [\"python3\", \"/code/app.py\"]\n",
    ),
    ("web/requirements.txt", "flask\nredis\n"),
    (
        "web/app.py",
        "from flask import Flask\nfrom redis import Redis\n\napp = Flask(__name__)\n\
         redis = Redis(host='redis', port=6379)\n\nif __name__ == \"__main__\":\n    \
         app.run(host=\"0.0.0.0\", port=8000)\n",
    ),
    (
        "worker/Dockerfile",
        "FROM python:3.12-alpine\nCOPY . /code\nCMD [\"python3\", \"/code/worker.py\"]\n",
    ),
    ("worker/requirements.txt", "redis\npsycopg2\n"),
    (
        "worker/worker.py",
        "import psycopg2\nfrom redis import Redis\n\nqueue = Redis(host=\"redis\")\n\
         conn = psycopg2.connect(\"postgres://app@db/votes\")\n",
    ),
];

#[test]
fn a_compose_name_written_in_the_code_is_answered_by_a_sidecar_in_the_group() {
    let (job, decisions, questions) = generate_with(&DIALING_APP, &Config::default());
    assert!(!questions.contains("address."), "nothing left to ask: {questions}\n{decisions}");
    // The web group: its own port untouched, the name on its own loopback address, the proxy
    // following every registered instance, reloaded as they move.
    assert!(job.contains("task \"web-compose-names\""), "{job}");
    assert!(job.contains("extra_hosts = [\"redis:127.0.0.2\"]"), "{job}");
    assert!(job.contains("listen 127.0.0.2:6379;"), "{job}");
    assert!(
        job.contains("{{ range nomadService \"shop-redis\" }}server {{ .Address }}:{{ .Port }};"),
        "{job}"
    );
    assert!(job.contains("change_signal = \"SIGHUP\""), "{job}");
    assert!(job.contains("hook    = \"prestart\"") && job.contains("sidecar = true"), "{job}");
    // The worker listens on nothing: its group gets a bridge network for the sidecar to share,
    // and each dependency an address of its own.
    let worker = job.split("group \"worker\"").nth(1).unwrap();
    assert!(worker.contains("mode = \"bridge\""), "{worker}");
    assert!(worker.contains("\"db:127.0.0.2\", \"redis:127.0.0.3\""), "{worker}");
    assert!(worker.contains("listen 127.0.0.2:5432;") && worker.contains("listen 127.0.0.3:6379;"));
    assert!(
        decisions.contains("web reaches redis: redis:6379 answered by the compose-names sidecar"),
        "{decisions}"
    );
    assert!(decisions.contains("worker: network mode bridge, no ports"), "{decisions}");
}

#[test]
fn a_compose_name_stays_a_question_where_no_sidecar_can_answer_it() {
    let off: Config = toml::from_str("[compose_names]\nproxy = false\n").unwrap();
    let (job, decisions, questions) = generate_with(&DIALING_APP, &off);
    assert!(!job.contains("compose-names"), "{job}");
    assert!(questions.contains("address.web.redis"), "{questions}");
    assert!(decisions.contains("`[compose_names] proxy = false`"), "{decisions}");

    // Nomad before 1.1.3 refuses extra_hosts in a bridge-mode group.
    let old: Config =
        toml::from_str("nomad_version = \"1.0.4\"\nservice_provider = \"consul\"\n").unwrap();
    let (job, decisions, questions) = generate_with(&DIALING_APP, &old);
    assert!(!job.contains("extra_hosts"), "{job}");
    assert!(questions.contains("address.worker.db"), "{questions}");
    assert!(decisions.contains("Nomad 1.0.4 refuses extra_hosts"), "{decisions}");

    // A service that listens on the port it dials: the sidecar cannot take that port.
    let mut files = DIALING_APP.to_vec();
    files[0].1 = "services:\n  web:\n    build: web\n    ports: [\"6379:6379\"]\n  worker:\n    \
                  build: worker\n  redis:\n    image: redis:7.4\n  db:\n    image: postgres:17\n";
    files[3] = (
        "web/app.py",
        "from flask import Flask\nfrom redis import Redis\n\napp = Flask(__name__)\n\
         redis = Redis(host='redis')\n\nif __name__ == \"__main__\":\n    \
         app.run(host=\"0.0.0.0\", port=6379)\n",
    );
    let (_, decisions, questions) = generate_with(&files, &Config::default());
    assert!(questions.contains("address.web.redis"), "{questions}\n{decisions}");
    assert!(decisions.contains("web itself listens on 6379"), "{decisions}");
    // The worker is unaffected.
    assert!(!questions.contains("address.worker"), "{questions}");
}

#[test]
fn a_placeholder_with_one_right_value_is_given_it_and_others_are_still_asked() {
    let compose = "services:
  dns:
    image: example/dns:1.0
    environment:
      - ServerIP=192.168.178.X
      - ROUTER_IP=192.168.178.X
  admin:
    image: dpage/pgadmin4:9.8
    environment:
      - PGADMIN_DEFAULT_EMAIL=your@email.com
      - PGADMIN_DEFAULT_PASSWORD=changeme
  vpn:
    image: lscr.io/linuxserver/wireguard:1.0.20250521
    environment:
      - SERVERURL=your-domain.dyndns.com
      - PEERDNS=your-dns
";
    let (job, decisions, questions) =
        generate_with(&[("compose.yaml", compose)], &Config::default());
    // The machine's own address: the node's, interpolated by Nomad.
    assert!(job.contains("ServerIP = \"${attr.unique.network.ip-address}\""), "{job}");
    // A router's address is not this machine's: still asked.
    assert!(questions.contains("env.dns.ROUTER_IP"), "{questions}");
    // pgAdmin's own first login (an e-mail, as it requires); the password stays a secret.
    assert!(job.contains("PGADMIN_DEFAULT_EMAIL = \"admin@example.com\""), "{job}");
    assert!(!questions.contains("PGADMIN_DEFAULT_EMAIL"), "{questions}");
    // WireGuard detects its external address when SERVERURL is unset (its image facts); a
    // placeholder the image does not do without is asked.
    assert!(!job.contains("SERVERURL"), "{job}");
    assert!(decisions.contains("vpn env SERVERURL: left out"), "{decisions}");
    assert!(questions.contains("env.vpn.PEERDNS"), "{questions}");
}

#[test]
fn every_task_of_the_group_names_the_compose_names_whichever_starts_first() {
    // Nomad writes a bridge group's /etc/hosts from the first task to start: a volume-owner
    // prestart task racing the sidecar must carry the same entries.
    let mut files = DIALING_APP.to_vec();
    files[0].1 = "services:\n  web:\n    build: web\n    ports: [\"8000:8000\"]\n    volumes:\n      \
                  - uploads:/code/uploads\n  worker:\n    build: worker\n  redis:\n    image: redis:7.4\n  \
                  db:\n    image: postgres:17\nvolumes:\n  uploads:\n";
    let (job, _, _) = generate_with(&files, &Config::default());
    let web = job.split("group \"web\"").nth(1).unwrap().split("group \"").next().unwrap();
    let tasks = web.matches("task \"").count();
    assert!(web.contains("task \"web-volume-owner\""), "{web}");
    assert_eq!(web.matches("extra_hosts = [\"redis:127.0.0.2\"]").count(), tasks, "{web}");
}
