//! Where each wiring came from, told and drawn (issue 12): `generate`'s decisions and the job
//! file's comments give the file and line of every port chosen, file delivered and dependency
//! wired, and the status comment draws the app as a Mermaid flowchart whose edges say how each
//! service reaches the other. Each test writes a small repository of its own.

use std::path::Path;

mod common;

use nomad_spec::analyze::{self, Analysis};
use nomad_spec::conversation::checkpoint::Checkpoint;
use nomad_spec::conversation::status_comment::{self, diagram, StatusInput};
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::{self, Generated};
use nomad_spec::jobspec::config::Config;
use nomad_spec::jobspec::parse::{parse_job_spec, ParseOptions};
use nomad_spec::jobspec::render::{render_job, RenderOptions};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A web app behind an nginx proxy, with a Postgres database it reaches by `DB_HOST`.
const SHOP: &[(&str, &str)] = &[
    (
        "compose.yaml",
        "services:\n  web.app:\n    build: web\n    environment:\n      - DB_HOST=db\n      \
         - DB_NAME=db\n    depends_on:\n      - db\n  proxy:\n    image: nginx:1.27\n    \
         ports:\n      - 80:80\n    volumes:\n      - ./proxy/nginx.conf:/etc/nginx/conf.d/default.conf:ro\n    \
         depends_on:\n      - web.app\n  db:\n    image: postgres:16\n    volumes:\n      \
         - db-data:/var/lib/postgresql/data\nvolumes:\n  db-data:\n",
    ),
    (
        "web/Dockerfile",
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install flask gunicorn\n\
         EXPOSE 5000\nCMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
    ),
    ("web/requirements.txt", "flask\ngunicorn\n"),
    (
        "web/app.py",
        "import os\nfrom flask import Flask\napp = Flask(__name__)\n\
         DB_HOST = os.environ['DB_HOST']\nDB_PORT = os.environ.get('DB_PORT', '5432')\n",
    ),
    (
        "proxy/nginx.conf",
        "server {\n    listen 80;\n    location / {\n        proxy_pass http://web.app:8000;\n    }\n}\n",
    ),
];

fn generate(root: &Path, answers: &[(&str, &str)]) -> (Analysis, Generated) {
    let analysis = analyze::analyze(root, &Default::default());
    let mut given = Answers::default();
    for (key, value) in answers {
        given.set(&format!("{key}={value}")).unwrap();
    }
    let generated = build::build(&analysis, &given, &Config::default(), "shop").unwrap();
    (analysis, generated)
}

fn decision<'a>(generated: &'a Generated, subject: &str) -> &'a build::Decision {
    generated
        .decisions
        .iter()
        .find(|d| d.subject == subject)
        .unwrap_or_else(|| panic!("no decision about {subject}: {:#?}", generated.decisions))
}

#[test]
fn decisions_cite_the_file_and_line_of_ports_and_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), SHOP);
    let (_, generated) = generate(dir.path(), &[("deploy.db", "true")]);
    // The port gunicorn binds wins over the EXPOSE, and the decision says where it is bound.
    let port = decision(&generated, "web.app port http");
    assert!(port.choice.contains("8000"), "{port:?}");
    assert!(port.reason.contains("(from web/Dockerfile:6)"), "{port:?}");
    let host = decision(&generated, "web.app env DB_HOST");
    assert!(host.reason.contains("(from compose.yaml:5)"), "{host:?}");
    // A database name that equals a service name is no address, so nothing is wired for it.
    assert!(generated
        .decisions
        .iter()
        .all(|d| d.subject != "web.app env DB_NAME" || !d.choice.contains("points at")));
    let proxied = generated
        .wiring
        .iter()
        .find(|w| w.from == "proxy" && w.to == "web.app")
        .expect("the proxy's wire to the app");
    assert_eq!(proxied.how, "nomadService lookup");
    assert_eq!(proxied.at.as_deref(), Some("proxy/nginx.conf:4"));
}

#[test]
fn the_job_file_says_where_each_port_and_delivered_file_came_from() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), SHOP);
    let (_, generated) = generate(dir.path(), &[("deploy.db", "true")]);
    let files = build::render_files(&generated, &Config::default(), "shop").unwrap();
    let app = &files[0].text;
    assert!(app.contains("      # from web/Dockerfile:6\n      port \"http\" {"), "{app}");
    assert!(
        app.contains(
            "      # from proxy/nginx.conf (compose.yaml:14)\n      template {\n        data"
        ),
        "{app}"
    );
    assert!(app.contains("# from compose.yaml:5 (DB_HOST)"), "{app}");
    // The comments change nothing of the job, and the file is still the one generated.
    let options = ParseOptions::default();
    let bare = render_job(&generated.jobs[0].spec, &RenderOptions::default()).unwrap();
    let without = parse_job_spec(&bare, "shop.nomad.hcl", &options).unwrap();
    let with = parse_job_spec(app, "shop.nomad.hcl", &options).unwrap();
    assert_eq!(with, without);
    assert_eq!(
        nomad_spec::jobspec::render::provenance(app),
        nomad_spec::jobspec::render::Provenance::Generated
    );
}

#[test]
fn the_status_comment_draws_what_is_deployed_and_how_it_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), SHOP);
    let (analysis, generated) = generate(dir.path(), &[]);
    let drawn = diagram::mermaid(&analysis, &generated);
    // `web.app` would end a Mermaid id at the dot: ids are letters, digits and `_` only.
    assert!(
        drawn.contains("  n_web_app[\"web.app<br/>http :8000<br/><i>deployed</i>\"]:::deployed"),
        "{drawn}"
    );
    assert!(
        drawn.contains("  n_db([\"db<br/>:5432<br/><i>pointed at, not deployed</i>\"]):::pointed"),
        "{drawn}"
    );
    assert!(
        drawn.contains("n_proxy -->|\"nomadService lookup (proxy/nginx.conf:4)\"| n_web_app"),
        "{drawn}"
    );
    assert!(
        drawn.contains("n_web_app -->|\"nomadService lookup (compose.yaml:5)\"| n_db"),
        "{drawn}"
    );

    // Deployed, the database keeps its data in a volume the diagram shows.
    let (analysis, generated) = generate(dir.path(), &[("deploy.db", "true")]);
    let drawn = diagram::mermaid(&analysis, &generated);
    assert!(drawn.contains(":::deployed") && !drawn.contains(":::pointed"), "{drawn}");
    assert!(drawn.contains("n_db ---|\"/var/lib/postgresql/data\"| n_volume_db_data"), "{drawn}");

    let checkpoint = Checkpoint::default();
    let body = status_comment::render(&StatusInput {
        checkpoint: &checkpoint,
        services: &[],
        checks: &[],
        plan: None,
        decisions: &generated.decisions,
        proposed_file: None,
        diagram: Some(&drawn),
        notes: &[],
        prompts: &[],
    });
    assert!(body.contains("### How it is wired"), "{body}");
    assert!(body.contains("```mermaid\nflowchart LR\n"), "{body}");
}

#[test]
fn a_host_the_code_dials_is_drawn_through_the_sidecar_or_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "compose.yaml",
                "services:\n  api:\n    build: api\n    depends_on:\n      - cache\n  cache:\n    \
                 image: redis:7.2\n",
            ),
            ("api/Dockerfile", "FROM node:20\nCOPY . .\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n"),
            ("api/package.json", "{\"dependencies\": {\"express\": \"4\", \"redis\": \"4\"}}\n"),
            (
                "api/server.js",
                "const redis = require('redis');\nconst client = redis.createClient({ url: 'redis://cache:6379' });\n\
                 require('express')().listen(3000);\n",
            ),
        ],
    );
    // By default the compose-names sidecar answers the name: a plain edge that says so.
    let (analysis, generated) = generate(dir.path(), &[("deploy.cache", "true")]);
    let drawn = diagram::mermaid(&analysis, &generated);
    assert!(!generated.wiring.iter().any(|w| w.is_unreachable()), "{:#?}", generated.wiring);
    assert!(
        drawn.contains("n_api -->|\"nomadService lookup via the compose-names sidecar"),
        "{drawn}"
    );
    // Where no sidecar is wanted, the name is unreachable, drawn dashed and red.
    let config: Config = toml::from_str("[compose_names]\nproxy = false\n").unwrap();
    let mut given = Answers::default();
    given.set("deploy.cache=true").unwrap();
    let generated = build::build(&analysis, &given, &config, "shop").unwrap();
    let drawn = diagram::mermaid(&analysis, &generated);
    let unreachable = generated.wiring.iter().find(|w| w.is_unreachable());
    let wire = unreachable.unwrap_or_else(|| panic!("{:#?}\n{drawn}", generated.wiring));
    assert_eq!((wire.from.as_str(), wire.to.as_str()), ("api", "cache"));
    assert!(drawn.contains("n_api -.->|\"unreachable: the code dials"), "{drawn}");
    assert!(drawn.contains("stroke:#d1242f"), "{drawn}");
}

#[test]
fn every_corpus_app_is_drawn_with_plain_ids_and_safe_labels() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/apps");
    let files = nomad_spec::cli::whole_app::app_files(&dataset).unwrap();
    assert_eq!(files.len(), 24, "the 24 sample apps");
    for path in files {
        let file = nomad_spec::cli::whole_app::read_app_file(&path).unwrap();
        let root = corpus.join("apps").join(&file.app);
        let name = root.file_name().unwrap().to_string_lossy().to_string();
        let options = analyze::Options { root_name: Some(name.clone()), ..Default::default() };
        let analysis = analyze::analyze(&root, &options);
        let mut given = Answers::default();
        for (key, value) in &file.answers {
            given.set(&format!("{key}={value}")).unwrap();
        }
        for service in analysis.services.iter().filter(|s| s.role.is_backing()) {
            let _ = given.set(&format!("deploy.{}=true", service.name));
        }
        let Ok(generated) = build::build(&analysis, &given, &Config::default(), &name) else {
            continue;
        };
        let drawn = diagram::mermaid(&analysis, &generated);
        for service in &analysis.services {
            assert!(drawn.contains(&format!("\"{}<br/>", service.name)), "{}:\n{drawn}", file.app);
        }
        for line in drawn.lines().skip(1) {
            let line = line.trim_start();
            if line.starts_with("classDef") || line.starts_with("linkStyle") {
                continue;
            }
            // An id, then a shape or a link: ids are letters, digits and `_` only.
            let id: String =
                line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(id.starts_with("n_"), "{}: {line}", file.app);
            // Every quoted label is closed on its line and holds no quote of its own.
            assert_eq!(line.matches('"').count() % 2, 0, "{}: {line}", file.app);
            assert!(!line.contains('`') && !line.contains('#'), "{}: {line}", file.app);
        }
    }
}
