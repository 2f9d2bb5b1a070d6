//! What evaluating one job file may cost: expressions evaluated (steps) and bytes of values
//! produced.
//!
//! Job files come from pull requests, and a few hundred bytes can ask for gigabytes:
//! `format("%04096d", i)` inside two nested `for` expressions builds a million 4 KB strings in
//! fewer steps than the step limit allows. So the bytes are counted too, as values are made:
//! `eval` charges each expression, string, collection, `dynamic` block instance and copy of a
//! variable; `functions` checks a result it is about to build against what is left, before
//! allocating it. The counts are per thread and cover every scope of the file being read
//! (variable defaults, locals, the job); [`reset`] starts a new file. Bytes are counted as
//! produced, not as still alive, so the figure bounds peak memory from above.

use std::cell::Cell;
use std::fmt;

use serde_json::Value;

/// Most expressions one file may evaluate; real job files need a few thousand.
pub(crate) const MAX_STEPS: usize = 2_000_000;

/// Most bytes of values one file's expressions may produce. The 325 job files of the corpus
/// produce at most 28 KB each (measured 2026-12-07).
pub(crate) const MAX_BYTES: usize = 64 * 1024 * 1024;

/// What one element of a list, or one value slot, costs besides its own content.
const SLOT: usize = std::mem::size_of::<Value>();

/// What one entry of an object costs besides its key's text and its value.
const ENTRY: usize = std::mem::size_of::<String>() + std::mem::size_of::<Value>() + 16;

thread_local! {
    static STEPS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

/// A budget the file's expressions went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// More than [`MAX_STEPS`] expressions.
    Steps,
    /// More than [`MAX_BYTES`] bytes of values.
    Bytes,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Steps => write!(
                f,
                "the expressions of this file take more than {MAX_STEPS} steps to evaluate"
            ),
            Exceeded::Bytes => write!(
                f,
                "the expressions of this file produce more than {} MiB of values; a job file \
                 may not build more",
                MAX_BYTES / (1024 * 1024)
            ),
        }
    }
}

/// Starts the budget of a new file.
pub(crate) fn reset() {
    STEPS.with(|steps| steps.set(0));
    BYTES.with(|bytes| bytes.set(0));
}

/// Counts `n` steps of work (one per expression; a function that compares elements counts
/// its comparisons).
pub(crate) fn steps(n: usize) -> Result<(), Exceeded> {
    let total = STEPS.with(|steps| {
        let total = steps.get().saturating_add(n);
        steps.set(total);
        total
    });
    if total > MAX_STEPS {
        return Err(Exceeded::Steps);
    }
    Ok(())
}

/// Counts `n` bytes of values produced.
pub(crate) fn spend(n: usize) -> Result<(), Exceeded> {
    let total = BYTES.with(|bytes| {
        let total = bytes.get().saturating_add(n);
        bytes.set(total);
        total
    });
    if total > MAX_BYTES {
        return Err(Exceeded::Bytes);
    }
    Ok(())
}

/// Counts a value just produced (or copied), whole.
pub(crate) fn spend_value(value: &Value) -> Result<(), Exceeded> {
    spend(size(value))
}

/// Counts one new list element or object entry of a collection being built, besides its value.
pub(crate) fn spend_slot(key: Option<&str>) -> Result<(), Exceeded> {
    spend(key.map_or(SLOT, |key| ENTRY + key.len()))
}

/// Bytes still allowed.
pub(crate) fn remaining() -> usize {
    MAX_BYTES.saturating_sub(BYTES.with(Cell::get))
}

/// Checks, before building it, that a result of `bytes` bytes fits in what is left; the message
/// is the function's error.
pub(crate) fn fits(bytes: usize) -> Result<(), String> {
    if bytes > remaining() {
        return Err(refused(&format!("{bytes} bytes")));
    }
    Ok(())
}

/// The error of a function whose result, of `size` (`"5000000 bytes"`), would not fit.
pub(crate) fn refused(size: &str) -> String {
    format!(
        "the result would be {size}, more than the {} bytes left of the {} MiB of values a job \
         file's expressions may produce",
        remaining(),
        MAX_BYTES / (1024 * 1024)
    )
}

/// The bytes a value holds, counted the way [`spend_value`] charges them.
pub(crate) fn size(value: &Value) -> usize {
    let mut total = 0usize;
    // A list of values still to count, so that deep nesting costs no stack.
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        total = total.saturating_add(SLOT);
        match value {
            Value::String(s) => total = total.saturating_add(s.len()),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    total = total.saturating_add(ENTRY + key.len());
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_count_text_slots_and_entries() {
        assert_eq!(size(&json!(null)), SLOT);
        assert_eq!(size(&json!("abc")), SLOT + 3);
        assert_eq!(size(&json!(["ab", 1])), 3 * SLOT + 2);
        assert_eq!(size(&json!({"k": "v"})), 2 * SLOT + ENTRY + 2);
    }

    #[test]
    fn each_budget_runs_out_and_a_reset_refills_it() {
        reset();
        assert_eq!(spend(MAX_BYTES), Ok(()));
        assert_eq!(remaining(), 0);
        assert_eq!(spend(1), Err(Exceeded::Bytes));
        assert!(fits(1).unwrap_err().ends_with(
            "the 0 bytes left of the 64 MiB of values a job file's expressions may produce"
        ));
        assert_eq!(steps(MAX_STEPS), Ok(()));
        assert_eq!(steps(1), Err(Exceeded::Steps));
        reset();
        assert_eq!((spend(1), steps(1), remaining()), (Ok(()), Ok(()), MAX_BYTES - 1));
        reset();
    }
}
