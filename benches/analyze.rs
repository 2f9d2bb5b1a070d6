//! Benchmark of `nomad_spec::analyze::analyze` on a generated 50,000-file monorepo.
//!
//! Generates (in a temporary folder) a repository with 20 services under `services/`, each
//! with a Dockerfile, a dependency manifest and source files that read env vars, listen and
//! route a health check, plus tens of thousands of plain files (docs, assets, data) around
//! them, and a `compose.yaml` naming the first ten services. Then measures:
//! - wall time of `analyze` (one warm-up run, then `RUNS` runs; median and min reported);
//! - wall time of `generate` with no answers over the same repository (analysis, build and
//!   render of every job file, through `nomad_spec::cli::generate::generate_text`, the
//!   library entry of `generate --no-questions`), and the build and render alone;
//! - peak memory (VmHWM from `/proc/self/status`) of a child process that runs `analyze` once,
//!   so the figure is the analysis alone plus the process itself, not the generator.
//!
//! `-- --generate DIR` only writes the repository to DIR (for `bench/analyze.sh`, which times
//! the release binary under `/usr/bin/time -v`); `-- --path DIR` measures a repository written
//! that way instead of generating a new one.
//!
//! Run with `cargo bench --bench analyze` (see `bench/README.md`). Targets from issue 2:
//! under 1 s wall and under 100 MiB peak memory on a 2-core machine; from issue 12: generate
//! under 1 s as well.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nomad_spec::analyze::{analyze, descriptors, manifest, source, Note, Options};
use nomad_spec::cli::generate::generate_text;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::{build, render_files};
use nomad_spec::jobspec::config::Config;

/// Files in the generated repository.
const TOTAL_FILES: usize = 50_000;
/// Services in it.
const SERVICES: usize = 20;
/// Source files per service.
const SOURCES_PER_SERVICE: usize = 40;
/// Timed runs after the warm-up.
const RUNS: usize = 7;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let Some(root) = args.get(i + 1) else {
            eprintln!("--child needs a path");
            std::process::exit(2);
        };
        child(Path::new(root));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let Some(root) = args.get(i + 1) else {
            eprintln!("--generate needs a path");
            std::process::exit(2);
        };
        match generate(Path::new(root)) {
            Ok(written) => println!("generated {written} files at {root}"),
            Err(e) => {
                eprintln!("cannot generate the repository at {root}: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    // `-- --path DIR` reuses a repository written by `--generate`.
    let reuse = args.iter().position(|a| a == "--path").and_then(|i| args.get(i + 1));
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("cannot create a temporary folder: {e}");
            std::process::exit(1);
        }
    };
    let root = match reuse {
        Some(path) => PathBuf::from(path),
        None => {
            let root = dir.path().join("monorepo");
            let started = Instant::now();
            match generate(&root) {
                Ok(written) => {
                    println!("generated {written} files in {:.1?}", started.elapsed());
                }
                Err(e) => {
                    eprintln!("cannot generate the repository: {e}");
                    std::process::exit(1);
                }
            }
            root
        }
    };

    let options = Options::default();
    let warm = analyze(&root, &options);
    println!(
        "analysis: {} services, {} notes (first notes: {:?})",
        warm.services.len(),
        warm.notes.len(),
        warm.notes.iter().take(3).map(|n| n.message.as_str()).collect::<Vec<_>>()
    );
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let analysis = analyze(&root, &options);
            let elapsed = start.elapsed();
            std::hint::black_box(analysis);
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "wall time over {RUNS} runs: median {:.1?}, min {:.1?}, max {:.1?} (target < 1 s)",
        times[RUNS / 2],
        times[0],
        times[RUNS - 1]
    );

    generate_timing(&root, &warm);

    // The evidence readers alone, over a plain listing: manifests and source of every
    // service folder, descriptors of the whole tree. Shows their share whatever the walk does.
    let listing = list(&root);
    let dirs: Vec<String> = (0..SERVICES).map(|i| format!("services/svc-{i:02}")).collect();
    let mut parts = ReaderTimes::default();
    let mut reader_times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(read_evidence(&root, &listing, &dirs, &mut parts));
            start.elapsed()
        })
        .collect();
    reader_times.sort();
    let (env_vars, health_routes) =
        read_evidence(&root, &listing, &dirs, &mut ReaderTimes::default());
    println!(
        "evidence readers alone ({} files listed, {SERVICES} service folders): median {:.1?}, min {:.1?}; {env_vars} env vars, {health_routes} health routes",
        listing.len(),
        reader_times[RUNS / 2],
        reader_times[0]
    );
    let runs = RUNS as u32;
    println!(
        "  per run: manifests {:.1?}, source scan {:.1?}, descriptors {:.1?}",
        parts.manifests / runs,
        parts.source / runs,
        parts.descriptors / runs
    );

    match peak_memory_of_child(&root) {
        Ok(report) => println!("{report}"),
        Err(e) => println!("peak memory not measured: {e}"),
    }
}

/// `generate` with no answers over the repository, whole and without its analysis.
fn generate_timing(root: &Path, analysis: &nomad_spec::analyze::Analysis) {
    let (answers, config) = (Answers::default(), Config::default());
    let files = match generate_text(root, &answers, &config) {
        Ok((_, files)) => files,
        Err(err) => {
            eprintln!("generate failed on the generated repository: {err:#}");
            std::process::exit(1);
        }
    };
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(generate_text(root, &answers, &config).ok());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "generate, no answers, over {RUNS} runs: median {:.1?}, min {:.1?}, max {:.1?} (target < 1 s); {} job files, {bytes} bytes",
        times[RUNS / 2],
        times[0],
        times[RUNS - 1],
        files.len()
    );
    let mut alone: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let generated = build(analysis, &answers, &config, "monorepo");
            let rendered = generated.map(|g| render_files(&g, &config, "monorepo").ok());
            std::hint::black_box(rendered.ok());
            start.elapsed()
        })
        .collect();
    alone.sort();
    println!("  build and render alone: median {:.1?}, min {:.1?}", alone[RUNS / 2], alone[0]);
}

/// Every file below `root`: relative `/` path and size, sorted.
fn list(root: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let (Ok(meta), Ok(rel)) = (entry.metadata(), path.strip_prefix(root)) {
                files.push((rel.to_string_lossy().replace('\\', "/"), meta.len()));
            }
        }
    }
    files.sort();
    files
}

/// Time spent in each reader.
#[derive(Default)]
struct ReaderTimes {
    manifests: Duration,
    source: Duration,
    descriptors: Duration,
}

/// Runs the manifest, source and descriptor readers; returns env vars and health routes found.
fn read_evidence(
    root: &Path,
    listing: &[(String, u64)],
    dirs: &[String],
    times: &mut ReaderTimes,
) -> (usize, usize) {
    let mut notes = Vec::new();
    let mut read = |path: &str, _: &mut Vec<Note>| std::fs::read_to_string(root.join(path)).ok();
    let (mut env_vars, mut health_routes) = (0, 0);
    for dir in dirs {
        let prefix = format!("{dir}/");
        let below = || listing.iter().filter(|(p, _)| p.starts_with(&prefix));
        let start = Instant::now();
        let stack =
            manifest::detect_in(below().map(|(p, _)| p.as_str()), dir, &mut read, &mut notes);
        std::hint::black_box(stack);
        times.manifests += start.elapsed();
        let start = Instant::now();
        let facts =
            source::scan_in(below().map(|(p, s)| (p.as_str(), *s)), dir, &mut read, &mut notes);
        times.source += start.elapsed();
        env_vars += facts.env.len();
        health_routes += facts.health_paths.len();
    }
    let start = Instant::now();
    let paths: std::collections::BTreeSet<&str> = listing.iter().map(|(p, _)| p.as_str()).collect();
    let described = descriptors::scan_in(
        paths.iter().copied(),
        &|other| paths.contains(other),
        &mut read,
        &mut notes,
    );
    std::hint::black_box(described);
    times.descriptors += start.elapsed();
    (env_vars, health_routes)
}

/// Runs one analysis and prints the process's peak resident memory.
fn child(root: &Path) {
    let analysis = analyze(root, &Options::default());
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_string());
    println!(
        "peak memory (VmHWM) of one analysis in a fresh process: {peak} (target < 100 MiB); {} services",
        analysis.services.len()
    );
}

fn peak_memory_of_child(root: &Path) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe).arg("--child").arg(root).output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The kinds of service the generator writes, in turn.
#[derive(Clone, Copy)]
enum Kind {
    Node,
    Python,
    Go,
    Java,
    Rust,
}

const KINDS: [Kind; 5] = [Kind::Node, Kind::Python, Kind::Go, Kind::Java, Kind::Rust];

fn write(path: &Path, text: &str, count: &mut usize) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    *count += 1;
    Ok(())
}

/// Writes the repository; returns the number of files written.
fn generate(root: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    write(&root.join("README.md"), "# generated monorepo\n", &mut count)?;
    write(&root.join(".gitignore"), "/tmp/\n*.log\n", &mut count)?;
    let mut compose = String::from("services:\n");
    for index in 0..SERVICES {
        let name = format!("svc-{index:02}");
        let dir = root.join("services").join(&name);
        let kind = KINDS[index % KINDS.len()];
        let port = 8000 + index as u16;
        service(&dir, kind, port, &mut count)?;
        if index < SERVICES / 2 {
            compose.push_str(&format!(
                "  {name}:\n    build: ./services/{name}\n    ports:\n      - \"{port}:{port}\"\n    environment:\n      LOG_LEVEL: info\n      DB_HOST: postgres\n    depends_on:\n      - postgres\n"
            ));
        }
    }
    compose.push_str("  postgres:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\nvolumes:\n  pg:\n");
    write(&root.join("compose.yaml"), &compose, &mut count)?;
    let filler = TOTAL_FILES.saturating_sub(count);
    plain_files(root, filler, &mut count)?;
    Ok(count)
}

fn service(dir: &Path, kind: Kind, port: u16, count: &mut usize) -> std::io::Result<()> {
    let (base, manifest_name, manifest, extension) = match kind {
        Kind::Node => (
            "node:20-alpine",
            "package.json",
            "{\n  \"name\": \"svc\",\n  \"scripts\": { \"start\": \"node src/file-0.js\" },\n  \"dependencies\": { \"express\": \"^4.19.0\", \"pg\": \"^8.11.0\" }\n}\n".to_string(),
            "js",
        ),
        Kind::Python => (
            "python:3.12-slim",
            "requirements.txt",
            "flask==3.0.3\ngunicorn==22.0.0\npsycopg2-binary==2.9.9\nredis==5.0.7\n".to_string(),
            "py",
        ),
        Kind::Go => (
            "golang:1.22",
            "go.mod",
            "module example.com/svc\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1\n\tgithub.com/jackc/pgx/v5 v5.5.0\n)\n".to_string(),
            "go",
        ),
        Kind::Java => (
            "eclipse-temurin:21-jre",
            "pom.xml",
            "<project>\n  <parent>\n    <groupId>org.springframework.boot</groupId>\n    <artifactId>spring-boot-starter-parent</artifactId>\n  </parent>\n  <dependencies>\n    <dependency>\n      <groupId>org.springframework.boot</groupId>\n      <artifactId>spring-boot-starter-actuator</artifactId>\n    </dependency>\n  </dependencies>\n</project>\n".to_string(),
            "java",
        ),
        Kind::Rust => (
            "rust:1.80",
            "Cargo.toml",
            "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[dependencies]\naxum = \"0.7\"\nredis = \"0.25\"\n".to_string(),
            "rs",
        ),
    };
    let dockerfile = format!(
        "FROM {base}\nWORKDIR /app\nARG VERSION=dev\nENV PORT={port} LOG_LEVEL=info\nCOPY . .\nEXPOSE {port}\nHEALTHCHECK CMD wget -qO- http://localhost:{port}/healthz || exit 1\nCMD [\"/app/run\"]\n"
    );
    write(&dir.join("Dockerfile"), &dockerfile, count)?;
    write(&dir.join(manifest_name), &manifest, count)?;
    write(&dir.join("README.md"), "# a service\n", count)?;
    for file in 0..SOURCES_PER_SERVICE {
        let text = source_text(kind, port, file);
        write(&dir.join("src").join(format!("file-{file}.{extension}")), &text, count)?;
    }
    Ok(())
}

/// A source file of a few kilobytes that reads env vars, and in file 0 listens and routes.
fn source_text(kind: Kind, port: u16, file: usize) -> String {
    let mut text = String::new();
    for line in 0..80 {
        let name = format!("SETTING_{file}_{line}");
        let statement = match kind {
            Kind::Node => format!("const v{line} = process.env.{name} || 'x{line}';\n"),
            Kind::Python => format!("v{line} = os.getenv(\"{name}\", \"x{line}\")\n"),
            Kind::Go => format!("\tv{line} := os.Getenv(\"{name}\")\n"),
            Kind::Java => format!("    String v{line} = System.getenv(\"{name}\");\n"),
            Kind::Rust => {
                format!("    let v{line} = std::env::var(\"{name}\").unwrap_or(\"x\".into());\n")
            }
        };
        text.push_str(&statement);
        text.push_str("// computing things that have nothing to do with configuration at all\n");
    }
    if file == 0 {
        let listen = match kind {
            Kind::Node => format!("app.get('/healthz', h);\napp.listen({port});\n"),
            Kind::Python => {
                format!("@app.route(\"/healthz\")\ndef h(): pass\napp.run(port={port})\n")
            }
            Kind::Go => format!("r.GET(\"/healthz\", h)\nhttp.ListenAndServe(\":{port}\", r)\n"),
            Kind::Java => "@GetMapping(\"/healthz\")\n".to_string(),
            Kind::Rust => {
                format!(".route(\"/healthz\", get(h))\nTcpListener::bind(\"0.0.0.0:{port}\")\n")
            }
        };
        text.push_str(&listen);
    }
    text
}

/// Docs, assets and data files spread over folders of 500.
fn plain_files(root: &Path, total: usize, count: &mut usize) -> std::io::Result<()> {
    let areas: [(&str, &str, &str); 4] = [
        ("docs", "md", "# Notes\n\nSome prose about the system, repeated to a realistic size.\n"),
        (
            "assets/img",
            "svg",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\" height=\"1\"/></svg>\n",
        ),
        ("data/fixtures", "json", "{\"id\": 1, \"name\": \"sample\", \"tags\": [\"a\", \"b\"]}\n"),
        ("web/public", "txt", "plain text content\n"),
    ];
    for index in 0..total {
        let (area, extension, text) = areas[index % areas.len()];
        let folder: PathBuf = root.join(area).join(format!("part-{:03}", index / 500));
        write(&folder.join(format!("file-{index}.{extension}")), text, count)?;
    }
    Ok(())
}
