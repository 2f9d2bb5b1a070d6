//! One webhook delivery, from its headers and raw body to the work it asks for: is it really
//! from the forge (GitHub's `X-Hub-Signature-256`, GitLab's `X-Gitlab-Token`, both compared
//! in constant time), is it fresh, has it been seen before, and which change request does it
//! concern.
//!
//! **Stale.** GitHub signs the body but puts no time in its headers, so a captured delivery
//! stays validly signed forever. The time nomad-spec checks is the one the signed payload
//! carries for the event itself: the comment's `updated_at` (comment events), the pull
//! request's `updated_at` (pull request events) or the repository's `pushed_at` (pushes). A
//! delivery whose event time is older than the server's maximum age (one hour unless
//! `NOMAD_SPEC_WEBHOOK_MAX_AGE` says otherwise) is refused with 400; inside that window the
//! delivery ID (`X-GitHub-Delivery`) catches the replay. GitLab's secret token proves nothing
//! about the body, so GitLab deliveries are checked for the token and deduplicated by
//! `X-Gitlab-Event-UUID` only.
//!
//! **Seen before.** [`Deliveries`] remembers the last IDs it accepted, a bounded number of
//! them (the oldest forgotten first), enough to cover the maximum age at any realistic rate.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use ring::hmac;
use serde::Deserialize;

use crate::event::{self, Trigger};
use crate::forge::ForgeKind;

/// Why a delivery was refused, with the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal { status, reason: reason.into() }
    }
}

/// A delivery that passed the checks: the work it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The forge's ID for the delivery.
    pub delivery: String,
    pub forge: ForgeKind,
    /// `owner/name` (GitLab: the project's path).
    pub repository: String,
    /// The GitHub App installation the repository belongs to, when the payload names one.
    pub installation: Option<u64>,
    pub trigger: Trigger,
}

/// GitHub's delivery checks: the webhook secret and the maximum age.
pub struct GitHubCheck {
    key: hmac::Key,
    max_age: Duration,
}

impl GitHubCheck {
    pub fn new(secret: &str, max_age: Duration) -> GitHubCheck {
        GitHubCheck { key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), max_age }
    }

    /// Checks a delivery: `X-Hub-Signature-256` over `body`, the event time against `now`
    /// (seconds since the Unix epoch); the trigger it describes.
    pub fn accept(
        &self,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now: i64,
    ) -> Result<Accepted, Refusal> {
        let signature = header("x-hub-signature-256").ok_or_else(|| {
            Refusal::new(401, "the delivery is not signed (no X-Hub-Signature-256 header)")
        })?;
        let tag = signature
            .strip_prefix("sha256=")
            .and_then(|hex| decode_hex(hex.trim()))
            .ok_or_else(|| Refusal::new(401, "X-Hub-Signature-256 is not `sha256=<hex>`"))?;
        // ring compares in constant time.
        hmac::verify(&self.key, body, &tag).map_err(|_| {
            Refusal::new(401, "X-Hub-Signature-256 does not match the body and the webhook secret")
        })?;
        let delivery = header("x-github-delivery")
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| Refusal::new(400, "no X-GitHub-Delivery header"))?;
        let name = header("x-github-event")
            .ok_or_else(|| Refusal::new(400, "no X-GitHub-Event header"))?;
        let text = std::str::from_utf8(body)
            .map_err(|_| Refusal::new(400, "the delivery's body is not UTF-8"))?;
        let facts: GitHubFacts = serde_json::from_str(text)
            .map_err(|err| Refusal::new(400, format!("the body is not a JSON object: {err}")))?;
        if let Some(time) = facts.event_time() {
            let age = now.saturating_sub(time);
            if age > self.max_age.as_secs() as i64 {
                return Err(Refusal::new(
                    400,
                    format!(
                        "stale delivery: the event is {age} s old, more than the {} s a \
                         delivery may be",
                        self.max_age.as_secs()
                    ),
                ));
            }
        }
        let trigger =
            event::from_github(&name, text).map_err(|err| Refusal::new(400, format!("{err}")))?;
        Ok(Accepted {
            delivery,
            forge: ForgeKind::GitHub,
            repository: facts.repository.map(|r| r.full_name).unwrap_or_default(),
            installation: facts.installation.map(|i| i.id),
            trigger,
        })
    }
}

/// GitLab's delivery check: the secret token.
pub struct GitLabCheck {
    key: hmac::Key,
    expected: hmac::Tag,
    bot_login: Option<String>,
}

impl GitLabCheck {
    pub fn new(token: &str, bot_login: Option<String>) -> Result<GitLabCheck, Refusal> {
        // Comparing MACs under a key of the process's own makes the comparison constant-time
        // whatever the token's length.
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| Refusal::new(500, "no randomness for the token comparison"))?;
        let expected = hmac::sign(&key, token.as_bytes());
        Ok(GitLabCheck { key, expected, bot_login })
    }

    /// Checks `X-Gitlab-Token`; the trigger the body describes.
    pub fn accept(
        &self,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<Accepted, Refusal> {
        let token = header("x-gitlab-token")
            .ok_or_else(|| Refusal::new(401, "no X-Gitlab-Token header"))?;
        hmac::verify(&self.key, token.as_bytes(), self.expected.as_ref())
            .map_err(|_| Refusal::new(401, "X-Gitlab-Token is not the webhook's secret token"))?;
        let name = header("x-gitlab-event").unwrap_or_default();
        let text = std::str::from_utf8(body)
            .map_err(|_| Refusal::new(400, "the delivery's body is not UTF-8"))?;
        let trigger = event::gitlab::from_gitlab_webhook(&name, text, self.bot_login.as_deref())
            .map_err(|err| Refusal::new(400, format!("{err}")))?;
        let facts: GitLabFacts = serde_json::from_str(text)
            .map_err(|err| Refusal::new(400, format!("the body is not a JSON object: {err}")))?;
        // Older GitLab sends no UUID: the body's digest stands in, so a resent body is still
        // recognised.
        let delivery = header("x-gitlab-event-uuid").unwrap_or_else(|| {
            let digest = ring::digest::digest(&ring::digest::SHA256, body);
            encode_hex(digest.as_ref())
        });
        Ok(Accepted {
            delivery,
            forge: ForgeKind::GitLab,
            repository: facts.project.map(|p| p.path_with_namespace).unwrap_or_default(),
            installation: None,
            trigger,
        })
    }
}

/// The delivery IDs accepted lately, at most `capacity` of them.
#[derive(Debug)]
pub struct Deliveries {
    order: VecDeque<String>,
    seen: HashSet<String>,
    capacity: usize,
}

impl Deliveries {
    pub fn new(capacity: usize) -> Deliveries {
        Deliveries { order: VecDeque::new(), seen: HashSet::new(), capacity: capacity.max(1) }
    }

    /// Records `id`; `false` when it was seen already.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }

    /// Forgets `id` (its work could not be queued; the forge's redelivery must be taken).
    pub fn forget(&mut self, id: &str) {
        if self.seen.remove(id) {
            self.order.retain(|seen| seen != id);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The fields of a GitHub payload the server reads besides the trigger's.
#[derive(Deserialize)]
struct GitHubFacts {
    repository: Option<RepositoryFacts>,
    installation: Option<InstallationFacts>,
    comment: Option<Timed>,
    pull_request: Option<Timed>,
}

#[derive(Deserialize)]
struct RepositoryFacts {
    full_name: String,
    /// Unix seconds in push events, a timestamp string elsewhere.
    pushed_at: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct InstallationFacts {
    id: u64,
}

#[derive(Deserialize)]
struct Timed {
    updated_at: Option<String>,
}

impl GitHubFacts {
    /// The event's own time, in Unix seconds (see the module's note on staleness).
    fn event_time(&self) -> Option<i64> {
        let rfc3339 = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text).ok().map(|time| time.timestamp())
        };
        if let Some(time) = self.comment.as_ref().and_then(|c| c.updated_at.as_deref()) {
            return rfc3339(time);
        }
        if let Some(time) = self.pull_request.as_ref().and_then(|p| p.updated_at.as_deref()) {
            return rfc3339(time);
        }
        match self.repository.as_ref()?.pushed_at.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(text) => rfc3339(text),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct GitLabFacts {
    project: Option<ProjectFacts>,
}

#[derive(Deserialize)]
struct ProjectFacts {
    path_with_namespace: String,
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=<hex>` of `body` under `secret`, as GitHub signs a delivery.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", encode_hex(hmac::sign(&key, body).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const NOW: i64 = 1_796_000_000;

    fn comment_body(updated_at: &str) -> String {
        format!(
            r#"{{"action": "created", "installation": {{"id": 42}},
            "issue": {{"number": 7, "pull_request": {{"url": "x"}}}},
            "comment": {{"id": 1, "body": "hi", "user": {{"login": "alice", "type": "User"}},
                "created_at": "{updated_at}", "updated_at": "{updated_at}"}},
            "repository": {{"full_name": "acme/shop", "default_branch": "main"}},
            "sender": {{"login": "alice", "type": "User"}}}}"#
        )
    }

    fn headers(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        move |name: &str| map.get(name).cloned()
    }

    fn at(seconds: i64) -> String {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap().to_rfc3339()
    }

    #[test]
    fn a_signed_fresh_delivery_is_accepted_and_a_forged_one_is_not() {
        let check = GitHubCheck::new("hook-secret", Duration::from_secs(3600));
        let body = comment_body(&at(NOW - 60));
        let signed = headers(&[
            ("x-hub-signature-256", github_signature("hook-secret", body.as_bytes())),
            ("x-github-delivery", "d-1".into()),
            ("x-github-event", "issue_comment".into()),
        ]);
        let accepted = check.accept(&signed, body.as_bytes(), NOW).unwrap();
        assert_eq!(accepted.repository, "acme/shop");
        assert_eq!(accepted.installation, Some(42));
        assert!(matches!(accepted.trigger, Trigger::PullRequestComment { .. }));

        let forged = headers(&[
            ("x-hub-signature-256", github_signature("guess", body.as_bytes())),
            ("x-github-delivery", "d-1".into()),
            ("x-github-event", "issue_comment".into()),
        ]);
        assert_eq!(check.accept(&forged, body.as_bytes(), NOW).unwrap_err().status, 401);
        let unsigned =
            headers(&[("x-github-delivery", "d".into()), ("x-github-event", "push".into())]);
        let refusal = check.accept(&unsigned, body.as_bytes(), NOW).unwrap_err();
        assert_eq!((refusal.status, refusal.reason.contains("not signed")), (401, true));
        let tampered = body.replace("hi", "ho");
        assert_eq!(check.accept(&signed, tampered.as_bytes(), NOW).unwrap_err().status, 401);
    }

    #[test]
    fn an_old_event_is_stale() {
        let check = GitHubCheck::new("s", Duration::from_secs(3600));
        let body = comment_body(&at(NOW - 3601));
        let signed = headers(&[
            ("x-hub-signature-256", github_signature("s", body.as_bytes())),
            ("x-github-delivery", "d-2".into()),
            ("x-github-event", "issue_comment".into()),
        ]);
        let refusal = check.accept(&signed, body.as_bytes(), NOW).unwrap_err();
        assert!(refusal.reason.starts_with("stale delivery"), "{refusal}");
        let push = format!(
            r#"{{"ref": "refs/heads/main", "after": "a1", "before": "b0", "commits": [],
            "repository": {{"full_name": "acme/shop", "default_branch": "main",
            "pushed_at": {}}}}}"#,
            NOW - 7200
        );
        let signed = headers(&[
            ("x-hub-signature-256", github_signature("s", push.as_bytes())),
            ("x-github-delivery", "d-3".into()),
            ("x-github-event", "push".into()),
        ]);
        let refusal = check.accept(&signed, push.as_bytes(), NOW).unwrap_err();
        assert!(refusal.reason.contains("7200 s old"), "{refusal}");
    }

    #[test]
    fn gitlab_deliveries_need_the_token() {
        let check = GitLabCheck::new("glsecret", None).unwrap();
        let body = r#"{"object_kind": "issue", "project": {"path_with_namespace": "g/p"}}"#;
        let good = headers(&[
            ("x-gitlab-token", "glsecret".into()),
            ("x-gitlab-event", "Issue Hook".into()),
            ("x-gitlab-event-uuid", "u-1".into()),
        ]);
        let accepted = check.accept(&good, body.as_bytes()).unwrap();
        assert_eq!((accepted.delivery.as_str(), accepted.repository.as_str()), ("u-1", "g/p"));
        assert!(matches!(accepted.trigger, Trigger::Ignored { .. }));
        let bad = headers(&[("x-gitlab-token", "glsecreT".into())]);
        assert_eq!(check.accept(&bad, body.as_bytes()).unwrap_err().status, 401);
        assert_eq!(check.accept(headers(&[]), body.as_bytes()).unwrap_err().status, 401);
    }

    #[test]
    fn deliveries_are_remembered_up_to_a_bound() {
        let mut seen = Deliveries::new(2);
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        assert!(seen.first_time("b"));
        assert!(seen.first_time("c"));
        assert_eq!(seen.len(), 2);
        // `a` was the oldest and is forgotten; `b` and `c` are still known.
        assert!(!seen.first_time("c"));
        assert!(seen.first_time("a"));
        seen.forget("a");
        assert!(seen.first_time("a"));
    }
}
