//! The Terraform template mode checked by Terraform itself: `templatefile` over a generated
//! job gives back exactly the plain job file, escapes included.
//!
//! Needs the `terraform` binary (it runs `terraform console` offline, no provider); without it
//! the test says so on stderr and checks nothing else.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use nomad_spec::analyze::Analysis;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::build::render_files;
use nomad_spec::jobspec::config::Config;

fn generate(config: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate/app-database.json");
    let analysis: Analysis = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = Config::from_toml(config, ".nomad-spec.toml").unwrap();
    let mut answers = Answers::default();
    for line in [
        "env.web.LITERAL=${x} %{y} $${z} %%{w} $$${v} end$",
        "env.web.ADDR=http://${NOMAD_IP_http}:${NOMAD_PORT_http}/${attr.unique.hostname}",
        "env.web.NEWLINES=a\nEOT\n%{ if true }b%{ endif }",
        "env.web.NOT_A_VARIABLE=${datacenter}",
    ] {
        answers.set(line).unwrap();
    }
    let generated = build(&analysis, &answers, &config, "shop").unwrap();
    let files = render_files(&generated, &config, "shop").unwrap();
    // The header's checksum covers the text as written, so compare the job text below it.
    files[0].text.split_once("\n\n").unwrap().1.to_string()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte).expect("base64") as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn templatefile_gives_back_the_plain_job() {
    let Ok(version) = Command::new("terraform").arg("version").output() else {
        eprintln!("terraform is not installed: the templatefile round trip was not checked");
        return;
    };
    assert!(version.status.success());
    let template = generate("[terraform]\ndatacenters_variable = \"datacenter\"\n");
    let plain = generate("datacenters = [\"dc1\"]\n");
    assert_ne!(template, plain);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.tpl"), &template).unwrap();
    let mut console = Command::new("terraform")
        .arg("console")
        .current_dir(dir.path())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let expression = "base64encode(templatefile(\"job.tpl\", { datacenter = \"dc1\" }))\n";
    console.stdin.take().unwrap().write_all(expression.as_bytes()).unwrap();
    let output = console.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|line| line.starts_with('"')).unwrap_or_else(|| {
        panic!(
            "no value from terraform console:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let rendered = String::from_utf8(base64_decode(line.trim_matches('"'))).unwrap();
    assert_eq!(rendered, plain);
}
