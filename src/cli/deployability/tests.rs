//! The judge on small hand-written jobs: every kind of check met and not met, explanations by
//! decisions, and app files that must be refused with their line.

use serde_json::{json, Value};

use super::*;

/// An app file with one expectation of `kind` (TOML after `service`, `why`, `at`).
fn file_with(service: &str, check: &str) -> AppFile {
    let text = format!(
        "app = \"demo\"\n[[expect]]\nservice = \"{service}\"\nwhy = \"w\"\nat = \"compose.yaml:1\"\n\
         {check}\n"
    );
    AppFile::parse(&text, "demo.toml").unwrap_or_else(|e| panic!("{e:#}\n{text}"))
}

fn outcome(service: &str, check: &str, app: &WholeApp) -> Outcome {
    let file = file_with(service, check);
    judge(&file, app).remove(0).outcome
}

fn met(service: &str, check: &str, app: &WholeApp) {
    assert_eq!(outcome(service, check, app), Outcome::Met, "{check}");
}

fn missing(service: &str, check: &str, app: &WholeApp) -> String {
    match outcome(service, check, app) {
        Outcome::Missing(found) => found,
        other => panic!("{check}: expected a miss, got {other:?}"),
    }
}

fn app(jobs: Vec<Value>) -> WholeApp {
    WholeApp { jobs, ..WholeApp::default() }
}

fn job(groups: Vec<Value>) -> Value {
    json!({"ID": "shop", "TaskGroups": groups})
}

/// A group with one docker task named like it.
fn group(name: &str, task: Value) -> Value {
    let mut task = task;
    task["Name"] = json!(name);
    task["Driver"] = json!("docker");
    json!({"Name": name, "Tasks": [task]})
}

/// The database every test can look up: group `db`, registered as `shop-db` on port `db`.
fn db() -> Value {
    let mut db = group("db", json!({"Config": {"image": "postgres:16"}}));
    db["Networks"] = json!([{"Mode": "bridge", "DynamicPorts": [{"Label": "db", "To": 5432}]}]);
    db["Services"] = json!([{"Name": "shop-db", "PortLabel": "db",
        "Checks": [{"Type": "tcp", "Interval": 10}]}]);
    db
}

fn template(destination: &str, data: &str, env: bool) -> Value {
    json!({"DestPath": destination, "EmbeddedTmpl": data, "Envvars": env})
}

#[test]
fn a_file_is_found_where_it_is_rendered_or_bind_mounted() {
    let conf = "upstream { server {{ range nomadService \"shop-db\" }}{{ .Address }}:{{ .Port }}{{ end }}; }";
    let proxy = group(
        "proxy",
        json!({
            "Config": {"image": "nginx:1.27",
                "mount": [{"type": "bind", "source": "local/nginx.conf",
                           "target": "/etc/nginx/conf.d/default.conf"}],
                "volumes": ["secrets/certs:/etc/ssl/private"]},
            "Templates": [template("local/nginx.conf", conf, false),
                          template("secrets/certs/key.pem",
                            "{{ with secret \"kv/data/shop\" }}{{ .Data.data.key }}{{ end }}", false)]
        }),
    );
    let app = app(vec![job(vec![proxy, db()])]);
    met(
        "proxy",
        "file = { destination = \"/etc/nginx/conf.d/default.conf\", contains = [\"upstream\"], \
         lacks = [\"db:5432\"], lookup_of = \"db\" }",
        &app,
    );
    // A template inside a mounted folder lands below the folder's target.
    met("proxy", "file = { destination = \"/etc/ssl/private/key.pem\", secret = true }", &app);
    let found = missing("proxy", "file = { destination = \"/etc/nginx/nginx.conf\" }", &app);
    assert!(found.contains("nothing is rendered or mounted at /etc/nginx/nginx.conf"), "{found}");
    assert!(found.contains("local/nginx.conf"), "{found}");
    let found = missing(
        "proxy",
        "file = { destination = \"/etc/nginx/conf.d/default.conf\", contains = [\"listen 80\"] }",
        &app,
    );
    assert!(found.contains("lacks `listen 80`"), "{found}");
    let found = missing(
        "proxy",
        "file = { destination = \"/etc/nginx/conf.d/default.conf\", lacks = [\"upstream\"] }",
        &app,
    );
    assert!(found.contains("still has `upstream`"), "{found}");
    // The config is not a secret: it writes text of its own.
    let found = missing(
        "proxy",
        "file = { destination = \"/etc/nginx/conf.d/default.conf\", secret = true }",
        &app,
    );
    assert!(found.contains("reads nothing from Vault"), "{found}");
}

#[test]
fn a_lookup_without_the_port_or_of_another_service_does_not_reach() {
    let conf = "server {{ range nomadService \"shop-db\" }}{{ .Address }}{{ end }};\n\
                other {{ range nomadService \"shop-cache\" }}{{ .Address }}:{{ .Port }}{{ end }};";
    let proxy = group(
        "proxy",
        json!({"Config": {"image": "nginx:1.27", "volumes": ["local/a.conf:/etc/a.conf"]},
               "Templates": [template("local/a.conf", conf, false)]}),
    );
    let app = app(vec![job(vec![proxy, db()])]);
    let found =
        missing("proxy", "file = { destination = \"/etc/a.conf\", lookup_of = \"db\" }", &app);
    assert!(found.contains("without `.Port`"), "{found}");
    let found = missing("proxy", "reaches = { service = \"db\", port = true }", &app);
    assert!(found.contains("without `.Port`"), "{found}");
    met("proxy", "reaches = { service = \"db\", port = false }", &app);
    let found = missing("proxy", "reaches = { service = \"queue\", port = true }", &app);
    assert_eq!(found, "`queue` is in no generated job");
}

#[test]
fn a_secret_file_writes_nothing_of_its_own() {
    let password = "{{ with secret \"kv/data/shop\" }}{{ .Data.data.db_password }}{{ end }}";
    let api = group(
        "api",
        json!({"Config": {"image": "api:1", "mount": [{"type": "bind",
                 "source": "secrets/db-password", "target": "/run/secrets/db-password"}]},
               "Templates": [template("secrets/db-password", password, false)]}),
    );
    let leaky = group(
        "worker",
        json!({"Config": {"image": "worker:1", "mount": [{"type": "bind",
                 "source": "secrets/db-password", "target": "/run/secrets/db-password"}]},
               "Templates": [template("secrets/db-password", "hunter2", false)]}),
    );
    let app = app(vec![job(vec![api, leaky])]);
    met("api", "file = { destination = \"/run/secrets/db-password\", secret = true }", &app);
    let found = missing(
        "worker",
        "file = { destination = \"/run/secrets/db-password\", secret = true }",
        &app,
    );
    assert!(found.contains("reads nothing from Vault"), "{found}");
}

#[test]
fn ports_are_mapped_checked_or_left_unchecked() {
    let mut web = group("web", json!({"Config": {"image": "web:1"}}));
    web["Networks"] = json!([{"Mode": "bridge",
        "DynamicPorts": [{"Label": "http", "To": 8000}, {"Label": "debug", "To": 9229}],
        "ReservedPorts": [{"Label": "dns", "Value": 53, "To": 53}, {"Label": "ui", "Value": 32400}]}]);
    web["Services"] = json!([
        {"Name": "shop-web", "PortLabel": "http", "Checks": [{"Type": "http", "Path": "/"}]},
        {"Name": "shop-web-debug", "PortLabel": "debug", "Checks": [{"Type": "tcp"}]},
        {"Name": "shop-web-ui", "PortLabel": "ui"},
        {"Name": "shop-web-dns", "PortLabel": "dns",
         "Checks": [{"Type": "script", "Command": "dig"}]}
    ]);
    let app = app(vec![job(vec![web])]);
    met("web", "port = { container = 8000, checked = true }", &app);
    // A port nobody maps is not checked; one that is not mapped cannot be checked.
    met("web", "port = { container = 3000, checked = false }", &app);
    let found = missing("web", "port = { container = 3000, checked = true }", &app);
    assert!(found.contains("no port maps to container port 3000"), "{found}");
    let found = missing("web", "port = { container = 9229, checked = false }", &app);
    assert!(found.contains("a check targets port 9229 (`debug`)"), "{found}");
    // A static port without `to` (host networking) is the container port itself.
    let found = missing("web", "port = { container = 32400, checked = true }", &app);
    assert!(found.contains("port 32400 is not checked"), "{found}");
    met("web", "port = { container = 32400, checked = false, static = true }", &app);
    // A script check does not connect to the port.
    met("web", "port = { container = 53, checked = false, static = true }", &app);
    let found = missing("web", "port = { container = 8000, checked = true, static = true }", &app);
    assert!(found.contains("not reserved at the same static port"), "{found}");
}

#[test]
fn env_values_lookups_and_secrets() {
    let endpoints = "{{ range nomadService \"shop-db\" }}\nDB_HOST={{ .Address }}\n\
                     DB_PORT={{ .Port }}\nDB_ADDR={{ .Address }}:{{ .Port }}\n{{ end }}\n\
                     MODE=production\n";
    let secrets =
        "{{ with secret \"kv/data/shop\" }}\nDB_PASSWORD={{ .Data.data.db }}\n{{ end }}\n";
    let api = group(
        "api",
        json!({"Config": {"image": "api:1"},
               "Env": {"MYSQL_DATABASE": "shop", "TOKEN": "s3cret"},
               "Templates": [template("local/endpoints.env", endpoints, true),
                             template("secrets/vault.env", secrets, true),
                             template("local/notes.txt", "HIDDEN=1\n", false)]}),
    );
    let app = app(vec![job(vec![api, db()])]);
    met("api", "env = { name = \"MYSQL_DATABASE\", value = \"shop\" }", &app);
    met("api", "env = { name = \"MODE\", value = \"production\" }", &app);
    let found = missing("api", "env = { name = \"MYSQL_DATABASE\", value = \"db\" }", &app);
    assert_eq!(found, "MYSQL_DATABASE=\"shop\" in env");
    met("api", "env = { name = \"PATH\", absent = true }", &app);
    // A template that is not an env template sets no variable.
    met("api", "env = { name = \"HIDDEN\", absent = true }", &app);
    let found = missing("api", "env = { name = \"MODE\", absent = true }", &app);
    assert!(found.contains("an env template of task `api` sets MODE"), "{found}");
    met("api", "env = { name = \"DB_ADDR\", lookup_of = \"db\" }", &app);
    let found = missing("api", "env = { name = \"DB_HOST\", lookup_of = \"db\" }", &app);
    assert!(found.contains("without `.Port`"), "{found}");
    met(
        "api",
        "env = { name = \"DB_HOST\", lookup_of = \"db\", port_variable = \"DB_PORT\" }",
        &app,
    );
    let found = missing(
        "api",
        "env = { name = \"DB_HOST\", lookup_of = \"db\", port_variable = \"DB_SOCKET\" }",
        &app,
    );
    assert!(found.starts_with("DB_SOCKET: not set by a template"), "{found}");
    met("api", "env = { name = \"DB_HOST\", lookup_of = \"db\", address_only = true }", &app);
    let found = missing(
        "api",
        "env = { name = \"DB_PORT\", lookup_of = \"db\", address_only = true }",
        &app,
    );
    assert!(found.contains("without `.Address`"), "{found}");
    met("api", "env = { name = \"DB_PASSWORD\", secret = true }", &app);
    let found = missing("api", "env = { name = \"TOKEN\", secret = true }", &app);
    assert_eq!(found, "TOKEN is written in the job (6 characters)");
    let found = missing("api", "env = { name = \"MODE\", secret = true }", &app);
    assert!(found.contains("MODE from a template"), "{found}");
}

#[test]
fn both_ends_of_a_credential_read_one_vault_key() {
    let read = |key: &str| {
        format!("{{{{ with secret \"kv/data/shop\" }}}}\nPASSWORD={{{{ .Data.data.{key} }}}}\n{{{{ end }}}}\n")
    };
    let api = group(
        "api",
        json!({"Config": {"image": "api:1"},
               "Templates": [template("secrets/vault.env", &read("db_password"), true)]}),
    );
    let mut db = db();
    db["Tasks"][0]["Templates"] = json!([
        template(
            "secrets/vault.env",
            &read("db_password").replace("PASSWORD=", "POSTGRES_PASSWORD="),
            true
        ),
        template(
            "secrets/root",
            "{{ with secret \"kv/data/shop\" }}{{ .Data.data.root }}{{ end }}",
            false
        )
    ]);
    db["Tasks"][0]["Config"]["mount"] =
        json!([{"type": "bind", "source": "secrets/root", "target": "/run/secrets/root"}]);
    let app = app(vec![job(vec![api, db])]);
    met(
        "api",
        "same_secret = { env = \"PASSWORD\", peer = \"db\", peer_env = \"POSTGRES_PASSWORD\" }",
        &app,
    );
    let found = missing(
        "api",
        "same_secret = { env = \"PASSWORD\", peer = \"db\", peer_file = \"/run/secrets/root\" }",
        &app,
    );
    assert_eq!(found, "this end reads kv/data/shop#db_password; `db` reads kv/data/shop#root");
}

#[test]
fn volumes_hold_data_only() {
    let mut db = db();
    db["Volumes"] = json!({"data": {"Name": "data", "Type": "host", "Source": "shop-db"}});
    db["Tasks"][0]["VolumeMounts"] =
        json!([{"Volume": "data", "Destination": "/var/lib/postgresql/data"}]);
    db["Tasks"][0]["Config"]["volumes"] =
        json!(["cache:/var/cache/app", "local/x.conf:/etc/x.conf"]);
    db["Tasks"][0]["Templates"] = json!([template("local/x.conf", "x", false)]);
    let app = app(vec![job(vec![db])]);
    met("db", "volume = { destination = \"/var/lib/postgresql/data\", persistent = true }", &app);
    met("db", "volume = { destination = \"/tmp\", persistent = false }", &app);
    // A volume at a folder above keeps everything below it; one below keeps nothing above.
    met(
        "db",
        "volume = { destination = \"/var/lib/postgresql/data/pgdata\", persistent = true }",
        &app,
    );
    let found = missing(
        "db",
        "volume = { destination = \"/var/lib/postgresql\", persistent = true }",
        &app,
    );
    assert!(found.contains("no group volume"), "{found}");
    let found =
        missing("db", "volume = { destination = \"/var/lib/postgres\", persistent = true }", &app);
    assert!(found.contains("no group volume"), "{found}");
    // A delivered file is not a volume.
    met("db", "volume = { destination = \"/etc/x.conf\", persistent = false }", &app);
    let found = missing(
        "db",
        "volume = { destination = \"/var/lib/postgresql/data/\", persistent = false }",
        &app,
    );
    assert!(found.contains("group volume `data` (host)"), "{found}");
    let found =
        missing("db", "volume = { destination = \"/var/cache/app\", persistent = false }", &app);
    assert!(found.contains("docker volume `cache`"), "{found}");
    let found =
        missing("db", "volume = { destination = \"/var/cache/app\", persistent = true }", &app);
    assert!(found.contains("not a group volume Nomad schedules"), "{found}");
    let found = missing("db", "volume = { destination = \"/data\", persistent = true }", &app);
    assert_eq!(found, "no group volume is mounted at /data");
}

#[test]
fn the_volume_owner_and_the_task_user_agree() {
    let owner = |owner: &str| {
        json!({"Name": "db-volume-owner", "Driver": "docker", "User": "root",
               "Lifecycle": {"Hook": "prestart", "Sidecar": false},
               "Config": {"image": "busybox:1.36", "command": "chown",
                          "args": ["-R", owner, "/var/lib/postgresql/data"]}})
    };
    let with = |step: Option<Value>, user: Option<&str>| {
        let mut db = db();
        if let Some(user) = user {
            db["Tasks"][0]["User"] = json!(user);
        }
        if let Some(step) = step {
            db["Tasks"].as_array_mut().unwrap().insert(0, step);
        }
        app(vec![job(vec![db])])
    };
    met("db", "user = \"999\"", &with(Some(owner("999:999")), None));
    met("db", "user = \"999\"", &with(Some(owner("999:999")), Some("999:999")));
    met(
        "db",
        "user = { id = \"999\", name = \"postgres\" }",
        &with(Some(owner("999")), Some("postgres")),
    );
    met("db", "user = \"999\"", &with(None, Some("999")));
    let found = missing("db", "user = \"999\"", &with(Some(owner("1000:1000")), None));
    assert_eq!(found, "the volume-owner step gives the volume to 1000");
    let found = missing("db", "user = \"999\"", &with(Some(owner("999:999")), Some("postgres")));
    assert_eq!(found, "the task runs as postgres");
    let found = missing("db", "user = \"999\"", &with(None, None));
    assert_eq!(found, "no volume-owner step and no task user");
    // The step may be a shell line.
    let shell = json!({"Name": "own", "Driver": "docker", "Lifecycle": {"Hook": "prestart"},
        "Config": {"image": "busybox:1.36", "command": "sh", "args": ["-c", "chown -R 65534 /prometheus"]}});
    let found = missing("db", "user = \"999\"", &with(Some(shell), None));
    assert_eq!(found, "the volume-owner step gives the volume to 65534");
}

#[test]
fn images_exist_and_are_pinned() {
    let web = |image: &str| app(vec![job(vec![group("web", json!({"Config": {"image": image}}))])]);
    met("web", "image = { equals = \"nginx:1.27\" }", &web("nginx:1.27"));
    missing("web", "image = { equals = \"nginx:1.27\" }", &web("nginx"));
    met("web", "image = { pinned = true }", &web("nginx:1.27"));
    met("web", "image = { pinned = true }", &web("nginx@sha256:abc"));
    met("web", "image = { pinned = true }", &web("registry:5000/team/web:2"));
    assert_eq!(
        missing("web", "image = { pinned = true }", &web("nginx")),
        "the image nginx is not pinned to a version"
    );
    missing("web", "image = { pinned = true }", &web("nginx:latest"));
    missing("web", "image = { pinned = true }", &web("registry:5000/team/web"));
    let published = "image = { repository = [\"dockersamples/vote\", \"ghcr.io/ds/vote\"] }";
    met("web", published, &web("ghcr.io/ds/vote:after"));
    met("web", published, &web("dockersamples/vote"));
    missing("web", published, &web("vote"));
    met("web", "image = { not = \"demo\" }", &web("registry.invalid/app/demo:latest"));
    missing("web", "image = { not = \"demo\" }", &web("demo"));
}

#[test]
fn an_optional_service_is_not_deployed() {
    let app = app(vec![job(vec![db()])]);
    met("seed", "deployed = false", &app);
    assert_eq!(missing("db", "deployed = false", &app), "deployed as group `db`");
    // Compose names become Nomad names.
    let proxy = app_with_group("reverse-proxy");
    assert_eq!(
        missing("reverse_proxy", "deployed = false", &proxy),
        "deployed as group `reverse-proxy`"
    );
    assert_eq!(
        missing("ghost", "port = { container = 80, checked = true }", &app),
        "`ghost` is in no generated job"
    );
}

fn app_with_group(name: &str) -> WholeApp {
    app(vec![job(vec![group(name, json!({"Config": {"image": "x:1"}}))])])
}

#[test]
fn command_driver_config_memory_and_stop_signal() {
    let web = group(
        "web",
        json!({"Config": {"image": "nginx:1", "command": "/bin/bash",
                          "args": ["-c", "envsubst < /tmp/nginx.conf > /etc/x && nginx"],
                          "cap_add": ["NET_ADMIN"],
                          "sysctl": [{"net.ipv4.ip_forward": "1"}],
                          "runtime": "io.containerd.wasmedge.v1"},
               "Resources": {"CPU": 100, "MemoryMB": 256},
               "KillSignal": "SIGINT"}),
    );
    let app =
        app(vec![job(vec![web]), job(vec![group("bare", json!({"Config": {"image": "b:1"}}))])]);
    met("web", "command = { contains = [\"envsubst\", \"/tmp/nginx.conf\"] }", &app);
    let found = missing("web", "command = { contains = [\"logstash -f\"] }", &app);
    assert!(found.contains("lacks `logstash -f`"), "{found}");
    let found = missing("bare", "command = { contains = [\"-H\"] }", &app);
    assert_eq!(found, "the task keeps the image's command (no `-H`)");
    met("web", "config = { key = \"runtime\", value = \"io.containerd.wasmedge.v1\" }", &app);
    met("web", "config = { key = \"cap_add\", contains = [\"NET_ADMIN\"] }", &app);
    met("web", "config = { key = \"sysctl\", contains = [\"net.ipv4.ip_forward=1\"] }", &app);
    let found = missing("web", "config = { key = \"cap_add\", contains = [\"SYS_MODULE\"] }", &app);
    assert!(found.contains("has no `SYS_MODULE`"), "{found}");
    let found = missing("bare", "config = { key = \"runtime\", value = \"runc\" }", &app);
    assert_eq!(found, "the driver config has no `runtime`");
    met("web", "memory = { at_least = 256 }", &app);
    assert_eq!(missing("web", "memory = { at_least = 1024 }", &app), "the task has 256 MB");
    met("web", "stop_signal = \"SIGINT\"", &app);
    assert_eq!(
        missing("bare", "stop_signal = \"SIGINT\"", &app),
        "the task is stopped with Nomad's default SIGTERM"
    );
}

#[test]
fn placeholders_are_nowhere() {
    let web = group(
        "web",
        json!({"Config": {"image": "pihole:1"}, "Env": {"ServerIP": "192.168.178.X"}}),
    );
    let app = app(vec![job(vec![web])]);
    met("web", "nowhere = [\"yourUser\"]", &app);
    assert_eq!(
        missing("web", "nowhere = [\"yourUser\", \"192.168.178.X\"]", &app),
        "the group holds `192.168.178.X`"
    );
}

#[test]
fn decisions_explain_misses_and_state_what_was_dropped() {
    let mut app = app(vec![job(vec![group("backend", json!({"Config": {"image": "b:1"}})), db()])]);
    app.decisions = vec![
        Decision {
            subject: "backend".into(),
            choice: "db:3306 unreachable".into(),
            reason: "main.go dials tcp(db:3306) and reads no variable".into(),
        },
        Decision {
            subject: "backend /code".into(),
            choice: "not mounted".into(),
            reason: "compose mounts .:/code, which the image already copies".into(),
        },
        Decision {
            subject: "backend-two".into(),
            choice: "something about App.java".into(),
            reason: "db".into(),
        },
    ];
    app.questions = vec![Question {
        key: "env.backend.API_KEY".into(),
        prompt: "API_KEY has no default".into(),
        default: String::new(),
        reason: "the code requires it".into(),
        needs_answer: true,
    }];
    let check = "reaches = { service = \"db\", port = true }";
    let explained = format!("{check}\nor_decision = [\"DB:3306\", \"main.go\"]");
    match outcome("backend", &explained, &app) {
        Outcome::Explained(text) => {
            assert!(text.starts_with("backend: db:3306 unreachable"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    // A decision about another service (a name that only begins alike) explains nothing.
    let other = format!("{check}\nor_decision = [\"App.java\"]");
    assert!(matches!(outcome("backend", &other, &app), Outcome::Missing(_)));
    met("backend", "decided = [\".:/code\"]", &app);
    met("backend", "decided = [\"API_KEY\", \"requires\"]", &app);
    let found = missing("backend", "decided = [\"/var/run/docker.sock\", \"socket\"]", &app);
    assert_eq!(found, "no decision about `backend` mentions `/var/run/docker.sock`, `socket`");
    let judgements = judge(&file_with("backend", check), &app);
    assert_eq!(Score::of(&judgements), Score { met: 0, explained: 0, missing: 1, total: 1 });
}

#[test]
fn app_files_are_strict_and_errors_carry_the_line() {
    let error =
        |text: &str| AppFile::parse(text, "apps/x.toml").map(|_| ()).unwrap_err().to_string();
    let head = "app = \"awesome-compose/flask\"\n";
    let expect = "[[expect]]\nservice = \"web\"\nwhy = \"w\"\nat = \"a:1\"\n";
    assert_eq!(error(head), "apps/x.toml: no `[[expect]]`");
    let two = format!(
        "{head}\n{expect}port = {{ container = 80, checked = true }}\n\
                       image = {{ pinned = true }}\n"
    );
    assert_eq!(
        error(&two),
        "apps/x.toml:3: the expectation about `web` has 2 checks (port, image); exactly one per \
         expectation"
    );
    assert!(error(&format!("{head}{expect}"))
        .starts_with("apps/x.toml:2: the expectation about `web` has no check"));
    let unknown =
        format!("{head}{expect}port = {{ container = 80, checked = true, tcp = true }}\n");
    let message = error(&unknown);
    assert!(message.starts_with("apps/x.toml:6:"), "{message}");
    assert!(message.contains("unknown field `tcp`"), "{message}");
    let typo = format!("{head}{expect}prot = {{ container = 80 }}\n");
    assert!(error(&typo).contains("unknown field `prot`"));
    let env = format!("{head}{expect}env = {{ name = \"A\", value = \"1\", absent = true }}\n");
    assert!(error(&env).contains("exactly one of `value`, `absent`, `lookup_of`, `secret`"));
    let relative =
        format!("{head}{expect}volume = {{ destination = \"data\", persistent = true }}\n");
    assert!(error(&relative).contains("`data` is not an absolute path"));
    let deployed = format!("{head}{expect}deployed = true\n");
    assert!(error(&deployed).contains("only `deployed = false` is a check"));
    let user = format!("{head}{expect}user = \"postgres\"\n");
    assert!(error(&user).contains("`postgres` is not a numeric user id"));
    let escape = "app = \"../etc\"\n".to_string() + expect + "deployed = false\n";
    assert!(error(&escape).contains("`app` must name a folder under <corpus>/apps"));
    let file = AppFile::parse(
        &format!("{head}[answers]\n\"image.web\" = \"w:1\"\n{expect}deployed = false\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(file.answers, vec![("image.web".to_string(), "w:1".to_string())]);
    assert_eq!(file.expectations[0].line, 4);
    assert_eq!(file.expectations[0].check, Check::NotDeployed);
}
