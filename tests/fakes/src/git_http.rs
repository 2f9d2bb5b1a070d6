//! Real git smart-HTTP for the forge fakes: `git http-backend` (git's own CGI program) over
//! local bare repositories, plus the few repository chores the fakes and tests need.
//!
//! The fake forges authenticate a request themselves, then hand it to [`serve`] with the user
//! it authenticated as (`REMOTE_USER`, which also enables `receive-pack`, so pushes work).
//! Protected branches are enforced the way a forge's server does it, by a `pre-receive` hook in
//! the bare repository ([`protect_branch`]): the client sees its push rejected per ref
//! (`! [remote rejected] main (pre-receive hook declined)`) with the forge's message on
//! `remote:` lines, as on GitHub (`GH006`) and GitLab.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

/// Whether a request path (after the repository's `owner/name.git`) is a git smart-HTTP one:
/// `info/refs`, `git-upload-pack` or `git-receive-pack`.
pub fn is_git_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    path.contains(".git/info/refs")
        || path.ends_with(".git/git-upload-pack")
        || path.ends_with(".git/git-receive-pack")
        || path.contains("/info/refs")
        || path.ends_with("/git-upload-pack")
        || path.ends_with("/git-receive-pack")
}

/// Serves one smart-HTTP request for the repository at `root`/`path_info`'s repository part.
///
/// `path_info` is the request path below `root` (`/acme/shop.git/info/refs`); `remote_user`
/// is who the fake authenticated (pushes need one).
pub async fn serve(
    root: &Path,
    path_info: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
    remote_user: &str,
) -> Response {
    match run_backend(root, path_info, method, query, headers, body, remote_user).await {
        Ok(response) => response,
        Err(err) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("git http-backend failed: {err:#}\n"))
                .into_response()
        }
    }
}

async fn run_backend(
    root: &Path,
    path_info: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
    remote_user: &str,
) -> anyhow::Result<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path_info)
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", query.unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", remote_user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().context("cannot start `git http-backend`")?;
    let mut stdin = child.stdin.take().context("no stdin for git http-backend")?;
    let writer = tokio::spawn(async move {
        let result = stdin.write_all(&body).await;
        drop(stdin);
        result
    });
    let output = child.wait_with_output().await.context("git http-backend did not finish")?;
    writer.await.context("writing the request body failed")?.context("writing the body")?;
    if !output.status.success() && output.stdout.is_empty() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    parse_cgi(&output.stdout)
}

/// The refs a `git-receive-pack` request updates: its commands, one pkt-line each
/// (`<old> <new> <ref>`, the first with capabilities after a NUL), before the flush packet.
/// A body that is not that (compressed, cut short) names none.
pub fn pushed_refs(body: &[u8]) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = body;
    while rest.len() >= 4 {
        let Some(length) =
            std::str::from_utf8(&rest[..4]).ok().and_then(|l| usize::from_str_radix(l, 16).ok())
        else {
            break;
        };
        if length < 4 || length > rest.len() {
            break;
        }
        let line = &rest[4..length];
        let command = line.split(|&b| b == 0).next().unwrap_or_default();
        let command = String::from_utf8_lossy(command);
        match command.trim_end().split(' ').collect::<Vec<_>>().as_slice() {
            [_, _, name] => refs.push(name.to_string()),
            _ => break,
        }
        rest = &rest[length..];
    }
    refs
}

/// Splits a CGI response into status, headers and body.
fn parse_cgi(raw: &[u8]) -> anyhow::Result<Response> {
    let split = find(raw, b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| find(raw, b"\n\n").map(|at| (at, 2)))
        .context("git http-backend wrote no header block")?;
    let head = String::from_utf8_lossy(&raw[..split.0]);
    let body = raw[split.0 + split.1..].to_vec();
    let mut response = Response::new(Body::from(body));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("200");
            *response.status_mut() =
                StatusCode::from_bytes(code.as_bytes()).unwrap_or(StatusCode::BAD_GATEWAY);
        } else if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::try_from(name), HeaderValue::from_str(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Creates an empty bare repository at `path` (parents included) with `branch` as `HEAD`.
pub fn init_bare(path: &Path, branch: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    git(path, &["init", "--quiet", "--bare", &format!("--initial-branch={branch}")])?;
    // Pushes over HTTP run as REMOTE_USER; allow them without per-repo config elsewhere.
    git(path, &["config", "http.receivepack", "true"])?;
    // Accept `git push -o ...` (GitLab's `ci.skip`); hooks see them as GIT_PUSH_OPTION_<n>.
    git(path, &["config", "receive.advertisePushOptions", "true"])?;
    Ok(())
}

/// Commits every file under `files` to `branch` of the bare repository `bare` (creating the
/// branch, or adding a commit on top of it) as `author`; returns the new commit id. `branch`
/// may be a full ref (`refs/nomad-spec/memory`) too.
pub fn commit_tree(
    bare: &Path,
    branch: &str,
    files: &Path,
    message: &str,
    author: &str,
) -> anyhow::Result<String> {
    let work = tempfile::tempdir().context("cannot create a work folder")?;
    let work_path = work.path();
    // The work folder's own branch name does not matter; a full ref is no branch name.
    git(work_path, &["init", "--quiet", "--initial-branch=work"])?;
    let bare_url = bare.to_string_lossy().to_string();
    git(work_path, &["remote", "add", "origin", &bare_url])?;
    let full_ref = full_ref(branch);
    let exists = git(bare, &["rev-parse", "--verify", "--quiet", &full_ref]).is_ok();
    if exists {
        git(work_path, &["fetch", "--quiet", "origin", &full_ref])?;
        git(work_path, &["reset", "--quiet", "--hard", "FETCH_HEAD"])?;
    }
    copy_tree(files, work_path)?;
    git(work_path, &["add", "--all"])?;
    let email = format!("{}@users.noreply.example", author.replace(' ', "-"));
    git(
        work_path,
        &[
            "-c",
            &format!("user.name={author}"),
            "-c",
            &format!("user.email={email}"),
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            message,
        ],
    )?;
    git(work_path, &["push", "--quiet", "origin", &format!("HEAD:{full_ref}")])?;
    git(bare, &["rev-parse", &full_ref]).map(|s| s.trim().to_string())
}

/// `branch` as a full ref; a name that is one already (`refs/nomad-spec/memory`) as it is.
fn full_ref(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_string()
    } else {
        format!("refs/heads/{branch}")
    }
}

/// The commit `branch` points at in `bare`.
pub fn head_of(bare: &Path, branch: &str) -> anyhow::Result<String> {
    git(bare, &["rev-parse", &format!("refs/heads/{branch}")]).map(|s| s.trim().to_string())
}

/// The content of `path` at `branch` in `bare`, or `None` when it is not there.
pub fn read_file(bare: &Path, branch: &str, path: &str) -> Option<String> {
    git(bare, &["show", &format!("refs/heads/{branch}:{path}")]).ok()
}

/// Commit subjects of `branch`, newest first.
pub fn log_subjects(bare: &Path, branch: &str) -> anyhow::Result<Vec<String>> {
    let out = git(bare, &["log", "--format=%s", &format!("refs/heads/{branch}")])?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Makes `branch` protected: every push to it is rejected by a `pre-receive` hook printing
/// `message` (GitHub says `GH006: Protected branch update failed for refs/heads/main.`).
pub fn protect_branch(bare: &Path, branch: &str, message: &str) -> anyhow::Result<()> {
    refuse_ref(bare, &format!("refs/heads/{branch}"), message)
}

/// Makes every push to `full_ref` (`refs/heads/main`, `refs/nomad-spec/memory`) rejected by a
/// `pre-receive` hook printing `message`, as a forge's rule refuses it (GitHub's rulesets say
/// `GH013: Repository rule violations found for refs/...`).
pub fn refuse_ref(bare: &Path, full_ref: &str, message: &str) -> anyhow::Result<()> {
    let hooks = bare.join("hooks");
    std::fs::create_dir_all(&hooks).context("cannot create the hooks folder")?;
    let hook = hooks.join("pre-receive");
    let quoted = message.replace('\'', "'\\''");
    let script = format!(
        "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = \"{full_ref}\" ]; then\n    echo 'error: {quoted}' >&2\n    exit 1\n  fi\ndone\nexit 0\n"
    );
    std::fs::write(&hook, script).context("cannot write the pre-receive hook")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .context("cannot make the hook executable")?;
    }
    Ok(())
}

/// Runs git in `dir`, returning stdout, or an error with stderr.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !output.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_name() == ".git" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::LoopbackServer;
    use axum::extract::{Request, State};
    use std::sync::Arc;

    async fn handler(State(root): State<Arc<PathBuf>>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        serve(&root, parts.uri.path(), &parts.method, parts.uri.query(), &parts.headers, body, "t")
            .await
    }

    fn git_ok(dir: &Path, args: &[&str]) -> String {
        git(dir, args).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn a_push_names_the_refs_it_updates() {
        let zero = "0".repeat(40);
        let one = "1".repeat(40);
        let first = format!("{zero} {one} refs/nomad-spec/memory\0report-status side-band-64k\n");
        let second = format!("{one} {zero} refs/heads/old\n");
        let mut body = Vec::new();
        for line in [&first, &second] {
            body.extend(format!("{:04x}{line}", line.len() + 4).into_bytes());
        }
        body.extend(b"0000PACK\x00\x00\x00\x02");
        assert_eq!(pushed_refs(&body), ["refs/nomad-spec/memory", "refs/heads/old"]);
        assert!(pushed_refs(b"\x1f\x8b\x08 compressed").is_empty());
        assert!(pushed_refs(b"00ff cut short").is_empty());
    }

    #[test]
    fn clone_push_and_a_protected_branch_over_http() {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("acme/shop.git");
        init_bare(&bare, "main").unwrap();
        let seed = tempfile::tempdir().unwrap();
        std::fs::write(seed.path().join("Dockerfile"), "FROM nginx\n").unwrap();
        let first = commit_tree(&bare, "main", seed.path(), "initial", "Ada").unwrap();
        assert_eq!(head_of(&bare, "main").unwrap(), first);

        let app =
            axum::Router::new().fallback(handler).with_state(Arc::new(root.path().to_path_buf()));
        let server = LoopbackServer::start("127.0.0.1:0", app, "git").unwrap();
        let work = tempfile::tempdir().unwrap();
        let url = format!("{}/acme/shop.git", server.url());
        git_ok(work.path(), &["clone", "--quiet", &url, "clone"]);
        let clone = work.path().join("clone");
        assert_eq!(std::fs::read_to_string(clone.join("Dockerfile")).unwrap(), "FROM nginx\n");

        std::fs::write(clone.join("job.nomad.hcl"), "job \"shop\" {}\n").unwrap();
        git_ok(&clone, &["add", "."]);
        git_ok(&clone, &["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "job"]);
        git_ok(&clone, &["push", "--quiet", "origin", "HEAD:refs/heads/feature"]);
        assert_eq!(read_file(&bare, "feature", "job.nomad.hcl").unwrap(), "job \"shop\" {}\n");

        protect_branch(&bare, "main", "GH006: Protected branch update failed for refs/heads/main.")
            .unwrap();
        let err = git(&clone, &["push", "origin", "HEAD:refs/heads/main"]).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("GH006") && text.contains("declined"), "{text}");
        assert_eq!(head_of(&bare, "main").unwrap(), first);
        assert_eq!(log_subjects(&bare, "feature").unwrap(), ["job", "initial"]);
    }
}
