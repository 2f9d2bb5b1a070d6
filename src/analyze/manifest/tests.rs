//! Tests of the manifest parsers and of what their dependencies mean.

use std::path::PathBuf;

use super::*;

/// Parses and concludes one manifest given its path and text.
fn stack_of(path: &str, text: &str) -> (Option<Stack>, Vec<Note>) {
    let mut notes = Vec::new();
    let name = path.rsplit('/').next().unwrap_or(path);
    let parser = parser_for(name).unwrap_or_else(|| panic!("{path} is not a manifest"));
    let stack = parser(text, path, &mut notes).map(|m| conclude(&m));
    (stack, notes)
}

fn must(path: &str, text: &str) -> Stack {
    let (stack, notes) = stack_of(path, text);
    assert!(notes.is_empty(), "{path}: {notes:?}");
    stack.unwrap_or_else(|| panic!("{path} gave no stack"))
}

/// Evidence `(line, what)` pairs whose text contains `needle`.
fn evidence_with(stack: &Stack, needle: &str) -> Vec<(Option<u32>, String)> {
    stack
        .evidence
        .iter()
        .filter(|e| e.what.contains(needle))
        .map(|e| (e.line, e.what.clone()))
        .collect()
}

/// Short summary: language, framework, port, health, grpc, backing.
fn summary(stack: &Stack) -> String {
    format!(
        "{:?} {:?} {:?} {:?} grpc={} backing={:?}",
        stack.language,
        stack.framework,
        stack.default_port,
        stack.health_path,
        stack.grpc,
        stack.backing
    )
}

#[test]
fn package_json() {
    let text = r#"{
  "name": "api",
  "scripts": { "start": "node server.js", "test": "jest" },
  "engines": { "node": ">=20" },
  "dependencies": {
    "express": "^4.19.0",
    "pg": "^8.11.0",
    "ioredis": "^5.3.0",
    "@grpc/grpc-js": "^1.10.0"
  },
  "devDependencies": { "mysql2": "^3.0.0", "vite": "^5.0.0" }
}"#;
    let stack = must("api/package.json", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Node) Some("express") Some(3000) None grpc=true backing=["postgres", "redis"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("node >=20"));
    assert_eq!(stack.start_command.as_deref(), Some("node server.js"));
    assert_eq!(evidence_with(&stack, "framework express")[0].0, Some(6));
    assert_eq!(evidence_with(&stack, "talks to postgres")[0].0, Some(7));
    assert_eq!(evidence_with(&stack, "runtime")[0].0, Some(4));
}

#[test]
fn package_json_frameworks_and_start_ports() {
    let cases = [
        (
            r#"{"dependencies":{"next":"14","react":"18"},"scripts":{"start":"next start -p 3001"}}"#,
            "next",
            Some(3001),
        ),
        (r#"{"dependencies":{"@nestjs/core":"10","express":"4"}}"#, "nest", Some(3000)),
        (
            r#"{"dependencies":{"fastify":"4"},"scripts":{"start":"PORT=4000 node index.js"}}"#,
            "fastify",
            Some(4000),
        ),
        (r#"{"dependencies":{"koa":"2"}}"#, "koa", None),
        (
            r#"{"dependencies":{"react":"18"},"devDependencies":{"react-scripts":"5"}}"#,
            "react",
            Some(3000),
        ),
        (r#"{"dependencies":{"@angular/core":"17"}}"#, "angular", Some(4200)),
    ];
    for (text, framework, port) in cases {
        let stack = must("package.json", text);
        assert_eq!(
            (stack.framework.as_deref(), stack.default_port),
            (Some(framework), port),
            "{text}"
        );
    }
    let plain = must("package.json", r#"{"name":"x"}"#);
    assert_eq!(summary(&plain), "Some(Node) None None None grpc=false backing=[]");
}

#[test]
fn malformed_json_is_a_note_with_line() {
    let cases = [
        ("package.json", "{\n  \"dependencies\": {\n    \"express\": \"4\",\n  }\n}\n", Some(4)),
        ("package.json", "[1, 2]", None),
        ("composer.json", "{\"require\": ", Some(1)),
        ("package.json", "", Some(1)),
    ];
    for (path, text, line) in cases {
        let (stack, notes) = stack_of(path, text);
        assert!(stack.is_none(), "{text}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!((notes[0].file.as_deref(), notes[0].line), (Some(path), line), "{notes:?}");
    }
}

#[test]
fn requirements_txt() {
    let text = "# web\nFlask==3.0.2  # pinned\ngunicorn>=21\npsycopg2-binary\ncelery[redis]==5.3\n\
                -r base.txt\n--index-url https://pypi.example/simple\n\
                -e git+https://github.com/acme/lib.git#egg=acme-lib\n\
                Django ; python_version < \"3\"\n<<<<<<< HEAD\n";
    let (stack, notes) = stack_of("requirements.txt", text);
    let stack = stack.expect("a stack");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].line, Some(10));
    assert!(notes[0].message.contains("not a requirement"), "{notes:?}");
    // Django is listed too, and wins the table order over flask: a project listing both is
    // a Django project.
    assert_eq!(
        summary(&stack),
        r#"Some(Python) Some("django") Some(8000) None grpc=false backing=["postgres", "redis"]"#
    );
    let flask = must("requirements.txt", "flask\ngunicorn\n");
    assert_eq!(flask.default_port, Some(8000), "gunicorn decides the port");
    assert_eq!(evidence_with(&flask, "port 8000")[0].0, Some(2));
    let plain_flask = must("requirements-prod.txt", "Flask>=2\nredis\n");
    assert_eq!(
        summary(&plain_flask),
        r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=["redis"]"#
    );
    let ml = must("requirements.txt", "fastapi\ntorch==2.3\n");
    assert_eq!(ml.ml.as_deref(), Some("torch"));
}

#[test]
fn pyproject_pep621_and_poetry() {
    let pep621 = "[project]\nname = \"svc\"\nrequires-python = \">=3.11\"\ndependencies = [\n  \"fastapi>=0.110\",\n  \"asyncpg\",\n  \"grpcio==1.62\",\n]\n";
    let stack = must("pyproject.toml", pep621);
    assert_eq!(
        summary(&stack),
        r#"Some(Python) Some("fastapi") Some(8000) None grpc=true backing=["postgres"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("python >=3.11"));
    assert_eq!(evidence_with(&stack, "framework fastapi")[0].0, Some(5));
    let poetry = "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.12\"\nDjango = \"^5.0\"\npsycopg2 = { version = \"^2.9\" }\ncelery = { version = \"5\", extras = [\"redis\"] }\n";
    let stack = must("pyproject.toml", poetry);
    assert_eq!(
        summary(&stack),
        r#"Some(Python) Some("django") Some(8000) None grpc=false backing=["postgres", "redis"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("python ^3.12"));
    assert_eq!(evidence_with(&stack, "framework django")[0].0, Some(6));
}

#[test]
fn malformed_toml_is_a_note_with_line() {
    for path in ["pyproject.toml", "Pipfile", "Cargo.toml"] {
        let (stack, notes) = stack_of(path, "[package]\nname = \"x\"\nversion = \n");
        assert!(stack.is_none());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].line, Some(3), "{path}: {notes:?}");
        assert!(notes[0].message.starts_with("not valid TOML"), "{notes:?}");
    }
}

#[test]
fn pipfile() {
    let text = "[[source]]\nurl = \"https://pypi.org/simple\"\n\n[packages]\nflask = \"*\"\npymongo = \"*\"\n\n[dev-packages]\npytest = \"*\"\n\n[requires]\npython_version = \"3.12\"\n";
    let stack = must("Pipfile", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=["mongo"]"#
    );
    assert_eq!(evidence_with(&stack, "framework flask")[0].0, Some(5));
    assert_eq!(stack.runtime.as_deref(), Some("python 3.12"));
}

#[test]
fn go_mod() {
    let text = "module github.com/acme/api\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1\n\tgithub.com/jackc/pgx/v5 v5.5.0\n\tgoogle.golang.org/grpc v1.62.0\n\tgithub.com/redis/go-redis/v9 v9.5.0 // indirect\n)\n\nrequire github.com/IBM/sarama v1.43.0\n";
    let stack = must("go.mod", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Go) Some("gin") Some(8080) None grpc=true backing=["postgres", "kafka"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("go 1.22"));
    assert_eq!(evidence_with(&stack, "gRPC")[0].0, Some(8));
    assert_eq!(evidence_with(&stack, "kafka")[0].0, Some(12));

    let (stack, notes) = stack_of("go.mod", "module x\n\nrequire (\n\tgithub.com/lib/pq v1\n");
    assert_eq!(stack.map(|s| s.backing), Some(vec!["postgres".to_string()]));
    assert_eq!((notes.len(), notes[0].line), (1, Some(3)), "{notes:?}");
    let (_, notes) = stack_of("go.mod", "module x\nthis is not go.mod\n");
    assert_eq!(notes[0].line, Some(2), "{notes:?}");
}

#[test]
fn cargo_toml() {
    let text = "[package]\nname = \"svc\"\nrust-version = \"1.80\"\n\n[dependencies]\naxum = \"0.7\"\nsqlx = { version = \"0.8\", features = [\"runtime-tokio\", \"postgres\"] }\ntonic = \"0.12\"\nredis_client = { package = \"redis\", version = \"0.25\" }\n\n[dev-dependencies]\nmongodb = \"2\"\n";
    let stack = must("Cargo.toml", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Rust) Some("axum") Some(3000) None grpc=true backing=["postgres", "redis"]"#
    );
    assert_eq!(evidence_with(&stack, "framework axum")[0].0, Some(6));
    let table_style =
        must("Cargo.toml", "[package]\nname = \"t\"\n\n[dependencies.rocket]\nversion = \"0.5\"\n");
    assert_eq!(table_style.framework.as_deref(), Some("rocket"));
    assert_eq!(evidence_with(&table_style, "framework rocket")[0].0, Some(4));
    let grpc_only =
        must("Cargo.toml", "[package]\nname = \"g\"\n[dependencies]\ntonic = \"0.12\"\n");
    assert_eq!(
        (grpc_only.framework.as_deref(), grpc_only.default_port),
        (Some("tonic"), Some(50051))
    );
    let workspace = must("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n");
    assert_eq!(summary(&workspace), "Some(Rust) None None None grpc=false backing=[]");
}

const POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.2.4</version>
  </parent>
  <groupId>com.acme</groupId>
  <artifactId>orders</artifactId>
  <properties>
    <java.version>21</java.version>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.grpc</groupId>
        <artifactId>grpc-netty-shaded</artifactId>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-actuator</artifactId>
    </dependency>
    <!--
    <dependency>
      <groupId>com.mysql</groupId>
      <artifactId>mysql-connector-j</artifactId>
    </dependency>
    -->
    <dependency>
      <groupId>org.postgresql</groupId>
      <artifactId>postgresql</artifactId>
      <scope>runtime</scope>
    </dependency>
  </dependencies>
</project>
"#;

#[test]
fn pom_xml() {
    let stack = must("orders/pom.xml", POM);
    assert_eq!(
        summary(&stack),
        r#"Some(Java) Some("spring-boot") Some(8080) Some("/actuator/health") grpc=false backing=["postgres"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("java 21"));
    assert_eq!(evidence_with(&stack, "framework spring-boot")[0].0, Some(5));
    assert_eq!(evidence_with(&stack, "health /actuator/health")[0].0, Some(28));
    assert_eq!(evidence_with(&stack, "talks to postgres")[0].0, Some(38));

    let no_actuator = POM.replace("spring-boot-starter-actuator", "spring-boot-starter-validation");
    assert_eq!(must("pom.xml", &no_actuator).health_path, None, "no actuator, no health path");
}

#[test]
fn malformed_xml_is_a_note() {
    let cases = [
        ("pom.xml", "<project>\n<!-- never closed\n<dependencies>", Some(2), true),
        ("pom.xml", "not xml at all", None, true),
        ("pom.xml", "<project><dependencies><dependency><groupId>a</groupId><artifactId>b</artifactId></dependencies></project>", None, false),
        ("api.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n<!-- x\n", Some(2), true),
        ("api.csproj", "{}", None, true),
    ];
    for (path, text, line, skipped) in cases {
        let (stack, notes) = stack_of(path, text);
        assert_eq!(stack.is_none(), skipped, "{text}");
        assert_eq!(notes.len(), 1, "{text}: {notes:?}");
        assert_eq!(notes[0].line, line, "{notes:?}");
    }
}

#[test]
fn gradle() {
    let kts = "plugins {\n    id(\"org.springframework.boot\") version \"3.2.0\"\n    kotlin(\"jvm\")\n}\n\ndependencies {\n    implementation(\"org.springframework.boot:spring-boot-starter-data-redis\")\n    runtimeOnly(\"org.postgresql:postgresql\")\n    testImplementation(\"io.grpc:grpc-netty:1.62.0\")\n}\n";
    let stack = must("build.gradle.kts", kts);
    assert_eq!(
        summary(&stack),
        r#"Some(Java) Some("spring-boot") Some(8080) None grpc=false backing=["postgres", "redis"]"#
    );
    assert_eq!(evidence_with(&stack, "framework spring-boot")[0].0, Some(7));
    let groovy = "apply plugin: 'java'\ndependencies {\n    compile 'com.sparkjava:spark-core:2.9.4'\n    implementation 'io.grpc:grpc-netty-shaded:1.62.0'\n}\n";
    let stack = must("build.gradle", groovy);
    assert_eq!(
        summary(&stack),
        r#"Some(Java) Some("sparkjava") Some(4567) None grpc=true backing=[]"#
    );
}

#[test]
fn csproj() {
    let text = "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n  <PropertyGroup>\n    <TargetFramework>net8.0</TargetFramework>\n  </PropertyGroup>\n  <ItemGroup>\n    <PackageReference Include=\"Grpc.AspNetCore\" Version=\"2.60.0\" />\n    <PackageReference Include=\"Npgsql.EntityFrameworkCore.PostgreSQL\" Version=\"8.0.0\" />\n  </ItemGroup>\n</Project>\n";
    let stack = must("src/Api/Api.csproj", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Dotnet) Some("aspnet") Some(8080) None grpc=true backing=["postgres"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("dotnet net8.0"));
    assert_eq!(evidence_with(&stack, "gRPC")[0].0, Some(6));
    let worker = must("w.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Worker\"></Project>");
    assert_eq!((worker.framework.as_deref(), worker.default_port), (Some("worker"), None));
}

#[test]
fn composer_json() {
    let text = "{\n  \"require\": {\n    \"php\": \"^8.2\",\n    \"laravel/framework\": \"^11.0\",\n    \"ext-pdo_pgsql\": \"*\",\n    \"predis/predis\": \"^2.0\"\n  }\n}\n";
    let stack = must("composer.json", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Php) Some("laravel") None Some("/up") grpc=false backing=["postgres", "redis"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("php ^8.2"));
}

#[test]
fn gemfile() {
    let text = "source \"https://rubygems.org\"\nruby \"3.3.0\"\n\ngem \"rails\", \"~> 7.1\"\ngem 'pg', '~> 1.5'\ngem \"puma\"\n\ngroup :development, :test do\n  gem \"mysql2\"\nend\n\ngroup :production do\n  gem \"sidekiq\"\nend\n";
    let stack = must("Gemfile", text);
    assert_eq!(
        summary(&stack),
        r#"Some(Ruby) Some("rails") Some(3000) Some("/up") grpc=false backing=["postgres", "redis"]"#
    );
    assert_eq!(stack.runtime.as_deref(), Some("ruby 3.3.0"));
    assert_eq!(evidence_with(&stack, "framework rails")[0].0, Some(4));
    let (stack, notes) = stack_of("Gemfile", "gem 'sinatra'\ngroup :test do\n  gem 'rspec'\n");
    assert_eq!(stack.and_then(|s| s.default_port), Some(4567));
    assert_eq!(notes.len(), 1, "{notes:?}");
}

#[test]
fn merge_prefers_a_server_framework() {
    let frontend = must("package.json", r#"{"devDependencies":{"vite":"5"}}"#);
    let django = must("requirements.txt", "django\nredis\n");
    let merged = merge(vec![frontend.clone(), django]);
    assert_eq!(merged.framework.as_deref(), Some("django"));
    assert!(merged.evidence.iter().any(|e| e.file == "package.json"));

    let node_tooling = must("package.json", r#"{"name":"tooling"}"#);
    let go = must("go.mod", "module x\nrequire github.com/lib/pq v1\n");
    let merged = merge(vec![node_tooling, go]);
    assert_eq!(merged.language, Some(Language::Go));

    let alone = merge(vec![frontend]);
    assert_eq!(alone.framework.as_deref(), Some("vite"));
    assert_eq!(merge(Vec::new()), Stack::default());
}

#[test]
fn manifests_of_a_folder() {
    let cases = [
        (".", "package.json", true),
        (".", "api/package.json", false),
        ("api", "api/package.json", true),
        ("api", "api/requirements/base.txt", true),
        ("api", "api/requirements/deep/x.txt", false),
        ("api", "api/src/Api.csproj", false),
        ("api", "api/Api.csproj", true),
        ("api", "apis/package.json", false),
        ("api", "api/README.md", false),
        ("", "go.mod", true),
    ];
    for (dir, path, found) in cases {
        assert_eq!(manifest_in(dir, path).is_some(), found, "{dir} {path}");
    }
}

#[test]
fn ports_in_start_commands() {
    let cases = [
        ("next start -p 3001", Some(3001)),
        ("PORT=4000 node index.js", Some(4000)),
        ("gunicorn app:app --bind 0.0.0.0:8000", Some(8000)),
        ("gunicorn -b :5000 app:app", Some(5000)),
        ("uvicorn main:app --port=8001", Some(8001)),
        ("node server.js", None),
        ("node --max-old-space-size=4096 server.js", None),
    ];
    for (command, port) in cases {
        assert_eq!(port_in_command(command), port, "{command}");
    }
}

// Where the shared corpus is, as every test target of the workspace finds it.
#[path = "../../../tests/common/corpus.rs"]
mod corpus_location;

/// The shared corpus (real projects) for the test running now; `None`, said on stderr, when
/// there is none. The one lookup of the analyzer's unit tests.
pub(crate) fn corpus() -> Option<PathBuf> {
    corpus_location::for_test()
}

/// A create-react-app front end: the dev server's port.
const REACT: &str = r#"Some(Node) Some("react") Some(3000) None grpc=false backing=[]"#;

#[test]
fn corpus_manifests() {
    let Some(corpus) = corpus() else { return };
    let cases = [
        (
            "flask/app/requirements.txt",
            r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=[]"#,
        ),
        (
            "nginx-flask-mysql/backend/requirements.txt",
            r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=["mysql"]"#,
        ),
        (
            "nginx-flask-mongo/flask/requirements.txt",
            r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=["mongo"]"#,
        ),
        (
            "flask-redis/requirements.txt",
            r#"Some(Python) Some("flask") Some(5000) None grpc=false backing=["redis"]"#,
        ),
        (
            "nginx-golang-mysql/backend/go.mod",
            r#"Some(Go) Some("gorilla") None None grpc=false backing=["mysql"]"#,
        ),
        ("nginx-golang/backend/go.mod", r#"Some(Go) Some("chi") None None grpc=false backing=[]"#),
        (
            "react-rust-postgres/backend/Cargo.toml",
            r#"Some(Rust) Some("actix") Some(8080) None grpc=false backing=["postgres"]"#,
        ),
        (
            "wasmedge-mysql-nginx/backend/Cargo.toml",
            r#"Some(Rust) None None None grpc=false backing=["mysql"]"#,
        ),
        (
            "nginx-aspnet-mysql/backend/aspnetapp.csproj",
            r#"Some(Dotnet) Some("aspnet") Some(8080) None grpc=false backing=["mysql"]"#,
        ),
        (
            "sparkjava-mysql/backend/pom.xml",
            r#"Some(Java) Some("sparkjava") Some(4567) None grpc=false backing=["mysql"]"#,
        ),
        (
            "nginx-nodejs-redis/web/package.json",
            r#"Some(Node) Some("express") Some(3000) None grpc=false backing=["redis"]"#,
        ),
        (
            "angular/angular/package.json",
            r#"Some(Node) Some("angular") Some(4200) None grpc=false backing=[]"#,
        ),
        (
            "react-express-mysql/backend/package.json",
            r#"Some(Node) Some("express") Some(3000) None grpc=false backing=["mysql"]"#,
        ),
        ("react-express-mysql/frontend/package.json", REACT),
        ("react-rust-postgres/frontend/package.json", REACT),
        ("react-nginx/package.json", REACT),
    ];
    for (path, expected) in cases {
        let file = corpus.join("compose-apps").join(path);
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let stack = must(path, &text);
        assert_eq!(summary(&stack), expected, "{path}");
    }
}

#[test]
fn a_manifest_is_read_for_at_most_its_cap_of_dependencies() {
    let deps: Vec<String> = (0..3_000).map(|i| format!("\"p{i:04}\": \"1\"")).collect();
    let text = format!("{{\n  \"dependencies\": {{\n    {}\n  }}\n}}\n", deps.join(",\n    "));
    let mut notes = Vec::new();
    let manifest = parse_package_json(&text, "package.json", &mut notes).expect("a manifest");
    assert_eq!(manifest.dependencies.len(), 2_000);
    assert_eq!(manifest.dependencies[0].name, "p0000");
    let messages: Vec<(Option<u32>, &str)> =
        notes.iter().map(|n| (n.line, n.message.as_str())).collect();
    assert_eq!(
        messages,
        [(
            Some(2),
            "`dependencies` lists 3000 packages; only the first 2000 are read (a manifest is \
             read for at most 2000)"
        )]
    );

    let deps: String = (0..3_000).map(|i| format!("d{i:04} = \"1\"\n")).collect();
    let text = format!("[package]\nname = \"x\"\n\n[dependencies]\n{deps}");
    let mut notes = Vec::new();
    let manifest = parse_cargo_toml(&text, "Cargo.toml", &mut notes).expect("a manifest");
    assert_eq!(manifest.dependencies.len(), 2_000);
    assert_eq!(manifest.dependencies[1_999].line, Some(2_004));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].line, Some(4));
}
