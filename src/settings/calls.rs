//! How nomad-spec calls the services it talks to: how often a call that failed for a reason
//! that may pass is tried again, how long all of its tries may take, how long one request may
//! go unanswered, and how long the optional services (Consul, Vault, Fabio, the cluster's
//! Nomad version) are waited for. One [`RetryPolicy`] type for every client (the forges,
//! Nomad, Vault, Consul, Fabio, the LLM); the loop that applies it is `crate::http::retry`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{get, SettingError};

/// Tries in all of one call, the first included (default 4).
pub const RETRY_ATTEMPTS: &str = "NOMAD_SPEC_RETRY_ATTEMPTS";
/// How long one call may take with all its tries and waits (default `60s`).
pub const RETRY_TIME: &str = "NOMAD_SPEC_RETRY_TIME";
/// How long one request may go unanswered before the service counts as silent (default `30s`;
/// a Nomad blocking query waits its own time on top).
pub const REQUEST_TIMEOUT: &str = "NOMAD_SPEC_REQUEST_TIMEOUT";
/// How long the optional services are waited for, all of them together (default `10s`).
pub const PROBE_DEADLINE: &str = "NOMAD_SPEC_PROBE_DEADLINE";

/// When a failed call is tried again, and for how long.
///
/// A call is tried at most `attempts` times. Between tries it waits what the service asked
/// (`Retry-After`), else `first_wait` doubled after each try, never more than `max_wait` at
/// once; and a try or a wait that would end after `total` (counted from the first try) is not
/// started: the last answer is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait after the first try when the service says nothing; doubled after each try.
    pub first_wait: Duration,
    /// The longest single wait, whatever the service asks.
    pub max_wait: Duration,
    /// The longest one call may take, tries and waits together.
    pub total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            total: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt + 1` when the service said nothing about when to come
    /// back: `first_wait`, doubled after each try, never over `max_wait`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.first_wait.saturating_mul(1 << doublings).min(self.max_wait)
    }
}

/// The limits of calls to services, read from `NOMAD_SPEC_RETRY_ATTEMPTS`,
/// `NOMAD_SPEC_RETRY_TIME`, `NOMAD_SPEC_REQUEST_TIMEOUT` and `NOMAD_SPEC_PROBE_DEADLINE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSettings {
    /// The retry policy of every client.
    pub retry: RetryPolicy,
    /// How long one request may go unanswered.
    pub request_timeout: Duration,
    /// How long the optional services are waited for, together.
    pub probe_deadline: Duration,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            probe_deadline: Duration::from_secs(10),
        }
    }
}

impl CallSettings {
    /// Reads the four variables from `vars`; unset ones keep their defaults. Times are
    /// written `10s`, `500ms`, `1m30s`, or as whole seconds (`10`).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<CallSettings, SettingError> {
        let defaults = CallSettings::default();
        let time = |name: &str, default: Duration| match get(vars, name) {
            None => Ok(default),
            Some(text) => match parse_duration(text) {
                Ok(time) if !time.is_zero() => Ok(time),
                Ok(_) => Err(SettingError::new(format!("{name}={text:?} must be more than 0"))),
                Err(why) => Err(SettingError::new(format!("{name}={text:?}: {why}"))),
            },
        };
        let attempts = match get(vars, RETRY_ATTEMPTS) {
            None => defaults.retry.attempts,
            Some(text) => {
                text.parse::<u32>().ok().filter(|n| (1..=10).contains(n)).ok_or_else(|| {
                    SettingError::new(format!(
                        "{RETRY_ATTEMPTS}={text:?} is not a number from 1 to 10"
                    ))
                })?
            }
        };
        let total = time(RETRY_TIME, defaults.retry.total)?;
        Ok(CallSettings {
            retry: RetryPolicy {
                attempts,
                // A short total makes short waits, so that a test or an impatient setting
                // still gets its retries.
                first_wait: defaults.retry.first_wait.min(total / 8),
                max_wait: defaults.retry.max_wait.min(total),
                total,
            },
            request_timeout: time(REQUEST_TIMEOUT, defaults.request_timeout)?,
            probe_deadline: time(PROBE_DEADLINE, defaults.probe_deadline)?,
        })
    }
}

/// A duration as Go writes it (`90s`, `5m`, `1h30m`, `500ms`), or whole seconds (`10`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 90s, 5m or 1h30m"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s, m or h)")),
        };
        total = total.saturating_add(unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_settings() {
        let defaults = CallSettings::from_vars(&vars(&[])).unwrap();
        assert_eq!(defaults, CallSettings::default());
        assert_eq!(defaults.probe_deadline, Duration::from_secs(10));
        let set = CallSettings::from_vars(&vars(&[
            (RETRY_ATTEMPTS, "2"),
            (RETRY_TIME, "2s"),
            (REQUEST_TIMEOUT, "500ms"),
            (PROBE_DEADLINE, "1"),
        ]))
        .unwrap();
        assert_eq!(set.retry.attempts, 2);
        assert_eq!(set.retry.total, Duration::from_secs(2));
        assert_eq!(set.retry.first_wait, Duration::from_millis(250));
        assert_eq!(set.request_timeout, Duration::from_millis(500));
        assert_eq!(set.probe_deadline, Duration::from_secs(1));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value, expected) in [
            (RETRY_ATTEMPTS, "0", "NOMAD_SPEC_RETRY_ATTEMPTS=\"0\" is not a number from 1 to 10"),
            (PROBE_DEADLINE, "soon", "NOMAD_SPEC_PROBE_DEADLINE=\"soon\": \"soon\" is not a"),
            (REQUEST_TIMEOUT, "0s", "NOMAD_SPEC_REQUEST_TIMEOUT=\"0s\" must be more than 0"),
        ] {
            let err = CallSettings::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err}");
        }
    }

    #[test]
    fn waits_double_up_to_the_cap() {
        let policy = RetryPolicy {
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        let waits: Vec<u128> = (1..=4).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }
}
