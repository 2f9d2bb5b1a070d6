//! The bot's git workspace (`nomad_spec::git::Workspace`) against bare repositories served
//! over real smart HTTP (`git http-backend`, via `fakes::git_http`) behind HTTP basic auth:
//! clone of a branch and of a pull request's ref, commit, push, a lost race, a protected
//! branch, a wrong token, push options, who last touched a file, and a forge behind a private
//! CA (HTTPS ended in front of it with the test CA of `fixtures/tls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use fakes::git_http;
use fakes::server::LoopbackServer;
use nomad_spec::git::GitRemote;
use nomad_spec::git::{Identity, PushOutcome, Workspace};

const TOKEN: &str = "ghs_s3cretT0kenForTheBot";
const USER: &str = "x-access-token";

/// A forge holding `acme/shop.git` (branch `main`, one commit by Ada), serving it over HTTP
/// to whoever gives `TOKEN` as the password.
struct Forge {
    root: tempfile::TempDir,
    server: LoopbackServer,
}

struct Auth {
    root: PathBuf,
    token: String,
}

async fn git_over_http(State(auth): State<Arc<Auth>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The repository's name before a rename: forges redirect it, to the same host.
    if let Some(rest) = parts.uri.path().strip_prefix("/acme/old-shop.git") {
        let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let location = format!("/acme/shop.git{rest}{query}");
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response();
    }
    let user = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            let (user, password) = pair.split_once(':')?;
            (password == auth.token).then(|| user.to_string())
        });
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"fake forge\"")],
            "authentication required\n",
        )
            .into_response();
    };
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    git_http::serve(
        &auth.root,
        parts.uri.path(),
        &parts.method,
        parts.uri.query(),
        &parts.headers,
        body,
        &user,
    )
    .await
}

impl Forge {
    fn new() -> Forge {
        let root = tempfile::tempdir().unwrap();
        let forge_root = root.path().to_path_buf();
        git_http::init_bare(&forge_root.join("acme/shop.git"), "main").unwrap();
        let auth = Arc::new(Auth { root: forge_root, token: TOKEN.to_string() });
        let app = axum::Router::new().fallback(git_over_http).with_state(auth);
        let server = LoopbackServer::start("127.0.0.1:0", app, "git forge").unwrap();
        let forge = Forge { root, server };
        forge.commit("main", &[("Dockerfile", "FROM nginx\n")], "initial", "Ada");
        forge
    }

    fn bare(&self) -> PathBuf {
        self.root.path().join("acme/shop.git")
    }

    fn url(&self) -> String {
        format!("{}/acme/shop.git", self.server.url())
    }

    fn remote(&self) -> GitRemote {
        GitRemote {
            url: self.url(),
            username: USER.to_string(),
            token: TOKEN.into(),
            push_options: vec![],
            ca_file: None,
        }
    }

    /// Someone else commits `files` on `branch`, straight into the bare repository.
    fn commit(&self, branch: &str, files: &[(&str, &str)], message: &str, author: &str) -> String {
        let work = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = work.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        git_http::commit_tree(&self.bare(), branch, work.path(), message, author).unwrap()
    }

    fn head(&self, branch: &str) -> String {
        git_http::head_of(&self.bare(), branch).unwrap()
    }
}

fn bot() -> Identity {
    Identity { name: "nomad-spec[bot]".to_string(), email: "bot@nomad-spec.example".to_string() }
}

/// Runs git in the bare repository `bare` (for refs the fakes have no helper for).
fn git(bare: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git").args(args).current_dir(bare).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn clone_a_branch_commit_and_push() {
    let forge = Forge::new();
    let initial = forge.head("main");
    let mut workspace = Workspace::clone(&forge.remote(), "refs/heads/main").unwrap();
    assert_eq!(workspace.head().unwrap(), initial);
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("Dockerfile")).unwrap(),
        "FROM nginx\n"
    );

    let unchanged = workspace.commit_file("Dockerfile", "FROM nginx\n", "same", &bot()).unwrap();
    assert_eq!(unchanged, None);
    assert_eq!(workspace.head().unwrap(), initial);

    let job = "job \"shop\" {}\n";
    let message = "Add the Nomad job for shop\n\nOne group: the Dockerfile exposes no port.";
    let commit =
        workspace.commit_file("deploy/shop.nomad.hcl", job, message, &bot()).unwrap().unwrap();
    assert_eq!(workspace.head().unwrap(), commit);
    let again = workspace.commit_file("deploy/shop.nomad.hcl", job, "again", &bot()).unwrap();
    assert_eq!(again, None, "the same content twice is one commit");

    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit: commit.clone() });
    assert_eq!(forge.head("main"), commit);
    assert_eq!(git_http::read_file(&forge.bare(), "main", "deploy/shop.nomad.hcl").unwrap(), job);
    assert_eq!(
        git_http::log_subjects(&forge.bare(), "main").unwrap(),
        ["Add the Nomad job for shop", "initial"]
    );
    let author = git(&forge.bare(), &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "main"]);
    assert_eq!(
        author,
        format!("nomad-spec[bot] <bot@nomad-spec.example>|nomad-spec[bot] <bot@nomad-spec.example>|{message}")
    );
}

#[test]
fn clone_a_pull_request_ref_and_push_a_new_branch() {
    let forge = Forge::new();
    git(&forge.bare(), &["branch", "topic", "main"]);
    let pr_head =
        forge.commit("topic", &[("src/app.py", "print('hi')\n")], "the author's change", "Bob");
    git(&forge.bare(), &["update-ref", "refs/pull/7/head", &pr_head]);
    git(&forge.bare(), &["branch", "-D", "topic"]);

    let mut workspace = Workspace::clone(&forge.remote(), "refs/pull/7/head").unwrap();
    assert_eq!(workspace.head().unwrap(), pr_head);
    assert!(workspace.path().join("src/app.py").is_file());

    let commit =
        workspace.commit_file("shop.nomad.hcl", "job \"shop\" {}\n", "Add job", &bot()).unwrap();
    let commit = commit.unwrap();
    let outcome = workspace.push("nomad-spec/fix-shop").unwrap();
    assert_eq!(outcome, PushOutcome::Pushed { commit: commit.clone() });
    assert_eq!(forge.head("nomad-spec/fix-shop"), commit);
    assert_eq!(
        git_http::log_subjects(&forge.bare(), "nomad-spec/fix-shop").unwrap(),
        ["Add job", "the author's change", "initial"]
    );
    assert_eq!(forge.head("main"), git(&forge.bare(), &["rev-parse", &format!("{pr_head}~1")]));
}

#[test]
fn a_ref_the_remote_does_not_have_is_a_clear_error() {
    let forge = Forge::new();
    let err = Workspace::clone(&forge.remote(), "refs/pull/99/head").err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("refs/pull/99/head") && text.contains(&forge.url()), "{text}");

    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let err = workspace.sync_to("gone").unwrap_err();
    assert!(format!("{err:#}").contains("has no branch gone"), "{err:#}");
    for bad in ["", "a..b", "refs/heads/x", "with space"] {
        let err = workspace.push(bad).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid branch name"), "{bad}: {err:#}");
    }
}

#[test]
fn a_racing_push_is_not_overwritten_then_sync_and_retry_succeeds() {
    let forge = Forge::new();
    let mut workspace = Workspace::clone(&forge.remote(), "refs/heads/main").unwrap();
    workspace.commit_file("shop.nomad.hcl", "job \"shop\" {}\n", "Add job", &bot()).unwrap();

    let theirs = forge.commit("main", &[("README.md", "# shop\n")], "their push", "Carol");
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::NonFastForward);
    assert_eq!(forge.head("main"), theirs, "their commit is still the branch's head");

    assert_eq!(workspace.sync_to("main").unwrap(), theirs);
    assert_eq!(workspace.head().unwrap(), theirs);
    assert!(workspace.path().join("README.md").is_file());
    assert!(!workspace.path().join("shop.nomad.hcl").exists(), "the reset dropped our commit");

    let ours = workspace
        .commit_file("shop.nomad.hcl", "job \"shop\" {}\n", "Add job", &bot())
        .unwrap()
        .unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit: ours.clone() });
    assert_eq!(forge.head("main"), ours);
    assert_eq!(
        git_http::log_subjects(&forge.bare(), "main").unwrap(),
        ["Add job", "their push", "initial"]
    );
    git(&forge.bare(), &["merge-base", "--is-ancestor", &theirs, &ours]);
}

#[test]
fn a_protected_branch_is_rejected_with_the_remotes_words() {
    let forge = Forge::new();
    let initial = forge.head("main");
    let gh006 = "GH006: Protected branch update failed for refs/heads/main.";
    git_http::protect_branch(&forge.bare(), "main", gh006).unwrap();
    let mut workspace = Workspace::clone(&forge.remote(), "refs/heads/main").unwrap();
    let commit = workspace
        .commit_file("shop.nomad.hcl", "job \"shop\" {}\n", "Add job", &bot())
        .unwrap()
        .unwrap();

    match workspace.push("main").unwrap() {
        PushOutcome::Rejected { message, protected } => {
            assert!(protected, "{message}");
            assert!(message.contains(gh006), "{message}");
            assert!(message.contains("pre-receive hook declined"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(forge.head("main"), initial);

    let outcome = workspace.push("nomad-spec/fix-main").unwrap();
    assert_eq!(outcome, PushOutcome::Pushed { commit: commit.clone() });
    assert_eq!(forge.head("nomad-spec/fix-main"), commit);
}

#[test]
fn an_update_hook_refusing_for_another_reason_is_not_called_protection() {
    let forge = Forge::new();
    let hook = forge.bare().join("hooks/update");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, "#!/bin/sh\necho 'error: commit messages need a ticket' >&2\nexit 1\n")
        .unwrap();
    make_executable(&hook);
    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    workspace.commit_file("a.txt", "a\n", "no ticket", &bot()).unwrap().unwrap();
    match workspace.push("main").unwrap() {
        PushOutcome::Rejected { message, protected } => {
            assert!(!protected, "{message}");
            assert!(message.contains("commit messages need a ticket"), "{message}");
            assert!(message.contains("hook declined"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_wrong_token_is_a_clear_error_without_the_token() {
    let forge = Forge::new();
    let wrong = "glpat-WrongTokenValue123";
    let remote = GitRemote { token: wrong.into(), ..forge.remote() };
    let err = Workspace::clone(&remote, "refs/heads/main").err().unwrap();
    let text = format!("{err:#} {err:?}");
    assert!(text.contains("authentication failed for"), "{text}");
    assert!(text.contains(&forge.url()), "{text}");
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
}

#[test]
fn push_options_reach_the_server() {
    let forge = Forge::new();
    let record = forge.root.path().join("push-options.txt");
    let hook = forge.bare().join("hooks/pre-receive");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\ncat >/dev/null\necho \"$GIT_PUSH_OPTION_COUNT $GIT_PUSH_OPTION_0 $GIT_PUSH_OPTION_1\" > '{}'\nexit 0\n",
        record.display()
    );
    std::fs::write(&hook, script).unwrap();
    make_executable(&hook);

    let remote = GitRemote {
        push_options: vec!["ci.skip".to_string(), "merge_request.create".to_string()],
        ..forge.remote()
    };
    let mut workspace = Workspace::clone(&remote, "refs/heads/main").unwrap();
    let commit = workspace.commit_file("a.txt", "a\n", "a", &bot()).unwrap().unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit });
    assert_eq!(std::fs::read_to_string(&record).unwrap().trim(), "2 ci.skip merge_request.create");
}

#[test]
fn paths_outside_the_checkout_are_refused() {
    let forge = Forge::new();
    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let head = workspace.head().unwrap();
    for (path, says) in [
        ("../escape.hcl", "`..` is not allowed"),
        ("deploy/../../escape.hcl", "`..` is not allowed"),
        ("/tmp/escape.hcl", "is absolute"),
        (".git/hooks/post-commit", ".git folder"),
        ("", "names no file"),
    ] {
        let err = workspace.commit_file(path, "x", "m", &bot()).unwrap_err();
        assert!(format!("{err:#}").contains(says), "{path}: {err:#}");
    }
    assert!(!workspace.path().parent().unwrap().join("escape.hcl").exists());

    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), workspace.path().join("deploy")).unwrap();
    let err = workspace.commit_file("deploy/job.hcl", "x", "m", &bot()).unwrap_err();
    assert!(format!("{err:#}").contains("deploy is a symbolic link"), "{err:#}");
    assert!(!outside.path().join("job.hcl").exists());
    assert_eq!(workspace.head().unwrap(), head);
}

#[test]
fn the_last_commit_touching_a_file() {
    let forge = Forge::new();
    let first = forge.head("main");
    let readme = forge.commit("main", &[("README.md", "# shop\n")], "docs: readme", "Grace");
    forge.commit("main", &[("src/app.py", "print()\n")], "code", "Linus");
    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();

    let dockerfile = workspace.last_commit_touching("Dockerfile").unwrap().unwrap();
    assert_eq!(dockerfile.sha, first);
    assert_eq!(dockerfile.author_name, "Ada");
    assert_eq!(dockerfile.author_email, "Ada@users.noreply.example");
    assert_eq!(dockerfile.subject, "initial");
    let touched = workspace.last_commit_touching("README.md").unwrap().unwrap();
    assert_eq!((touched.sha.as_str(), touched.author_name.as_str()), (readme.as_str(), "Grace"));
    assert_eq!(workspace.last_commit_touching("deploy/shop.nomad.hcl").unwrap(), None);

    let ours = workspace
        .commit_file("deploy/shop.nomad.hcl", "job {}\n", "Add job\n\nwhy", &bot())
        .unwrap()
        .unwrap();
    let touched = workspace.last_commit_touching("deploy/shop.nomad.hcl").unwrap().unwrap();
    assert_eq!(touched.sha, ours);
    assert_eq!(touched.author_name, "nomad-spec[bot]");
    assert_eq!(touched.subject, "Add job");
    let dockerfile_again = workspace.last_commit_touching("./Dockerfile").unwrap().unwrap();
    assert_eq!(dockerfile_again.sha, first);
}

#[test]
fn a_merge_names_the_side_branchs_commit() {
    let forge = Forge::new();
    git(&forge.bare(), &["branch", "side", "main"]);
    let side = forge.commit("side", &[("Dockerfile", "FROM caddy\n")], "switch to caddy", "Bob");
    forge.commit("main", &[("README.md", "# shop\n")], "docs", "Grace");
    let work = tempfile::tempdir().unwrap();
    let url = forge.bare().display().to_string();
    git(work.path(), &["clone", "--quiet", &url, "w"]);
    let w = work.path().join("w");
    git(&w, &["fetch", "--quiet", "origin", "side"]);
    git(
        &w,
        &[
            "-c",
            "user.name=Mia",
            "-c",
            "user.email=mia@x",
            "merge",
            "--no-ff",
            "-m",
            "merge side",
            "FETCH_HEAD",
        ],
    );
    git(&w, &["push", "--quiet", "origin", "HEAD:main"]);

    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let touched = workspace.last_commit_touching("Dockerfile").unwrap().unwrap();
    assert_eq!((touched.sha.as_str(), touched.author_name.as_str()), (side.as_str(), "Bob"));
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_push_that_loses_the_race_on_the_server_is_a_non_fast_forward() {
    let forge = Forge::new();
    // Someone's commit lands while our push is in flight: a pre-receive hook moves `main`
    // after the remote advertised it and before it updates it.
    git(&forge.bare(), &["branch", "theirs", "main"]);
    let theirs = forge.commit("theirs", &[("README.md", "# shop\n")], "their push", "Carol");
    let hook = forge.bare().join("hooks/pre-receive");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\ncat >/dev/null\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {theirs}\nexit 0\n"
    );
    std::fs::write(&hook, script).unwrap();
    make_executable(&hook);

    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    workspace.commit_file("shop.nomad.hcl", "job {}\n", "Add job", &bot()).unwrap().unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::NonFastForward);
    assert_eq!(forge.head("main"), theirs);
}

#[test]
fn the_files_changed_since_a_commit() {
    let forge = Forge::new();
    let first = forge.head("main");
    forge.commit("main", &[("deploy/shop.nomad.hcl", "job \"shop\" {}\n")], "job", "Grace");
    forge.commit("main", &[("README.md", "# shop\n")], "docs", "Linus");
    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    assert_eq!(workspace.changed_files(&first).unwrap(), ["README.md", "deploy/shop.nomad.hcl"]);
    let head = workspace.head().unwrap();
    assert!(workspace.changed_files(&head).unwrap().is_empty());
    // GitLab's "before" of a new branch is all zeros: everything is new.
    let everything = workspace.changed_files(&"0".repeat(40)).unwrap();
    assert!(everything.contains(&"Dockerfile".to_string()), "{everything:?}");
}

#[test]
fn a_clone_holds_the_last_commit_and_fetches_history_only_to_answer() {
    let forge = Forge::new();
    let first = forge.head("main");
    // Twenty commits by Grace, each changing the README, in one `git fast-import`.
    let mut stream = String::new();
    for n in 0..20 {
        let (text, message) = (format!("# shop, take {n}\n"), format!("docs {n}"));
        let from = if n == 0 { format!("from {first}\n") } else { String::new() };
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Grace <grace@example.invalid> {} +0000\n\
             data {}\n{message}\n{from}M 100644 inline README.md\ndata {}\n{text}\n",
            1_700_000_000 + n,
            message.len(),
            text.len()
        ));
    }
    let mut import = std::process::Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(forge.bare())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), stream.as_bytes()).unwrap();
    assert!(import.wait().unwrap().success(), "git fast-import");
    let shallow = |workspace: &Workspace| {
        std::fs::read_to_string(workspace.path().join(".git/shallow")).unwrap_or_default()
    };
    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    assert_eq!(shallow(&workspace).trim(), forge.head("main"), "only the last commit");
    // Twenty commits back: the clone deepens until it can tell, and the answer is the full
    // history's.
    let dockerfile = workspace.last_commit_touching("Dockerfile").unwrap().unwrap();
    assert_eq!((dockerfile.sha.as_str(), dockerfile.author_name.as_str()), (first.as_str(), "Ada"));
    assert_eq!(shallow(&workspace), "", "the whole history is here now");
    assert_eq!(workspace.last_commit_touching("deploy/shop.nomad.hcl").unwrap(), None);

    // A push's "before" beyond the last commit is fetched, never taken for a missing commit
    // (which would make every file of the head look changed).
    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    assert_eq!(workspace.changed_files(&first).unwrap(), ["README.md"]);
    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let unknown = workspace.changed_files(&"1".repeat(40)).unwrap();
    assert_eq!(unknown, ["Dockerfile", "README.md"], "not in the history at all: every file");

    // The file the head itself changed: one deepening (to see the parent) is enough.
    let workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let readme = workspace.last_commit_touching("README.md").unwrap().unwrap();
    assert_eq!(readme.subject, "docs 19");
    assert!(!shallow(&workspace).is_empty(), "not the whole history for that");
}

/// A server that answers every request with `status`, `content_type` and `body`.
fn server_answering(
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
) -> LoopbackServer {
    let app = axum::Router::new().fallback(move || async move {
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    });
    LoopbackServer::start("127.0.0.1:0", app, "odd server").unwrap()
}

fn remote_at(server: &LoopbackServer) -> GitRemote {
    GitRemote {
        url: format!("{}/acme/shop.git", server.url()),
        username: USER.to_string(),
        token: TOKEN.into(),
        push_options: vec![],
        ca_file: None,
    }
}

#[test]
fn what_a_server_that_is_not_a_git_server_answered_is_said() {
    // A login page served with 200 (a proxy, an SSO portal): not git, whatever the status.
    let portal = server_answering(StatusCode::OK, "text/html", "<html>Sign in</html>");
    let err = Workspace::clone(&remote_at(&portal), "main").err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("does not speak git's smart HTTP protocol"), "{text}");
    assert!(text.contains("text/html"), "{text}");

    // A forge's refusal keeps its words (GitHub: a token without access to the repository).
    let forbidding = server_answering(
        StatusCode::FORBIDDEN,
        "text/plain",
        "Permission to acme/shop.git denied to nomad-spec[bot].\n",
    );
    let err = Workspace::clone(&remote_at(&forbidding), "main").err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("HTTP 403"), "{text}");
    assert!(text.contains("Permission to acme/shop.git denied"), "{text}");
    assert!(!text.contains("authentication failed"), "a 403 is no refused token: {text}");

    let missing = server_answering(StatusCode::NOT_FOUND, "text/plain", "Not Found");
    let err = Workspace::clone(&remote_at(&missing), "main").err().unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("no repository there (HTTP 404)"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[test]
fn a_repository_that_moved_is_followed_for_the_whole_exchange() {
    // /acme/old-shop.git redirects every request to /acme/shop.git, as a forge does for a
    // renamed repository; the push's POST goes where the advertisement was found.
    let forge = Forge::new();
    let remote =
        GitRemote { url: format!("{}/acme/old-shop.git", forge.server.url()), ..forge.remote() };

    let mut workspace = Workspace::clone(&remote, "main").unwrap();
    let commit = workspace.commit_file("moved.txt", "here\n", "after the move", &bot()).unwrap();
    let commit = commit.unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit: commit.clone() });
    assert_eq!(forge.head("main"), commit);
}

#[test]
fn analyze_reads_a_repository_given_by_its_http_url() {
    // A public repository: the forge serves reads to anyone.
    let forge = Forge::new();
    let root = forge.root.path().to_path_buf();
    let app = axum::Router::new().fallback(move |request: Request| {
        let root = root.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let (path, query) = (parts.uri.path(), parts.uri.query());
            git_http::serve(&root, path, &parts.method, query, &parts.headers, body, "anonymous")
                .await
        }
    });
    let public = LoopbackServer::start("127.0.0.1:0", app, "public forge").unwrap();
    let analyze = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .args(["analyze", "--format", "json", "--path", url])
            .env("NOMAD_SPEC_MEMORY", "off")
            .output()
            .unwrap()
    };

    let output = analyze(&format!("{}/acme/shop.git", public.url()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("\"base_image\": \"nginx\""), "{stdout}");

    // The same repository behind credentials the command line has not got.
    let output = analyze(&forge.url());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("the server asks for credentials (HTTP 401)"), "{stderr}");
}

/// An HTTPS front for a plain-HTTP server on loopback, as a self-managed forge behind a load
/// balancer: each connection's TLS ends here, with the certificate the test CA
/// (`fixtures/tls`) signed for 127.0.0.1, and its bytes go to and from `backend` as they come.
struct TlsFront {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl TlsFront {
    fn start(backend: std::net::SocketAddr) -> TlsFront {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        nomad_spec::tls::install_crypto_provider();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
        let chain = CertificateDer::pem_file_iter(fixtures.join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixtures.join("server.key")).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let config = Arc::clone(&config);
                        std::thread::spawn(move || relay(client, backend, config));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
                }
            }
        });
        TlsFront { port, stop }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Passes one connection's bytes between the TLS client and the plain backend until either
/// side closes or fails (a refused handshake ends it too).
fn relay(
    mut client: std::net::TcpStream,
    backend: std::net::SocketAddr,
    config: Arc<rustls::ServerConfig>,
) {
    use std::io::{ErrorKind, Read, Write};
    let Ok(mut plain) = std::net::TcpStream::connect(backend) else { return };
    let Ok(mut tls) = rustls::ServerConnection::new(config) else { return };
    let wait = Some(std::time::Duration::from_millis(1));
    if client.set_nonblocking(false).is_err()
        || client.set_read_timeout(wait).is_err()
        || plain.set_read_timeout(wait).is_err()
    {
        return;
    }
    let idle =
        |err: &std::io::Error| matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    // A TLS record's worth: what rustls takes in one write while its send buffer is empty.
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match tls.read_tls(&mut client) {
            Ok(0) => return,
            Ok(_) => {
                if tls.process_new_packets().is_err() {
                    let _ = tls.write_tls(&mut client);
                    return;
                }
            }
            Err(err) if idle(&err) => {}
            Err(_) => return,
        }
        loop {
            match tls.reader().read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    if plain.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
        match plain.read(&mut buffer) {
            Ok(0) => {
                tls.send_close_notify();
                let _ = tls.write_tls(&mut client);
                return;
            }
            Ok(n) => {
                if tls.writer().write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
            Err(err) if idle(&err) => {}
            Err(_) => return,
        }
        while tls.wants_write() {
            if tls.write_tls(&mut client).is_err() {
                return;
            }
        }
    }
}

#[test]
fn a_self_managed_forge_behind_a_private_ca_is_trusted_with_its_bundle_only() {
    let forge = Forge::new();
    let front = TlsFront::start(forge.server.addr());
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls/ca.pem");
    let remote = GitRemote {
        url: format!("{}/acme/shop.git", front.url()),
        ca_file: Some(bundle),
        ..forge.remote()
    };

    // With the bundle (GitLab's CI_SERVER_TLS_CA_FILE): clone, commit and push over HTTPS.
    let mut workspace = Workspace::clone(&remote, "main").unwrap();
    assert!(workspace.path().join("Dockerfile").is_file());
    let commit = workspace.commit_file("deploy/shop.nomad.hcl", "job \"shop\" {}\n", "job", &bot());
    let commit = commit.unwrap().unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit: commit.clone() });
    assert_eq!(forge.head("main"), commit);

    // Without it the server's certificate is refused, and the error says so.
    let err = Workspace::clone(&GitRemote { ca_file: None, ..remote.clone() }, "main").err();
    let text = format!("{:#}", err.expect("a certificate no public root signed"));
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("not signed by a CA this machine trusts"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[test]
fn the_checkout_holds_the_files_as_committed_whatever_the_attributes_ask() {
    // A repository that asks for CRLF line ends in working copies: the analysis reads what
    // was committed, and a job file the bot commits beside it stays as written.
    let forge = Forge::new();
    let files = [(".gitattributes", "* text eol=crlf\n"), ("app.py", "import os\nPORT = 8000\n")];
    forge.commit("main", &files, "windows-minded", "Ada");
    let mut workspace = Workspace::clone(&forge.remote(), "main").unwrap();
    let read = std::fs::read_to_string(workspace.path().join("app.py")).unwrap();
    assert_eq!(read, "import os\nPORT = 8000\n");

    let job = "job \"shop\" {\n  datacenters = [\"dc1\"]\n}\n";
    let commit = workspace.commit_file("shop.nomad.hcl", job, "job", &bot()).unwrap().unwrap();
    assert_eq!(workspace.push("main").unwrap(), PushOutcome::Pushed { commit });
    // (`git` trims the last line end.)
    assert_eq!(git(&forge.bare(), &["show", "main:shop.nomad.hcl"]), job.trim_end());
    assert_eq!(git(&forge.bare(), &["show", "main:app.py"]), "import os\nPORT = 8000");
}
