//! Tests of the source scan, of `looks_secret`, of secrets by value and of `hosts_in`.

use super::secrets::words;
use super::*;

fn scan_one(path: &str, text: &str) -> (SourceFacts, Vec<Note>) {
    let mut facts = SourceFacts::default();
    let mut notes = Vec::new();
    let kind = kind_of(path).unwrap_or_else(|| panic!("{path} is not a source file"));
    scan_text(path, kind, text, &mut facts, &mut notes);
    facts.finish();
    (facts, notes)
}

fn env_of(facts: &SourceFacts) -> Vec<(String, Option<String>, Option<u32>)> {
    facts.env.iter().map(|(n, d, e)| (n.clone(), d.clone(), e.line)).collect()
}

#[test]
fn patterns_compile() {
    let patterns = &*PATTERNS;
    assert!(patterns.env.len() > 10 && patterns.ports.len() > 10);
    // A run compiles a pattern when it first needs it, for `regex` only past its budget:
    // compile them all for both engines here, so a bad one fails the tests rather than a
    // user's run.
    let lists = [&patterns.env, &patterns.ports, &patterns.grpc, &patterns.health];
    for (_, pattern) in lists.into_iter().flatten() {
        pattern.get().compile_both();
    }
    for (_, _, pattern) in &patterns.grpc_health {
        pattern.get().compile_both();
    }
}

#[test]
fn the_text_a_pattern_needs() {
    let cases = [
        (r"\bprocess\.env\.(?P<name>\w+)", Some("process.env.")),
        (r"\benv::var(?:_os)?\(", Some("env::var")),
        (r"\bgrpc\.(?:aio\.)?server\(", Some("grpc.")),
        (r"\bListen(?:AnyIP|Localhost)?\(\s*(?P<port>[0-9]{2,5})\b", Some("Listen")),
        (r"(?m)^[ \t]*server\.port\s*[=:]", Some("server.port")),
        (r"(?m)^[ \t]*bind\s*=", Some("bind")),
        (r"^\s*listen\s+", Some("listen")),
        (r"(?m)\bGRPC::RpcServer\.new\b", Some("GRPC::RpcServer.new")),
        // A quantifier makes the last character optional; alternatives need no one text.
        (r"\bhttps?://", Some("http")),
        (r"\bnew\s+grpc\.Server\(|\.addService\(", None),
        // A leading group of plain words needs what they all start with.
        (r"\b(?:run|run_app)\(", Some("run")),
        (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}", None),
        (r"\b(?:run|run_app)?\(", None),
        (r"\b(?:ListenAndServe(?:TLS)?|Listen|Run)\(", None),
        (r"\$\{(?P<name>[A-Z]+)\}", None),
        (r"(?i)\bproxy_pass\s+", None),
        (r"==\s*", None),
    ];
    for (pattern, needs) in cases {
        assert_eq!(required_literal(pattern).as_deref(), needs, "{pattern}");
    }
    // Most of the scan's patterns start with a text of their own, and skip files without it.
    let patterns = &*PATTERNS;
    let lists = [&patterns.env, &patterns.ports, &patterns.grpc, &patterns.health];
    let needs: Vec<&str> =
        lists.into_iter().flatten().filter_map(|(_, p)| p.needs.as_deref()).collect();
    assert!(needs.len() > 25, "{needs:?}");
    assert!(needs.contains(&"process.env.") && needs.contains(&".listen("), "{needs:?}");
}

/// Env names and defaults a case expects.
type Expected<'a> = &'a [(&'a str, Option<&'a str>)];

#[test]
fn env_reads_per_language() {
    let cases: &[(&str, &str, Expected)] = &[
        (
            "app.py",
            "import os\nA = os.environ[\"DB_HOST\"]\nB = os.environ.get('DB_PORT', '5432')\n\
             C = os.getenv(\"WORKERS\", 4)\nD = os.getenv('MODE')\n\
             os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n",
            &[
                ("DB_HOST", None),
                ("DB_PORT", Some("5432")),
                ("WORKERS", Some("4")),
                ("MODE", None),
                ("DJANGO_SETTINGS_MODULE", Some("site.settings")),
            ],
        ),
        (
            "server.js",
            "const port = process.env.PORT || 3000;\nconst url = process.env['API_URL'] ?? \"http://api:8080\";\n\
             const lvl = process.env.LOG_LEVEL;\n",
            &[("PORT", Some("3000")), ("LOG_LEVEL", None), ("API_URL", Some("http://api:8080"))],
        ),
        (
            "main.go",
            "addr := os.Getenv(\"LISTEN_ADDR\")\nv, ok := os.LookupEnv(\"FEATURE_X\")\n",
            &[("LISTEN_ADDR", None), ("FEATURE_X", None)],
        ),
        (
            "App.java",
            "String h = System.getenv(\"REDIS_HOST\");\n@Value(\"${QUEUE_NAME:jobs}\") String q;\n",
            &[("REDIS_HOST", None), ("QUEUE_NAME", Some("jobs"))],
        ),
        (
            "Main.kt",
            "val port = System.getenv(\"HTTP_PORT\") ?: \"8080\"\n",
            &[("HTTP_PORT", Some("8080"))],
        ),
        (
            "main.rs",
            "let p = std::env::var(\"PORT\").unwrap_or_else(|_| \"8000\".to_string());\n\
             let d = env::var(\"DATABASE_URL\")?;\nlet r = env::var(\"RUST_LOG\").unwrap_or(\"info\".into());\n",
            &[("PORT", Some("8000")), ("DATABASE_URL", None), ("RUST_LOG", Some("info"))],
        ),
        (
            "Program.cs",
            "var c = Environment.GetEnvironmentVariable(\"CACHE_HOST\") ?? \"cache\";\n",
            &[("CACHE_HOST", Some("cache"))],
        ),
        (
            "config.php",
            "<?php\n$h = getenv('DB_HOST');\n$u = $_ENV['APP_URL'] ?? 'http://localhost';\n\
             'debug' => env('APP_DEBUG', false),\n'name' => env('APP_NAME', 'Laravel'),\n",
            &[
                ("APP_URL", Some("http://localhost")),
                ("APP_NAME", Some("Laravel")),
                ("APP_DEBUG", None),
                ("DB_HOST", None),
            ],
        ),
        (
            "config/puma.rb",
            "port ENV.fetch(\"PORT\") { 3000 }\nthreads = ENV.fetch('RAILS_MAX_THREADS', 5)\n\
             host = ENV['REDIS_HOST'] || 'localhost'\n",
            &[("PORT", Some("3000")), ("RAILS_MAX_THREADS", Some("5")), ("REDIS_HOST", Some("localhost"))],
        ),
        (
            "src/main/resources/application.properties",
            "spring.datasource.url=jdbc:postgresql://${DB_HOST:localhost}:5432/app\n\
             spring.datasource.password=${DB_PASSWORD:devpass}\nserver.port=${PORT:8081}\n\
             spring.application.name=${spring.app.name}\n",
            &[("DB_HOST", Some("localhost")), ("DB_PASSWORD", None), ("PORT", Some("8081"))],
        ),
    ];
    for (path, text, expected) in cases {
        let (facts, notes) = scan_one(path, text);
        assert!(notes.is_empty(), "{path}: {notes:?}");
        let mut got: Vec<(String, Option<String>)> =
            facts.env.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect();
        let mut want: Vec<(String, Option<String>)> =
            expected.iter().map(|(n, d)| (n.to_string(), d.map(str::to_string))).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{path}");
    }
}

#[test]
fn env_evidence_has_lines_and_no_secret_values() {
    let (facts, _) = scan_one(
        "app.py",
        "import os\n\nSECRET = os.getenv('SECRET_KEY', 'dev-only-secret')\nPORT = os.getenv('PORT', '5000')\nX = os.getenv('PORT')\n",
    );
    assert_eq!(
        env_of(&facts),
        vec![
            ("SECRET_KEY".to_string(), None, Some(3)),
            ("PORT".to_string(), Some("5000".to_string()), Some(4)),
        ]
    );
    let all = format!("{facts:?}");
    assert!(!all.contains("dev-only-secret"), "{all}");
    assert_eq!(
        facts.ports.iter().map(|(p, e)| (*p, e.line)).collect::<Vec<_>>(),
        [(5000, Some(4))]
    );
}

#[test]
fn listen_ports_per_language() {
    let cases: &[(&str, &str, &[u16])] = &[
        ("index.js", "app.listen(3000, () => {})", &[3000]),
        ("index.js", "server.listen(process.env.PORT || 8080);", &[8080]),
        ("server.ts", "await app.listen({ port: 4000, host: '0.0.0.0' })", &[4000]),
        ("app.py", "if __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000)\n", &[5000]),
        ("main.py", "uvicorn.run(app, host=\"0.0.0.0\", port=8000)", &[8000]),
        ("gunicorn.conf.py", "bind = \"0.0.0.0:8001\"\nworkers = 2\n", &[8001]),
        ("main.go", "log.Fatal(http.ListenAndServe(\":8080\", mux))", &[8080]),
        ("main.go", "lis, err := net.Listen(\"tcp\", \":50051\")", &[50051]),
        ("main.go", "r.Run(\":9000\")\nsrv := &http.Server{Addr: \"0.0.0.0:9001\"}", &[9000, 9001]),
        ("App.java", "port(4567);\nServerBuilder.forPort(50052)", &[4567, 50052]),
        ("src/main/resources/application.properties", "server.port=8081\n", &[8081]),
        (
            "src/main/resources/application.properties",
            "server.port = ${SERVER_PORT:8082}\n",
            &[8082],
        ),
        (
            "src/main/resources/application.yml",
            "spring:\n  application:\n    name: x\nserver:\n  port: 8083\n",
            &[8083],
        ),
        ("main.rs", "HttpServer::new(f).bind((\"0.0.0.0\", 8080))?", &[8080]),
        ("main.rs", "let l = TcpListener::bind(\"0.0.0.0:3000\").await?;", &[3000]),
        ("main.rs", "let addr = SocketAddr::from(([0, 0, 0, 0], 3001));", &[3001]),
        ("Program.cs", "app.Run(\"http://0.0.0.0:5005\");", &[5005]),
        ("Program.cs", "o.ListenAnyIP(8085);", &[8085]),
        ("app.rb", "set :port, 4567\n", &[4567]),
        ("index.js", "const port = 4001;\napp.listen(port)", &[4001]),
        ("index.js", "app.listen(port)", &[]),
        ("index.js", "const port = 4001 + offset;", &[]),
        ("index.js", "const x = foo(3000)", &[]),
        ("main.go", "fmt.Println(\":8080\")", &[]),
        (
            "main.go",
            "port := os.Getenv(\"PORT\")\nif port == \"\" {\n\tport = \"8090\"\n}\n",
            &[8090],
        ),
        ("main.go", "if name == \"\" {\n\tname = \"world\"\n}\n", &[]),
    ];
    for (path, text, expected) in cases {
        let (facts, _) = scan_one(path, text);
        let got: Vec<u16> = facts.ports.iter().map(|(p, _)| *p).collect();
        assert_eq!(got, *expected, "{path}: {text}");
    }
}

#[test]
fn grpc_servers_and_their_ports() {
    let go = "package main\nfunc main() {\n\tlis, _ := net.Listen(\"tcp\", \":50051\")\n\ts := grpc.NewServer()\n}\n";
    let (facts, _) = scan_one("cmd/server/main.go", go);
    let grpc = facts.grpc.expect("grpc found");
    assert_eq!((grpc.line, grpc.what.as_str()), (Some(4), "registers a gRPC server"));
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50051]);

    let python = "server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))\nserver.add_insecure_port('[::]:50052')\n";
    let (facts, _) = scan_one("server.py", python);
    assert!(facts.grpc.is_some());
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50052]);

    let node = "const server = new grpc.Server();\nserver.bindAsync('0.0.0.0:50053', creds, cb);\n";
    let (facts, _) = scan_one("server.js", node);
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50053]);

    let rust = "use tonic::transport::Server;\nServer::builder().add_service(s).serve(\"[::]:50054\".parse()?).await?;\n";
    let (facts, _) = scan_one("src/main.rs", rust);
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50054]);

    let axum = "let app = Server::builder();\n";
    assert!(scan_one("src/main.rs", axum).0.grpc.is_none(), "no tonic, no gRPC");

    let proto = "syntax = \"proto3\";\n\nservice Greeter {\n  rpc SayHello (HelloRequest) returns (HelloReply);\n}\n";
    let (facts, _) = scan_one("proto/greeter.proto", proto);
    assert_eq!(
        facts.grpc.map(|e| (e.line, e.what)),
        Some((Some(3), "defines a gRPC service".into()))
    );

    let spring = "grpc.server.port=9090\n";
    let (facts, _) = scan_one("src/main/resources/application.properties", spring);
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [9090]);

    let plain = "http.ListenAndServe(\":8080\", nil)";
    let (facts, _) = scan_one("main.go", plain);
    assert!(facts.grpc.is_none() && facts.grpc_ports.is_empty());
}

#[test]
fn grpc_health_service_registrations() {
    let go = "import (\n\t\"google.golang.org/grpc\"\n\t\"google.golang.org/grpc/health\"\n\thealthpb \"google.golang.org/grpc/health/grpc_health_v1\"\n)\n\nfunc main() {\n\ts := grpc.NewServer()\n\thealthpb.RegisterHealthServer(s, health.NewServer())\n}\n";
    let python = "from grpc_health.v1 import health, health_pb2_grpc\n\ndef serve():\n    server = grpc.server(futures.ThreadPoolExecutor())\n    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)\n";
    let node = "const { HealthImplementation } = require('grpc-health-check');\nconst server = new grpc.Server();\nconst health = new HealthImplementation({ '': 'SERVING' });\nhealth.addToServer(server);\n";
    let node_v1 = "import * as health from 'grpc-health-check';\nserver.addService(health.service, new health.Implementation(statusMap));\n";
    let java = "HealthStatusManager health = new HealthStatusManager();\nServer server = ServerBuilder.forPort(9090)\n    .addService(health.getHealthService())\n    .build();\n";
    let csharp = "var app = builder.Build();\napp.MapGrpcService<GreeterService>();\napp.MapGrpcHealthChecksService();\n";
    let rust = "use tonic::transport::Server;\n\nlet (reporter, health) = tonic_health::server::health_reporter();\nServer::builder().add_service(health);\n";
    let ruby = "server = GRPC::RpcServer.new\nserver.handle(Grpc::Health::Checker.new)\n";
    let cases = [
        ("cmd/server/main.go", go, 9),
        ("server.py", python, 5),
        ("server.js", node, 3),
        ("src/server.ts", node_v1, 2),
        ("src/main/java/app/Main.java", java, 3),
        ("Program.cs", csharp, 3),
        ("src/main.rs", rust, 3),
        ("server.rb", ruby, 2),
    ];
    for (path, text, line) in cases {
        let (facts, _) = scan_one(path, text);
        let found = facts.grpc_health.unwrap_or_else(|| panic!("{path}: no health service"));
        assert_eq!(
            (found.file.as_str(), found.line, found.what.as_str()),
            (path, Some(line), "registers the gRPC health service (grpc.health.v1)"),
        );
    }
}

#[test]
fn grpc_health_clients_and_look_alikes_are_not_a_health_service() {
    let cases = [
        // A client asking another server's health.
        (
            "client.go",
            "import healthpb \"google.golang.org/grpc/health/grpc_health_v1\"\n\nc := healthpb.NewHealthClient(conn)\n",
        ),
        (
            "client.py",
            "from grpc_health.v1 import health_pb2_grpc\nstub = health_pb2_grpc.HealthStub(channel)\n",
        ),
        ("Client.java", "HealthGrpc.HealthBlockingStub stub = HealthGrpc.newBlockingStub(channel);\n"),
        // The project's own `Health` service, not the standard one a gRPC check asks.
        ("main.go", "s := grpc.NewServer()\npb.RegisterHealthServer(s, &myHealth{})\n"),
        ("server.py", "app_pb2_grpc.add_HealthServicer_to_server(MyHealth(), server)\n"),
        ("server.js", "const impl = new Implementation(db);\n"),
        ("src/main.rs", "let reporter = health_reporter();\n"),
        // An HTTP health route is not gRPC's.
        ("main.go", "http.HandleFunc(\"/health\", h)\n"),
        // A test registers whatever it likes.
        (
            "server/health_test.go",
            "import \"google.golang.org/grpc/health\"\nhealthpb.RegisterHealthServer(s, health.NewServer())\n",
        ),
    ];
    for (path, text) in cases {
        // Through the whole scan, which is what leaves tests out.
        let listing = [(path, text.len() as u64)];
        let mut read = |_: &str, _: &mut Vec<Note>| Some(text.to_string());
        let facts = scan_in(listing.into_iter(), "", &mut read, &mut Vec::new());
        assert!(facts.grpc_health.is_none(), "{path}: {:?}", facts.grpc_health);
    }
}

#[test]
fn health_routes_best_first() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("app.py", "@app.route(\"/ping\")\ndef ping(): pass\n@app.route('/health')\ndef h(): pass\n", &["/health", "/ping"]),
        ("main.py", "@app.get(\"/healthz\")\nasync def hz(): ...\n@router.get('/readyz')\n", &["/healthz", "/readyz"]),
        ("index.js", "app.get('/health', (req, res) => res.send('ok'))", &["/health"]),
        ("main.go", "mux.HandleFunc(\"/healthz\", h)\nmux.HandleFunc(\"GET /livez\", l)\nr.GET(\"/status\", s)\n", &["/healthz", "/livez", "/status"]),
        ("Api.java", "@GetMapping(\"/ready\")\n@RequestMapping(value = \"/health\")\n", &["/health", "/ready"]),
        ("Program.cs", "app.MapHealthChecks(\"/healthz\");\napp.MapGet(\"/ping\", () => \"pong\");", &["/healthz", "/ping"]),
        ("urls.py", "urlpatterns = [path(\"health/\", views.health), path('admin/', admin.site.urls)]", &["/health"]),
        ("config/routes.rb", "Rails.application.routes.draw do\n  get \"up\" => \"rails/health#show\"\nend\n", &["/up"]),
        ("app.rb", "get '/health' do\n  'ok'\nend\n", &["/health"]),
        ("src/main.rs", ".route(\"/healthz\", get(health))", &["/healthz"]),
        ("src/main.rs", "#[get(\"/health\")]\nasync fn h() {}", &["/health"]),
        // Near misses: a path that is not a route, a longer path.
        ("index.js", "const s = '/health';\nfetch('https://x/health')\n", &[]),
        ("main.go", "mux.HandleFunc(\"/healthy-food\", h)", &[]),
    ];
    for (path, text, expected) in cases {
        let (facts, _) = scan_one(path, text);
        let got: Vec<&str> = facts.health_paths.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(got, *expected, "{path}: {text}");
    }
    let (facts, _) = scan_one("index.js", "\n\napp.get('/health', h)");
    assert_eq!(facts.health_paths[0].1.line, Some(3));
}

#[test]
fn malformed_spring_yaml_is_a_note() {
    let (facts, notes) = scan_one("src/main/resources/application.yml", "server:\n  port: [8080\n");
    assert!(facts.ports.is_empty());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].message.starts_with("not valid YAML"), "{notes:?}");
    assert_eq!(notes[0].file.as_deref(), Some("src/main/resources/application.yml"));
}

#[test]
fn binary_looking_and_odd_text_does_not_panic() {
    let odd =
        "process.env.\nprocess.env[\nos.getenv(\napp.listen(99999)\n\u{0}\u{1}é\n@app.get(\"/";
    for path in ["a.js", "a.py", "a.go", "a.rs", "a.rb", "a.php", "a.cs", "A.java"] {
        let (facts, _) = scan_one(path, odd);
        assert!(facts.ports.is_empty(), "{path}");
    }
}

#[test]
fn the_scan_is_bounded() {
    let listing = [
        ("svc/a.py", 10),
        ("svc/node_modules/x.js", MAX_SCAN_BYTES),
        ("svc/b.py", MAX_SCAN_BYTES - 10),
        ("svc/c.py", 6),
        ("svc/d.py", 1),
    ];
    let mut read_files = Vec::new();
    let mut notes = Vec::new();
    let facts = scan_in(
        listing.iter().map(|(p, s)| (*p, *s)),
        "svc",
        &mut |path, _| {
            read_files.push(path.to_string());
            Some("import os\nX = os.getenv('SETTING')\n".to_string())
        },
        &mut notes,
    );
    assert_eq!(read_files, ["svc/a.py", "svc/b.py"], "skipped folders are not read");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].message.contains("stopped after 8 MiB at svc/c.py"), "{notes:?}");
    assert_eq!(facts.env.len(), 1, "both files read the same name");
}

#[test]
fn long_lists_of_the_scan_are_capped_with_a_note() {
    // 20,000 names and listen ports made a job of 5.8 MB, its repeats found in quadratic time.
    let text: String = (1..=20_000)
        .map(|i| format!("const v{i} = process.env.VAR_{i} || \"x\";\napp.listen({});\n", 1000 + i))
        .collect();
    let mut notes = Vec::new();
    let facts = scan_in(
        [("svc/index.js", text.len() as u64)].into_iter(),
        "svc",
        &mut |_, _| Some(text.clone()),
        &mut notes,
    );
    assert_eq!((facts.env.len(), facts.ports.len()), (MAX_ENTRIES, MAX_PORTS));
    assert_eq!(facts.env[0].0, "VAR_1");
    assert_eq!(facts.ports.last().map(|(port, _)| *port), Some(1100));
    let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "source scan of svc: the code reads 20000 env vars; only the first 500 are kept",
            "source scan of svc: the code reads 20000 listen ports; only the first 100 are kept",
        ]
    );
}

#[test]
fn files_scanned_and_skipped() {
    let cases = [
        ("src/app.py", Some(SourceKind::Python), false),
        ("web/server.mjs", Some(SourceKind::Script), false),
        ("web/App.tsx", None, false),
        ("cmd/api/main.go", Some(SourceKind::Go), false),
        ("cmd/api/main_test.go", Some(SourceKind::Go), true),
        ("src/main/resources/application-prod.yml", Some(SourceKind::SpringYaml), false),
        ("config/settings.yml", None, false),
        ("node_modules/express/index.js", Some(SourceKind::Script), true),
        ("tests/test_app.py", Some(SourceKind::Python), true),
        ("app/test_views.py", Some(SourceKind::Python), true),
        ("src/app.test.ts", Some(SourceKind::Script), true),
        ("src/test/java/AppTest.java", Some(SourceKind::Jvm), true),
        ("vendor/github.com/x/y.go", Some(SourceKind::Go), true),
        ("README.md", None, false),
        ("Makefile", None, false),
    ];
    for (path, kind, skipped) in cases {
        assert_eq!(kind_of(path), kind, "{path}");
        assert_eq!(is_skipped(path), skipped, "{path}");
    }
}

#[test]
fn secret_names() {
    let cases = [
        ("PASSWORD", true),
        ("DB_PASSWORD", true),
        ("POSTGRES_PASSWORD", true),
        ("MYSQL_ROOT_PASSWORD", true),
        ("dbPassword", true),
        ("SMTP_PASS", true),
        ("DB_PWD", true),
        ("JWT_SECRET", true),
        ("SECRET_KEY", true),
        ("SECRET_KEY_BASE", true),
        ("GITHUB_TOKEN", true),
        ("access_token", true),
        ("API_KEY", true),
        ("apiKey", true),
        ("APIKEY", true),
        ("STRIPE_KEY", true),
        ("TLS_KEY", true),
        ("AWS_SECRET_ACCESS_KEY", true),
        ("PRIVATE_KEY", true),
        ("GOOGLE_APPLICATION_CREDENTIALS", true),
        ("DOCKER_CREDS", true),
        ("BASIC_AUTH", true),
        ("REDIS_AUTH", true),
        ("DATABASE_URL", true),
        ("SQLALCHEMY_DATABASE_URI", true),
        ("REDIS_URL", true),
        ("MONGODB_URI", true),
        ("CELERY_BROKER_URL", true),
        ("SENTRY_DSN", true),
        ("SLACK_WEBHOOK_URL", true),
        ("EMAIL_URL", true),
        ("CACHE_URL", true),
        ("ConnectionStrings__DefaultConnection", true),
        ("SSL_KEYSTORE_PASSWORD", true),
        ("AUTH_SALT", true),
        // Near misses.
        ("PWD", false),
        ("KEYCLOAK_URL", false),
        ("TOKENIZER_MODEL", false),
        ("BYPASS_CACHE", false),
        ("COMPASS_URL", false),
        ("AUTHOR_NAME", false),
        ("AUTH_ENABLED", false),
        ("AUTH_URL", false),
        ("OAUTH_CLIENT_ID", false),
        ("AWS_ACCESS_KEY_ID", false),
        ("PUBLIC_KEY", false),
        ("STRIPE_PUBLISHABLE_KEY", false),
        ("CACHE_KEY", false),
        ("KEY_PREFIX", false),
        ("TOKEN_TTL", false),
        ("JWT_EXPIRY", false),
        ("PASSWORD_MIN_LENGTH", false),
        ("POSTGRES_PASSWORD_FILE", false),
        ("PRIVATE_KEY_PATH", false),
        ("SECRET_NAME", false),
        ("TLS_CERT", false),
        ("API_URL", false),
        ("NEXTAUTH_URL", false),
        ("ELASTIC_APM_SERVER_URL", false),
        ("REDIS_HOST", false),
        ("DB_USER", false),
        ("MYSQL_ALLOW_EMPTY_PASSWORD", false),
        ("MYSQL_RANDOM_ROOT_PASSWORD", false),
        ("PORT", false),
        ("", false),
    ];
    for (name, secret) in cases {
        assert_eq!(looks_secret(name), secret, "{name}");
    }
}

/// A random-looking body for the token shapes, built here so that no scanner takes the test
/// file for a leak.
const BODY: &str = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";

#[test]
fn secrets_recognised_by_shape_wherever_they_stand() {
    let cases = [
        (format!("ghp_{BODY}"), "a GitHub token"),
        (format!("gho_{BODY}"), "a GitHub token"),
        (format!("ghs_{BODY}"), "a GitHub token"),
        (format!("github_pat_11AB{BODY}_{BODY}"), "a GitHub token"),
        (format!("glpat-{}", &BODY[..20]), "a GitLab token"),
        ("AKIAQ3EXAMPLE7W4RZ5N".to_string(), "an AWS access key"),
        (format!("xoxb-1234567890-{}", &BODY[..24]), "a Slack token"),
        (format!("xoxp-{}", &BODY[..16]), "a Slack token"),
        (format!("sk_live_{}", &BODY[..24]), "a Stripe key"),
        (format!("rk_live_{}", &BODY[..24]), "a Stripe key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...".to_string(), "a private key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----".to_string(), "a private key"),
        (format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.{}", &BODY[..20]), "a JWT"),
        ("postgres://app:{p}@db:5432/app".replace("{p}", "hunter2x"), "a URL password"),
        // Inside a longer value: a command line, a header.
        (format!("redis-server --token {BODY} --key ghp_{BODY}"), "a GitHub token"),
        (format!("Authorization: Bearer glpat-{}", &BODY[..20]), "a GitLab token"),
    ];
    for (value, what) in &cases {
        assert_eq!(secret_shape(value), Some(*what), "{value}");
        assert!(holds_secret("PLAIN_SETTING", value), "{value}");
    }
}

#[test]
fn public_values_are_not_secrets_by_value() {
    let cases = [
        "sha256:4a2d3c5f9e8b7a6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d",
        "nginx@sha256:4a2d3c5f9e8b7a6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d",
        "3f9c2e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "cGFzc3dvcmQxMjM=",
        "aGVsbG8gd29ybGQ=",
        "https://example.com/api/v1?page=2",
        "postgres://app@db:5432/app",
        "redis://redis:6379/0",
        "changeme",
        "your-token-here",
        "CHANGE_ME_IN_PRODUCTION",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "AKIAXXXXXXXXXXXXXXXX",
        "sk_live_0000000000000000000000",
        "com.example.service.ApplicationMain",
        "/usr/local/lib/python3.12/site-packages",
        "-----BEGIN CERTIFICATE-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx public",
    ];
    for value in cases {
        assert_eq!(secret_shape(value), None, "{value}");
        for name in ["SIGNING_KEY_ID", "API_CLIENT", "IMAGE", "GIT_SHA", "REQUEST_ID"] {
            assert!(!holds_secret(name, value), "{name}={value}");
        }
    }
}

#[test]
fn random_values_are_secrets_under_secretish_names_only() {
    let random = "Zq8vK2pX7mR4tY9wB3nF6hJ1sL5dG0cA";
    assert!(looks_random(random));
    for name in ["SESSION_SIGNING", "API_KEY_ID", "AUTH_CLIENT_ID", "COOKIE_VALUE"] {
        assert!(!looks_secret(name), "{name} is not secret by name");
        assert!(holds_secret(name, random), "{name}");
    }
    for name in ["IMAGE_TAG", "LOG_LEVEL", "BUILD"] {
        assert!(!holds_secret(name, random), "{name}");
    }
    // Short, spaced, hex or a reference: never random enough.
    for value in ["Zq8vK2pX7mR4", "the quick brown fox jumps over it", "${SESSION_SIGNING}"] {
        assert!(!looks_random(value), "{value}");
    }
    // A secret name holds a secret whatever the value.
    assert!(holds_secret("DB_PASSWORD", "changeme"));
}

#[test]
fn a_given_connection_url_is_a_secret_only_when_it_carries_a_credential() {
    // An address: wired to the registry, not hidden.
    for (name, value) in [
        ("DATABASE_URL", "postgres://db:5432/app"),
        ("DATABASE_URL", "postgres://app@db:5432/app"),
        ("REDIS_URL", "redis://cache:6379/0"),
    ] {
        assert!(!given_value_holds_secret(name, value), "{name}={value}");
        // A code's default stands for whatever the deployment gives: by its name.
        assert!(holds_secret(name, value), "{name}={value}");
    }
    for (name, value) in [
        ("DATABASE_URL", "postgres://app:s3cret@db:5432/app"),
        ("DATABASE_URL", "postgres://db:5432/app?password=s3cret"),
        ("REDIS_URL", "redis://:s3cret@cache:6379/0"),
        // A webhook URL is the credential itself.
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
        ("API_TOKEN", "abc"),
    ] {
        assert!(given_value_holds_secret(name, value), "{name}={value}");
    }
}

#[test]
fn secret_shapes_masked_in_a_line() {
    let line = format!("app --token ghp_{BODY} --region eu-west-1");
    assert_eq!(
        mask_secret_shapes(&line, "***").as_deref(),
        Some("app --token *** --region eu-west-1")
    );
    assert_eq!(mask_secret_shapes("app --port 8080", "***"), None);
}

/// Hosts and ports a case expects.
type Hosts<'a> = &'a [(&'a str, Option<u16>)];

#[test]
fn hosts_in_values() {
    let cases: &[(&str, Hosts)] = &[
        ("db", &[("db", None)]),
        ("db:5432", &[("db", Some(5432))]),
        ("redis://redis:6379/0", &[("redis", Some(6379))]),
        ("postgresql://app:s3cr3t@Postgres:5432/app?sslmode=disable", &[("postgres", Some(5432))]),
        ("postgres://user:p@ss@db/app", &[("db", None)]),
        ("http://api:8080/v1", &[("api", Some(8080))]),
        ("amqp://guest:guest@rabbitmq", &[("rabbitmq", None)]),
        ("kafka-1:9092,kafka-2:9092", &[("kafka-1", Some(9092)), ("kafka-2", Some(9092))]),
        ("http://[::1]:8080/", &[("::1", Some(8080))]),
        ("10.0.0.5:80", &[("10.0.0.5", Some(80))]),
        ("info", &[("info", None)]),
        ("", &[]),
        ("hello world", &[]),
        ("${DB_HOST}", &[]),
        ("db:notaport", &[]),
        ("/var/run/app.sock", &[]),
        ("-x", &[]),
    ];
    for (value, expected) in cases {
        let want: Vec<(String, Option<u16>)> =
            expected.iter().map(|(h, p)| (h.to_string(), *p)).collect();
        assert_eq!(hosts_in(value), want, "{value}");
    }
}

#[test]
fn name_words() {
    assert_eq!(words("dbPassword"), ["DB", "PASSWORD"]);
    assert_eq!(words("APIKey"), ["API", "KEY"]);
    assert_eq!(words("ConnectionStrings__Default"), ["CONNECTION", "STRINGS", "DEFAULT"]);
    assert_eq!(words("a.b-c_d"), ["A", "B", "C", "D"]);
}

#[test]
fn health_words_are_found_as_the_route_patterns_need_them() {
    for text in ["app.get('/healthz')", "@app.route('/ready')", "r.GET(\"/up\", h)", "up", "x\nup)"]
    {
        assert!(names_health_word(text), "{text}");
    }
    for text in ["setup()", "upload(x)", "cleanup_", "", "@app.route('/')"] {
        assert!(!names_health_word(text), "{text}");
    }
}
