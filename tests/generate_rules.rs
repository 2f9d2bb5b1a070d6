//! The six kinds of mistake of issue 12, one small repository each, where the rule fires and
//! where it must not: files compose gives the app at run time, dependencies reached by address
//! and port, the port the process binds, env values, volumes and their owners, and images. Each
//! test writes its repository into a temporary folder, analyzes it and builds the jobs through
//! the library (what `generate` runs), then reads the job file as an operator would.

use std::path::Path;

use nomad_spec::analyze;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::{self, Generated};
use nomad_spec::jobspec::config::Config;

/// A generation of a repository written from `files`, with `answers` (`key=value`).
struct Job {
    generated: Generated,
    /// Every job file, one after the other.
    text: String,
}

impl Job {
    fn of(files: &[(&str, &str)], answers: &[&str]) -> Job {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), files);
        let analysis = analyze::analyze(dir.path(), &Default::default());
        let mut given = Answers::default();
        for answer in answers {
            given.set(answer).unwrap();
        }
        let config = Config::default();
        let generated = build::build(&analysis, &given, &config, "shop").unwrap();
        let text = build::render_files(&generated, &config, "shop")
            .unwrap()
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join("\n");
        Job { generated, text }
    }

    /// The decision about `subject`, in words.
    fn decided(&self, subject: &str) -> String {
        let found: Vec<String> = self
            .generated
            .decisions
            .iter()
            .filter(|d| d.subject == subject)
            .map(|d| format!("{} — {}", d.choice, d.reason))
            .collect();
        assert!(!found.is_empty(), "no decision about {subject}: {:#?}", self.generated.decisions);
        found.join("\n")
    }

    fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

const FLASK: (&str, &str) = (
    "web/Dockerfile",
    "FROM python:3.12-slim\nWORKDIR /app\nCOPY app.py /app/app.py\nEXPOSE 5000\n\
     CMD [\"python\", \"app.py\"]\n",
);
const FLASK_APP: (&str, &str) = (
    "web/app.py",
    "from flask import Flask\napp = Flask(__name__)\napp.run(host='0.0.0.0', port=5000)\n",
);

// 1. Files the app is given at run time.

#[test]
fn a_mounted_config_file_is_delivered_at_its_path_with_template_delimiters_made_safe() {
    let conf = "server {\n  listen 80;\n  # {{ not a template }}\n  root /srv;\n}\n";
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  proxy:\n    image: nginx:1.27\n    volumes:\n      \
                 - ./proxy/site.conf:/etc/nginx/conf.d/default.conf:ro\n",
            ),
            ("proxy/site.conf", conf),
        ],
        &[],
    );
    assert!(job.has("local/site.conf:/etc/nginx/conf.d/default.conf:ro"), "{}", job.text);
    // The file is delivered whole, and its own `{{` never reaches consul-template as an
    // action: the template reads other delimiters.
    assert!(job.has(&format!("data            = <<EOT\n{conf}EOT\n")), "{}", job.text);
    assert!(job.has("left_delimiter  = \"[[\""), "{}", job.text);
    assert!(job.decided("proxy file /etc/nginx/conf.d/default.conf").contains("compose.yaml:5"));
}

#[test]
fn a_compose_secret_file_is_rendered_from_vault_never_copied() {
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    build: web\n    secrets:\n      - api-key\n\
                 secrets:\n  api-key:\n    file: api-key.txt\n",
            ),
            FLASK,
            FLASK_APP,
            ("web/requirements.txt", "flask\n"),
            ("api-key.txt", "sk_live_4eC39HqLyjWDarjtT1zdp7dc\n"),
        ],
        &["image.web=ghcr.io/acme/web:1"],
    );
    assert!(job.has("secrets/api-key:/run/secrets/api-key:ro"), "{}", job.text);
    assert!(job.has("with secret \\\"kv/data/shop\\\""), "{}", job.text);
    assert!(
        !job.has("sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        "the secret is in the job:\n{}",
        job.text
    );
}

#[test]
fn a_mount_of_a_file_the_image_already_has_is_not_delivered() {
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    build: web\n    volumes:\n      - ./web/app.py:/app/app.py\n",
            ),
            FLASK,
            FLASK_APP,
            ("web/requirements.txt", "flask\n"),
        ],
        &["image.web=ghcr.io/acme/web:1"],
    );
    assert!(!job.has("template {"), "nothing to deliver:\n{}", job.text);
    let why = job.decided("web mount ./web/app.py:/app/app.py");
    assert!(why.contains("not mounted: the image has it"), "{why}");
    assert!(why.contains("web/Dockerfile:3"), "{why}");
}

#[test]
fn the_docker_socket_is_never_dropped_silently() {
    let job = Job::of(
        &[(
            "compose.yaml",
            "services:\n  agent:\n    image: portainer/agent:2.21.0\n    volumes:\n      \
             - /var/run/docker.sock:/var/run/docker.sock\n",
        )],
        &[],
    );
    assert!(!job.has("docker.sock"), "{}", job.text);
    let why = job.decided("agent mount /var/run/docker.sock:/var/run/docker.sock");
    assert!(why.contains("the host's socket"), "{why}");
}

// 2. Dependencies are reached by address and port.

const API_WITH_DB: &str = "services:\n  api:\n    build: api\n    environment:\n      \
     - DB_ADDR=db:5432\n      - DB_NAME=db\n      \
     - PAYMENTS_URL=https://payments.example.com/v1\n    depends_on:\n      - db\n  db:\n    \
     image: postgres:16.4\n    environment:\n      - POSTGRES_DB=db\n";
const API: (&str, &str) = (
    "api/Dockerfile",
    "FROM node:20\nWORKDIR /app\nCOPY . .\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
);
const API_CODE: (&str, &str) =
    ("api/server.js", "const express = require('express');\nexpress().listen(3000);\n");
const API_PACKAGE: (&str, &str) =
    ("api/package.json", "{\"dependencies\": {\"express\": \"4\"}}\n");

#[test]
fn a_url_naming_a_service_gets_its_address_and_port_from_the_registry() {
    let job = Job::of(
        &[("compose.yaml", API_WITH_DB), API, API_CODE, API_PACKAGE],
        &["image.api=ghcr.io/acme/api:1", "deploy.db=true"],
    );
    assert!(
        job.has(
            "DB_ADDR={{ range $i, $s := nomadService \"shop-db\" }}{{ if eq $i 0 }}{{ .Address }}:{{ .Port }}{{ end }}{{ end }}\n"
        ),
        "{}",
        job.text
    );
    let wire = job.generated.wiring.iter().find(|w| w.from == "api" && w.to == "db");
    assert_eq!(wire.map(|w| w.how.as_str()), Some("nomadService lookup"));
}

#[test]
fn a_database_named_like_a_service_and_an_external_url_are_kept_as_written() {
    let job = Job::of(
        &[("compose.yaml", API_WITH_DB), API, API_CODE, API_PACKAGE],
        &["image.api=ghcr.io/acme/api:1", "deploy.db=true"],
    );
    // `DB_NAME=db` names a database, not a host; `POSTGRES_DB=db` neither.
    assert!(job.has("DB_NAME      = \"db\""), "{}", job.text);
    assert!(job.has("POSTGRES_DB = \"db\""), "{}", job.text);
    assert!(job.has("PAYMENTS_URL = \"https://payments.example.com/v1\""), "{}", job.text);
}

#[test]
fn an_answered_endpoint_is_used_as_given() {
    let job = Job::of(
        &[("compose.yaml", API_WITH_DB), API, API_CODE, API_PACKAGE],
        &["image.api=ghcr.io/acme/api:1", "endpoint.db=pg.internal:6432"],
    );
    assert!(job.has("DB_ADDR      = \"pg.internal:6432\""), "{}", job.text);
    let wire = job.generated.wiring.iter().find(|w| w.from == "api" && w.to == "db");
    assert_eq!(wire.map(|w| w.how.as_str()), Some("answer endpoint.db"));
}

// 3. The port the process binds wins; only the service's ports are checked.

#[test]
fn the_port_the_command_binds_wins_over_expose() {
    let job = Job::of(
        &[
            ("compose.yaml", "services:\n  web:\n    build: web\n"),
            (
                "web/Dockerfile",
                "FROM python:3.12-slim\nCOPY . /app\nEXPOSE 5000\n\
                 CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
            ),
            ("web/requirements.txt", "flask\ngunicorn\n"),
            ("web/app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ],
        &["image.web=ghcr.io/acme/web:1"],
    );
    assert!(job.has("to = 8000"), "{}", job.text);
    assert!(!job.has("to = 5000"), "{}", job.text);
    assert!(job.decided("web port http").contains("web/Dockerfile:4"));
}

#[test]
fn an_expose_that_is_right_is_kept() {
    let job = Job::of(
        &[("compose.yaml", "services:\n  api:\n    build: api\n"), API, API_CODE, API_PACKAGE],
        &["image.api=ghcr.io/acme/api:1"],
    );
    assert!(job.has("to = 3000"), "{}", job.text);
    assert_eq!(job.text.matches("port \"").count(), 1, "one port only:\n{}", job.text);
}

#[test]
fn a_well_known_image_s_secondary_port_gets_no_check() {
    let job = Job::of(
        &[(
            "compose.yaml",
            "services:\n  db:\n    image: mysql:8.4\n    expose:\n      - 3306\n      - 33060\n",
        )],
        &["deploy.db=true"],
    );
    let why = job.decided("db port tcp_33060");
    assert!(why.contains("registered without a check"), "{why}");
}

// 4. Env values.

#[test]
fn values_the_image_sets_are_not_copied_and_placeholders_are_asked() {
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  api:\n    build: api\n    environment:\n      \
                 - GCP_PROJECT=PROJECT_ID_VAL\n      - LOG_LEVEL=info\n",
            ),
            (
                "api/Dockerfile",
                "FROM node:20\nENV NODE_ENV=production\nCOPY . .\nEXPOSE 3000\n\
                 CMD [\"node\", \"server.js\"]\n",
            ),
            API_CODE,
            API_PACKAGE,
        ],
        &["image.api=ghcr.io/acme/api:1"],
    );
    assert!(!job.has("NODE_ENV"), "the image sets it already:\n{}", job.text);
    assert!(!job.has("PROJECT_ID_VAL"), "a placeholder is no value:\n{}", job.text);
    assert!(job.has("LOG_LEVEL = \"info\""), "{}", job.text);
    assert!(job.generated.unanswered.iter().any(|q| q.key == "env.api.GCP_PROJECT"));
}

// 5. Volumes only for data, owned by the image's user.

#[test]
fn a_database_s_named_volume_is_kept_and_owned_by_the_image_s_user() {
    let job = Job::of(
        &[(
            "compose.yaml",
            "services:\n  metrics:\n    image: prom/prometheus:v2.54.1\n    volumes:\n      \
             - prom-data:/prometheus\nvolumes:\n  prom-data:\n",
        )],
        &[],
    );
    assert!(job.has("volume \"data\""), "{}", job.text);
    assert!(job.has("\"65534:65534\""), "Prometheus runs as nobody:\n{}", job.text);
}

#[test]
fn tmp_caches_and_anonymous_volumes_stay_in_the_allocation() {
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  api:\n    build: api\n    volumes:\n      - /app/node_modules\n",
            ),
            (
                "api/Dockerfile",
                "FROM node:20\nCOPY . .\nVOLUME /tmp\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
            ),
            API_CODE,
            API_PACKAGE,
        ],
        &["image.api=ghcr.io/acme/api:1"],
    );
    assert!(!job.has("volume \""), "{}", job.text);
    assert!(!job.has("volume_mount"), "{}", job.text);
}

// 6. Images that exist.

#[test]
fn the_image_compose_tags_a_build_with_is_the_default_when_it_names_a_registry() {
    let job = Job::of(
        &[
            (
                "compose.yaml",
                "services:\n  api:\n    build: api\n    image: ghcr.io/acme/api:2.3.1\n  \
                 worker:\n    build: api\n    image: worker\n",
            ),
            API,
            API_CODE,
            API_PACKAGE,
        ],
        &[],
    );
    assert!(job.has("image = \"ghcr.io/acme/api:2.3.1\""), "{}", job.text);
    // A bare short name is a tag on the developer's machine, never a default.
    assert!(!job.has("image = \"worker\""), "{}", job.text);
    assert!(job.has("registry.invalid/shop/worker"), "{}", job.text);
}

#[test]
fn an_unpinned_image_gets_a_pinned_proposal_and_a_pinned_one_is_kept() {
    let job = Job::of(
        &[(
            "compose.yaml",
            "services:\n  cache:\n    image: redis\n  proxy:\n    image: nginx:1.27.2\n",
        )],
        &["deploy.cache=true"],
    );
    let cache = job.decided("cache");
    assert!(cache.contains("names no version"), "{cache}");
    assert!(!job.has("image = \"redis\""), "{}", job.text);
    assert!(job.has("image = \"nginx:1.27.2\""), "{}", job.text);
    let proxy = job.decided("proxy");
    assert!(!proxy.contains("not pinned") && !proxy.contains("names no version"), "{proxy}");
}

#[test]
fn an_optional_compose_profile_is_not_deployed_by_default() {
    let job = Job::of(
        &[(
            "compose.yaml",
            "services:\n  proxy:\n    image: nginx:1.27.2\n  debug:\n    image: busybox:1.36\n    \
             profiles: [debug]\n",
        )],
        &[],
    );
    assert!(!job.has("group \"debug\""), "{}", job.text);
    assert!(job.decided("debug").contains("profile"));
}
