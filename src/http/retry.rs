//! The one retry loop of every client (the forges, Nomad, Vault, Consul, Fabio, the LLM) and
//! the one reading of `Retry-After`.
//!
//! A client sends one try and says what its failure means for asking again ([`Transience`]):
//! a service that turned the request away before doing anything (`429`, no connection made)
//! may be asked again whatever the call; one that failed and may have done part of the work
//! (`5xx`, a connection broken mid-answer) only when the call is safe to repeat ([`Repeat`]).
//! A service that did not answer in time is not asked again: it would cost the same wait. The
//! loop ([`call`]) waits what the service asked (`Retry-After`, or until a rate limit's
//! reset), else a doubling backoff, within the [`RetryPolicy`]'s attempts and total time, and
//! says how many tries were made ([`Tries`]), so that the message after the last one says what
//! the service answered and how often.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::settings::RetryPolicy;

/// What a failed try says about asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// Asking again gets the same answer: the request itself was refused (a `4xx` other than
    /// `429`), or the service did not answer in time.
    Final,
    /// The service turned the request away before doing anything (`429`, a connection that
    /// could not be made): any call may be sent again, after `wait` when it said.
    Refused { wait: Option<Duration> },
    /// The service failed and may have done part of the work (`5xx`, a connection broken in
    /// the middle): sent again only when that cannot do it twice.
    Failed { wait: Option<Duration> },
}

/// Whether a call may be sent again after the service failed in the middle of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Sending it twice leaves what sending it once leaves: reads, and writes that name the
    /// state they expect (Nomad's parse and plan, a register with `EnforceIndex`).
    Safe,
    /// Sending it twice could do the work twice: only a refused request is sent again.
    OnlyWhenRefused,
}

/// How many tries a call took, and why it stopped, for the message after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tries {
    /// Tries made.
    pub attempts: u32,
    /// From the first try to the end of the last.
    pub elapsed: Duration,
    /// The service asked to wait this long before the next try, which the time left did not
    /// allow.
    pub asked_too_long: Option<Duration>,
}

impl std::fmt::Display for Tries {
    /// Nothing after one try; ` (4 tries in 7.2 s)` after several; the refused wait when
    /// that is what stopped them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.attempts, self.asked_too_long) {
            (_, Some(wait)) => write!(
                f,
                " ({} in {}; it asked to wait {} more, past {})",
                tries(self.attempts),
                seconds(self.elapsed),
                seconds(wait),
                crate::settings::RETRY_TIME
            ),
            (0 | 1, None) => Ok(()),
            (n, None) => write!(f, " ({} in {})", tries(n), seconds(self.elapsed)),
        }
    }
}

/// Why a call whose tries took all of `policy`'s total time ended: `no answer within 60 s
/// (NOMAD_SPEC_RETRY_TIME)`.
pub fn no_answer_within(policy: &RetryPolicy) -> String {
    format!("no answer within {} ({})", seconds(policy.total), crate::settings::RETRY_TIME)
}

fn tries(n: u32) -> String {
    if n == 1 {
        "1 try".into()
    } else {
        format!("{n} tries")
    }
}

/// A duration for a person: `250 ms`, `7 s`, `7.2 s`.
pub fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis % 1000 == 0 {
        format!("{} s", millis / 1000)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// Sends tries of a call until one succeeds, its failure is final or the policy stops it; the
/// last try's result, and how many there were.
///
/// `attempt` sends one try and classifies its failure. A try that would end past the policy's
/// total time is cut off there and becomes `out_of_time()`; a wait that would is not waited.
pub async fn call<T, E, Fut>(
    policy: &RetryPolicy,
    repeat: Repeat,
    mut attempt: impl FnMut() -> Fut,
    out_of_time: impl FnOnce() -> E,
) -> (Result<T, E>, Tries)
where
    Fut: Future<Output = Result<T, (E, Transience)>>,
{
    let started = tokio::time::Instant::now();
    let end = started + policy.total;
    let mut tries = Tries::default();
    loop {
        tries.attempts += 1;
        let outcome = tokio::time::timeout_at(end, attempt()).await;
        tries.elapsed = started.elapsed();
        let (error, transience) = match outcome {
            Ok(Ok(value)) => return (Ok(value), tries),
            Ok(Err(failure)) => failure,
            Err(_) => return (Err(out_of_time()), tries),
        };
        let asked = match (transience, repeat) {
            (Transience::Refused { wait }, _) | (Transience::Failed { wait }, Repeat::Safe) => wait,
            _ => return (Err(error), tries),
        };
        if tries.attempts >= policy.attempts.max(1) {
            return (Err(error), tries);
        }
        let wait = asked.unwrap_or_else(|| policy.backoff(tries.attempts)).min(policy.max_wait);
        if tokio::time::Instant::now() + wait >= end {
            tries.asked_too_long = asked.map(|_| wait);
            return (Err(error), tries);
        }
        tracing::debug!(attempt = tries.attempts, ?wait, ?transience, "trying again");
        tokio::time::sleep(wait).await;
    }
}

/// How long a service asked to be left alone: `Retry-After` in seconds or as an HTTP date
/// (RFC 9110), else a rate limit's reset time in Unix seconds (GitHub's `x-ratelimit-reset`,
/// GitLab's `RateLimit-Reset`) when the caller has one.
pub fn asked_wait(
    retry_after: Option<&str>,
    reset: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let since_epoch = |time: SystemTime| time.duration_since(UNIX_EPOCH).unwrap_or_default();
    if let Some(value) = retry_after.map(str::trim) {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Some(at) = http_date(value) {
            return Some(Duration::from_secs(at.saturating_sub(since_epoch(now).as_secs())));
        }
    }
    let reset = reset?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(reset.saturating_sub(since_epoch(now).as_secs()).max(1)))
}

/// The `Retry-After` (or rate limit reset) of a response's headers.
pub fn asked_wait_in(
    headers: &reqwest::header::HeaderMap,
    reset_header: Option<&str>,
) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    asked_wait(header("retry-after"), reset_header.and_then(header), SystemTime::now())
}

/// Unix seconds of an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`), the form HTTP dates
/// are sent in.
fn http_date(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let _weekday = words.next()?;
    let day: u64 = words.next()?.parse().ok()?;
    let month = match words.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = words.next()?.parse().ok()?;
    let mut clock = words.next()?.split(':').map(|part| part.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if words.next()? != "GMT" || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + i64::try_from(day).ok()? - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = u64::try_from(era * 146_097 + day_of_era - 719_468).ok()?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// What a transport failure (no answer read) means for asking again: a connection that could
/// not be made was refused before anything was sent; no answer in time is final; anything else
/// (a connection reset, an answer cut off) may have come after the work was done.
pub fn transport_transience(err: &(dyn std::error::Error + 'static)) -> Transience {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut refused = false;
    while let Some(current) = cause {
        if let Some(reqwest) = current.downcast_ref::<reqwest::Error>() {
            if reqwest.is_timeout() {
                return Transience::Final;
            }
            refused |= reqwest.is_connect();
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::TimedOut => return Transience::Final,
                std::io::ErrorKind::ConnectionRefused => refused = true,
                _ => {}
            }
        }
        if current.to_string().contains("timed out") {
            return Transience::Final;
        }
        cause = current.source();
    }
    if refused {
        Transience::Refused { wait: None }
    } else {
        Transience::Failed { wait: None }
    }
}

/// What an HTTP status means for asking again: `429` is a refusal (with the wait asked), a
/// `5xx` a failure that may have done part of the work, anything else final.
pub fn status_transience(status: u16, asked: Option<Duration>) -> Transience {
    match status {
        429 => Transience::Refused { wait: asked },
        500..=599 => Transience::Failed { wait: asked },
        _ => Transience::Final,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Short waits, so that the tests run on the real clock without asserting on it.
    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_wait: Duration::from_millis(1),
            max_wait: Duration::from_millis(30),
            total: Duration::from_secs(60),
        }
    }

    /// Runs `call` with tries answering `answers` in turn (the last repeats).
    async fn play(
        policy: RetryPolicy,
        repeat: Repeat,
        answers: &[Result<u32, Transience>],
    ) -> (Result<u32, String>, Tries) {
        let sent = AtomicU32::new(0);
        let attempt = || {
            let n = sent.fetch_add(1, Ordering::SeqCst) as usize;
            let answer = answers[n.min(answers.len() - 1)];
            async move { answer.map_err(|t| (format!("answer {}", n + 1), t)) }
        };
        call(&policy, repeat, attempt, || "out of time".to_string()).await
    }

    const FAILED: Result<u32, Transience> = Err(Transience::Failed { wait: None });

    #[tokio::test]
    async fn failures_are_tried_again_when_safe_within_the_attempts() {
        let (result, tries) = play(policy(), Repeat::Safe, &[FAILED, FAILED, Ok(7)]).await;
        assert_eq!((result, tries.attempts), (Ok(7), 3));

        let (result, tries) = play(policy(), Repeat::Safe, &[FAILED]).await;
        assert_eq!((result, tries.attempts), (Err("answer 4".into()), 4));

        let (result, tries) = play(policy(), Repeat::OnlyWhenRefused, &[FAILED, Ok(7)]).await;
        assert_eq!((result, tries.attempts), (Err("answer 1".into()), 1));
        assert_eq!(tries.to_string(), "");
    }

    #[tokio::test]
    async fn refusals_are_tried_again_whatever_the_call_after_the_asked_wait() {
        let refused = Err(Transience::Refused { wait: Some(Duration::from_millis(5)) });
        let (result, tries) = play(policy(), Repeat::OnlyWhenRefused, &[refused, Ok(1)]).await;
        assert_eq!((result, tries.attempts), (Ok(1), 2));
        // The asked wait was waited (a lower bound the clock guarantees, not a speed).
        assert!(tries.elapsed >= Duration::from_millis(5), "{tries:?}");

        let final_answer = Err(Transience::Final);
        let (result, tries) = play(policy(), Repeat::Safe, &[final_answer, Ok(1)]).await;
        assert_eq!((result, tries.attempts), (Err("answer 1".into()), 1));
    }

    #[tokio::test]
    async fn the_total_time_bounds_waits_and_tries() {
        // A wait of 1.5 s fits once in 2 s, never twice.
        let long = Err(Transience::Refused { wait: Some(Duration::from_millis(1500)) });
        let short = RetryPolicy {
            total: Duration::from_secs(2),
            max_wait: Duration::from_secs(30),
            ..policy()
        };
        let (result, tries) = play(short, Repeat::Safe, &[long]).await;
        assert_eq!((result, tries.attempts), (Err("answer 2".into()), 2));
        assert_eq!(tries.asked_too_long, Some(Duration::from_millis(1500)));

        let sent = AtomicU32::new(0);
        let hung = || {
            sent.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<u32, (String, Transience)>>()
        };
        let brief = RetryPolicy { total: Duration::from_millis(50), ..policy() };
        let (result, tries) = call(&brief, Repeat::Safe, hung, || "out of time".to_string()).await;
        assert_eq!((result, tries.attempts), (Err("out of time".into()), 1));
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn tries_are_told_after_the_last_one() {
        let tries = |attempts, millis, asked: Option<u64>| Tries {
            attempts,
            elapsed: Duration::from_millis(millis),
            asked_too_long: asked.map(Duration::from_secs),
        };
        assert_eq!(tries(1, 30_000, None).to_string(), "");
        assert_eq!(tries(4, 7_000, None).to_string(), " (4 tries in 7 s)");
        assert_eq!(
            tries(2, 25_000, Some(25)).to_string(),
            " (2 tries in 25 s; it asked to wait 25 s more, past NOMAD_SPEC_RETRY_TIME)"
        );
    }

    #[test]
    fn retry_after_in_seconds_dates_and_resets() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(asked_wait(Some(" 7 "), None, now), secs(7));
        assert_eq!(asked_wait(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None, now), secs(10));
        assert_eq!(asked_wait(Some("Wed, 21 Oct 2015 07:27:00 GMT"), None, now), secs(0));
        assert_eq!(asked_wait(Some("soon"), Some("1445412480"), now), secs(10));
        assert_eq!(asked_wait(None, Some("1445412000"), now), secs(1), "a past reset: 1 s");
        assert_eq!(asked_wait(Some("Wed, 32 Oct 2015 07:28:00 GMT"), None, now), None);
        assert_eq!(asked_wait(None, None, now), None);
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
    }

    #[test]
    fn transport_failures_by_kind() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(transport_transience(&refused), Transience::Refused { wait: None });
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert_eq!(transport_transience(&reset), Transience::Failed { wait: None });
        let slow = std::io::Error::other("operation timed out");
        assert_eq!(transport_transience(&slow), Transience::Final);
        assert_eq!(status_transience(429, None), Transience::Refused { wait: None });
        assert_eq!(status_transience(503, None), Transience::Failed { wait: None });
        assert_eq!(status_transience(400, None), Transience::Final);
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(7240)), "7.2 s");
    }
}
