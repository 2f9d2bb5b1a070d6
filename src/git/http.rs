//! Git's smart HTTP protocol under libgit2, spoken by reqwest over rustls: the transport of
//! every clone, fetch and push to an `http://` or `https://` remote.
//!
//! libgit2 runs the git protocol (what to ask for, the pack, the push report) and hands this
//! module its requests: a GET of `info/refs?service=...` for the advertisement, then a POST of
//! what it wrote to `git-upload-pack` or `git-receive-pack`. libgit2 is built without its own
//! HTTPS, which would link OpenSSL into the binary: loading libssl and libcrypto cost every
//! run, `analyze` of a local folder included, more than a millisecond before `main`.
//!
//! The credentials of a network operation are given for its duration on its thread
//! ([`with_credentials`]; libgit2 calls the transport on the thread that fetches or pushes) and
//! go as HTTP basic auth on each of its requests; so does the remote's private CA bundle, when
//! it has one (a self-managed GitLab's `CI_SERVER_TLS_CA_FILE`), trusted beside the public
//! roots by the client of that operation. A server that answers 401 to them is reported
//! back, so the caller can say the token was refused without showing it; no message
//! from here holds the credentials or the URL's user part. Redirects are followed (without the
//! credentials to another host) and later requests go where the advertisement was found.
//! Proxies are the environment's (`https_proxy`, `http_proxy`, `no_proxy`), as for every other
//! client here; git's own `http.proxy` setting is not read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};

use super::GitRemote;
use crate::settings::Secret;

/// How long a server may stay silent before the operation fails (a clone of a large
/// repository may take minutes in all, but never that long without a byte).
const READ_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many pieces of a response wait for libgit2 to read them.
const PIECES_IN_FLIGHT: usize = 16;

/// Makes this module libgit2's transport for `http://` and `https://`; once per process, before
/// the first network operation (every one in `git` calls it first).
pub(super) fn register() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        for scheme in ["http", "https"] {
            // SAFETY: libgit2 keeps registered transports in a global list that transport
            // lookups read without a lock. The `Once` makes this the only registration, and
            // every lookup of the process happens in a network operation of `git`, which calls
            // `register` first and so starts after the `Once` completed.
            let registered = unsafe {
                git2::transport::register(scheme, |remote| {
                    Transport::smart(remote, true, SmartHttp::default())
                })
            };
            if let Err(err) = registered {
                tracing::warn!("cannot register the {scheme} transport for git: {err}");
            }
        }
    });
}

/// Basic-auth credentials of the operation running on this thread, whether the server
/// refused them, and the client that trusts the remote's private CA when it has one (or why
/// the bundle cannot be used).
struct Credentials {
    username: String,
    token: Secret,
    refused: bool,
    private_ca: Option<Result<reqwest::Client, String>>,
}

thread_local! {
    static CREDENTIALS: RefCell<Option<Credentials>> = const { RefCell::new(None) };
}

/// Runs `operation` (one fetch or push) with `remote`'s user name and token as the credentials
/// of every HTTP request it makes on this thread, through a client that trusts `remote`'s CA
/// bundle if it names one; also says whether the server refused the credentials.
pub(super) fn with_credentials<T>(remote: &GitRemote, operation: impl FnOnce() -> T) -> (T, bool) {
    let private_ca = remote.ca_file.as_deref().map(private_ca_client);
    let given = Credentials {
        username: remote.username.clone(),
        token: remote.token.clone(),
        refused: false,
        private_ca,
    };
    let earlier = CREDENTIALS.with(|slot| slot.replace(Some(given)));
    let result = operation();
    let ours = CREDENTIALS.with(|slot| slot.replace(earlier));
    (result, ours.is_some_and(|credentials| credentials.refused))
}

/// The client that trusts the CA bundle at `file` beside the public roots: built on the first
/// operation that names it (reading the bundle and the system's roots), then shared by every
/// later one of the process (a bundle replaced on disk is read again by the next process); a
/// bundle that cannot be used is tried again next time.
fn private_ca_client(file: &std::path::Path) -> Result<reqwest::Client, String> {
    static CLIENTS: Mutex<BTreeMap<PathBuf, reqwest::Client>> = Mutex::new(BTreeMap::new());
    if let Some(client) = CLIENTS.lock().ok().and_then(|clients| clients.get(file).cloned()) {
        return Ok(client);
    }
    crate::tls::install_crypto_provider();
    let client =
        build(crate::http::trust_ca_bundle(client_builder(), file, "the CA bundle for git")?)?;
    if let Ok(mut clients) = CLIENTS.lock() {
        clients.insert(file.to_path_buf(), client.clone());
    }
    Ok(client)
}

/// `request` with the basic auth of the operation on this thread (a header marked sensitive,
/// so that no log of the HTTP stack shows it), and whether there was any.
fn authorized(request: reqwest::RequestBuilder) -> (reqwest::RequestBuilder, bool) {
    CREDENTIALS.with(|slot| match slot.borrow().as_ref() {
        Some(c) => (request.basic_auth(&c.username, Some(c.token.as_str())), true),
        None => (request, false),
    })
}

/// The client of the operation on this thread: the worker's, or the one that trusts the
/// remote's private CA.
fn client_of_operation(worker: &Worker) -> io::Result<reqwest::Client> {
    CREDENTIALS.with(|slot| match slot.borrow().as_ref().and_then(|c| c.private_ca.as_ref()) {
        None => Ok(worker.client.clone()),
        Some(Ok(client)) => Ok(client.clone()),
        Some(Err(why)) => Err(io::Error::other(why.clone())),
    })
}

fn mark_refused() {
    CREDENTIALS.with(|slot| {
        if let Some(credentials) = slot.borrow_mut().as_mut() {
            credentials.refused = true;
        }
    });
}

/// One connection to a remote as libgit2 sees it: where its requests go.
#[derive(Default)]
struct SmartHttp {
    /// The repository's URL as the advertisement was found at after a redirect; `None` until
    /// one (the remote's own URL). Shared with the advertisement's exchange, which learns it.
    redirected: Arc<Mutex<Option<String>>>,
}

impl SmartSubtransport for SmartHttp {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let base = self
            .redirected
            .lock()
            .ok()
            .and_then(|redirected| redirected.clone())
            .unwrap_or_else(|| url.trim_end_matches('/').to_string());
        let (service, advertisement) = match action {
            Service::UploadPackLs => ("git-upload-pack", true),
            Service::UploadPack => ("git-upload-pack", false),
            Service::ReceivePackLs => ("git-receive-pack", true),
            Service::ReceivePack => ("git-receive-pack", false),
        };
        let exchange = Exchange {
            base,
            service,
            advertisement,
            request: Vec::new(),
            response: None,
            redirected: Arc::clone(&self.redirected),
        };
        Ok(Box::new(exchange))
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// One request and its response: libgit2 writes the request's body, then reads the answer.
struct Exchange {
    base: String,
    service: &'static str,
    /// The GET of `info/refs` (else the POST of the service).
    advertisement: bool,
    request: Vec<u8>,
    response: Option<Incoming>,
    /// The connection's note of the repository's URL after a redirect (the advertisement
    /// writes it).
    redirected: Arc<Mutex<Option<String>>>,
}

impl Exchange {
    fn url(&self) -> String {
        if self.advertisement {
            format!("{}/info/refs?service={}", self.base, self.service)
        } else {
            format!("{}/{}", self.base, self.service)
        }
    }

    /// Sends the request and waits for the status and headers.
    fn send(&mut self) -> io::Result<Incoming> {
        let worker = worker().map_err(|err| io::Error::other(err.clone()))?;
        let url = self.url();
        let shown = crate::http::shown_address(&url);
        let client = client_of_operation(worker)?;
        let request = if self.advertisement {
            client.get(&url).header("Accept", "*/*")
        } else {
            client
                .post(&url)
                .header("Content-Type", format!("application/x-{}-request", self.service))
                .header("Accept", format!("application/x-{}-result", self.service))
                .body(std::mem::take(&mut self.request))
        };
        let (request, with_credentials) = authorized(request);
        let request = request.build().map_err(|err| {
            io::Error::other(format!("cannot build the request to {shown}: {err}"))
        })?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(PIECES_IN_FLIGHT);
        worker
            .jobs
            .send(Job { client, request, pieces: sender })
            .map_err(|_| io::Error::other("the HTTP worker of the git transport stopped"))?;
        let head = match receiver.recv() {
            Ok(Piece::Head(head)) => head,
            Ok(Piece::Failed(reason)) => {
                return Err(io::Error::other(format!("cannot reach {shown}: {reason}")))
            }
            Ok(Piece::Data(_)) | Err(_) => {
                return Err(io::Error::other(format!("no answer from {shown}")))
            }
        };
        let mut incoming =
            Incoming { pieces: receiver, piece: Vec::new(), at: 0, ended: false, shown };
        if head.status != 200 {
            return Err(refusal(head.status, with_credentials, &mut incoming));
        }
        self.check_git_answer(&head, &incoming.shown)?;
        Ok(incoming)
    }

    /// Whether a 200 is git's answer (a dumb server or a login page is not); notes where a
    /// redirect moved the repository.
    fn check_git_answer(&self, head: &Head, shown: &str) -> io::Result<()> {
        let expected = if self.advertisement {
            format!("application/x-{}-advertisement", self.service)
        } else {
            format!("application/x-{}-result", self.service)
        };
        let content_type = head.content_type.as_deref().unwrap_or("none");
        if content_type.split(';').next().map(str::trim) != Some(expected.as_str()) {
            return Err(io::Error::other(format!(
                "{shown}: the server does not speak git's smart HTTP protocol (content type \
                 {content_type}, expected {expected})"
            )));
        }
        if let (true, Some(final_url)) = (self.advertisement, &head.final_url) {
            let suffix = format!("/info/refs?service={}", self.service);
            if let Some(base) = final_url.strip_suffix(&suffix) {
                if base != self.base {
                    if let Ok(mut slot) = self.redirected.lock() {
                        *slot = Some(base.to_string());
                    }
                }
            }
        }
        Ok(())
    }
}

/// The error of an answer that is not a 200, with the first line the server wrote (GitHub:
/// `Permission to acme/shop.git denied to bot.`); a 401 to credentials marks them refused.
fn refusal(status: u16, with_credentials: bool, body: &mut Incoming) -> io::Error {
    let shown = body.shown.clone();
    let mut text = Vec::new();
    let _ = body.take(1024).read_to_end(&mut text);
    let said = String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| format!(": {}", line.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    let what = match status {
        401 if with_credentials => {
            mark_refused();
            "the server refused the credentials"
        }
        401 => "the server asks for credentials",
        403 => "the server forbids it",
        404 => "no repository there",
        _ => "unexpected answer",
    };
    io::Error::other(format!("{shown}: {what} (HTTP {status}){said}"))
}

impl Write for Exchange {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.response.is_some() {
            return Err(io::Error::other("git wrote to a request already sent"));
        }
        self.request.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Exchange {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.response.is_none() {
            self.response = Some(self.send()?);
        }
        match self.response.as_mut() {
            Some(response) => response.read(buffer),
            None => Ok(0),
        }
    }
}

/// A response's body as it arrives.
struct Incoming {
    pieces: Receiver<Piece>,
    piece: Vec<u8>,
    at: usize,
    ended: bool,
    shown: String,
}

impl Read for Incoming {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.at == self.piece.len() && !self.ended {
            match self.pieces.recv() {
                Ok(Piece::Data(data)) => {
                    self.piece = data;
                    self.at = 0;
                }
                Ok(Piece::Failed(reason)) => {
                    return Err(io::Error::other(format!(
                        "the answer of {} broke off: {reason}",
                        self.shown
                    )))
                }
                Ok(Piece::Head(_)) | Err(_) => self.ended = true,
            }
        }
        let available = &self.piece[self.at..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.at += count;
        Ok(count)
    }
}

/// What the worker sends back of a response: its head, then its body in pieces; the channel
/// closes at the end.
enum Piece {
    Head(Head),
    Data(Vec<u8>),
    Failed(String),
}

struct Head {
    status: u16,
    content_type: Option<String>,
    /// The URL the answer came from, when a redirect moved it.
    final_url: Option<String>,
}

struct Job {
    client: reqwest::Client,
    request: reqwest::Request,
    pieces: SyncSender<Piece>,
}

/// The thread that makes the HTTP requests: libgit2 calls the transport synchronously, often
/// from inside the bot's async runtime, where blocking on a future is not allowed; the worker
/// has its own runtime and the caller waits on a plain channel.
struct Worker {
    client: reqwest::Client,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

fn worker() -> Result<&'static Worker, &'static String> {
    static WORKER: OnceLock<Result<Worker, String>> = OnceLock::new();
    WORKER.get_or_init(start_worker).as_ref()
}

fn start_worker() -> Result<Worker, String> {
    crate::tls::install_crypto_provider();
    let client = build(client_builder())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the HTTP worker for git: {err}"))?;
    let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
    std::thread::Builder::new()
        .name("git-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                while let Some(job) = queue.recv().await {
                    tokio::spawn(exchange(job));
                }
            })
        })
        .map_err(|err| format!("cannot start the HTTP worker for git: {err}"))?;
    Ok(Worker { client, jobs })
}

/// How every client of the transport is set up: its time bounds and how it names itself.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("git/2.0 (nomad-spec/", env!("CARGO_PKG_VERSION"), ")"))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    builder.build().map_err(|err| format!("cannot build the HTTP client for git: {err}"))
}

/// Makes one request and passes its answer on, piece by piece, as fast as libgit2 reads.
async fn exchange(job: Job) {
    let Job { client, request, pieces } = job;
    let requested = request.url().clone();
    let mut response = match client.execute(request).await {
        Ok(response) => response,
        Err(err) => {
            // The caller names the URL, without a user part it may hold.
            let _ = pieces.send(Piece::Failed(crate::http::error_chain(&err.without_url())));
            return;
        }
    };
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let final_url = (response.url() != &requested).then(|| response.url().to_string());
    let head = Head { status: response.status().as_u16(), content_type, final_url };
    if !send_blocking(&pieces, Piece::Head(head)).await {
        return;
    }
    loop {
        let piece = match response.chunk().await {
            Ok(Some(bytes)) => Piece::Data(bytes.to_vec()),
            Ok(None) => return,
            Err(err) => Piece::Failed(crate::http::error_chain(&err.without_url())),
        };
        let failed = matches!(piece, Piece::Failed(_));
        if !send_blocking(&pieces, piece).await || failed {
            return;
        }
    }
}

/// Hands `piece` to the reader; when it has `PIECES_IN_FLIGHT` unread, waits on the blocking
/// pool (not on the runtime, which serves the other exchanges). `false` when the reader is gone.
async fn send_blocking(pieces: &SyncSender<Piece>, piece: Piece) -> bool {
    match pieces.try_send(piece) {
        Ok(()) => true,
        Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(piece)) => {
            let pieces = pieces.clone();
            tokio::task::spawn_blocking(move || pieces.send(piece).is_ok()).await.unwrap_or(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_credentials() -> bool {
        crate::tls::install_crypto_provider();
        authorized(reqwest::Client::new().get("http://127.0.0.1:9/")).1
    }

    fn remote(ca_file: Option<std::path::PathBuf>) -> GitRemote {
        GitRemote {
            url: "https://gitlab.example.com/acme/shop.git".into(),
            username: "oauth2".into(),
            token: "glpat-SomethingSecret1".into(),
            push_options: Vec::new(),
            ca_file,
        }
    }

    #[test]
    fn credentials_hold_for_one_operation_on_its_thread_and_a_refusal_is_reported() {
        let remote = remote(None);
        let (elsewhere, refused) = with_credentials(&remote, || {
            assert!(has_credentials());
            let elsewhere = std::thread::spawn(has_credentials).join().unwrap_or(true);
            mark_refused();
            elsewhere
        });
        assert!(!elsewhere, "another thread's requests got the operation's credentials");
        assert!(refused);
        assert!(!has_credentials(), "the credentials outlived the operation");

        let ((), refused) = with_credentials(&remote, || ());
        assert!(!refused);
    }

    #[test]
    fn a_ca_bundle_that_cannot_be_read_fails_the_operation_saying_which_file() {
        let missing = std::env::temp_dir().join("nomad-spec-no-such-ca.pem");
        let (err, _) = with_credentials(&remote(Some(missing.clone())), || {
            let worker = worker().expect("the transport's worker starts");
            client_of_operation(worker).expect_err("a bundle that is not there").to_string()
        });
        assert!(err.contains("the CA bundle for git"), "{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");
        let ((), _) = with_credentials(&remote(None), || {
            let worker = worker().expect("the transport's worker starts");
            assert!(client_of_operation(worker).is_ok());
        });
    }
}
