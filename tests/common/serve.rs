//! `nomad-spec serve` as a child process, as the story test and the benchmark drive it: started
//! on a port the system picks, fed GitHub deliveries signed as GitHub signs them, read through
//! its `/metrics`, stopped by a signal.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The webhook secret the servers are started with.
pub const SECRET: &str = "webhook-secret-for-tests";

/// A running `nomad-spec serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Server {
    /// Starts the real binary with only `vars` in its environment (and `PATH`, `HOME`, `TMPDIR`).
    pub fn start(vars: &BTreeMap<String, String>, extra: &[&str], home: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            // A replica a test kills mid-run cannot remove its clone: keep it in the test's
            // folder, removed with it, not in the machine's temporary folder.
            .env("TMPDIR", home)
            .env("RUST_LOG", "nomad_spec=info")
            .envs(vars)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let address = first
            .strip_prefix("nomad-spec serve: listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {first:?}"))
            .to_string();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server { child, address, log }
    }

    /// A GitHub delivery with the signature given (or none).
    pub fn post(
        &self,
        name: &str,
        delivery: &str,
        body: &str,
        signature: Option<String>,
    ) -> Answer {
        let mut headers = vec![
            ("X-GitHub-Event".to_string(), name.to_string()),
            ("X-GitHub-Delivery".to_string(), delivery.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        if let Some(signature) = signature {
            headers.push(("X-Hub-Signature-256".to_string(), signature));
        }
        request(&self.address, "POST", "/webhooks/github", &headers, body)
    }

    /// A delivery signed with the webhook's secret.
    pub fn deliver(&self, (name, body): &(String, String), delivery: &str) -> Answer {
        self.post(name, delivery, body, Some(sign(SECRET, body)))
    }

    pub fn get(&self, path: &str) -> Answer {
        request(&self.address, "GET", path, &[], "")
    }

    /// The sum of the `/metrics` samples whose name starts with `name`.
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.get("/metrics").body;
        text.lines()
            .filter(|line| line.starts_with(name) && !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum()
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (`-TERM`, `-KILL`) to the server.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Answer { status, body }
}

/// GitHub's `X-Hub-Signature-256` of `body`.
pub fn sign(secret: &str, body: &str) -> String {
    nomad_spec::serve::webhook::github_signature(secret, body.as_bytes())
}

/// `event` as GitHub would deliver it now: the fake dates its objects in 2024, and the server
/// refuses events older than an hour.
pub fn fresh((name, payload): &(String, String)) -> (String, String) {
    let mut value: serde_json::Value = serde_json::from_str(payload).unwrap();
    let seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            as i64;
    let now = chrono::DateTime::from_timestamp(seconds, 0).unwrap().to_rfc3339();
    for field in ["comment", "pull_request"] {
        if value.get(field).is_some() {
            value[field]["updated_at"] = serde_json::json!(now);
        }
    }
    (name.clone(), value.to_string())
}
