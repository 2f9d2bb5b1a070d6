//! GitLab CI variables → `Trigger` (stub until the GitLab adapter lands).

use std::collections::BTreeMap;

use super::{EventError, Trigger};

/// Turns GitLab CI's variables (and a triggered pipeline's note event) into a trigger.
pub fn from_gitlab(
    _vars: &BTreeMap<String, String>,
    _trigger_payload: Option<&str>,
) -> Result<Trigger, EventError> {
    Err(EventError { event: "gitlab".into(), detail: "not built yet".into() })
}
