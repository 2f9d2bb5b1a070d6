//! What `/metrics` shows, in Prometheus' text format: deliveries by what became of them, runs
//! by outcome, the queue's depth and the runs in flight.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Deliveries queued.
    pub accepted: Counter,
    /// Deliveries refused (bad signature or token, stale, unreadable).
    pub refused: Counter,
    /// Deliveries seen before.
    pub duplicates: Counter,
    /// Deliveries about nothing the bot acts on.
    pub ignored: Counter,
    /// Runs started.
    pub runs_started: Counter,
    /// Failures to read or write the queue or its locks.
    pub queue_errors: Counter,
    /// Runs finished, by their verdict (`awaiting-answers`, `healthy`, `error`, ...).
    outcomes: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Counts a finished run.
    pub fn outcome(&self, verdict: &str) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *outcomes.entry(verdict.to_string()).or_default() += 1;
    }

    /// The text `/metrics` answers, with the queue's depth and the runs in flight now.
    pub fn render(&self, queue_depth: Option<usize>, in_flight: usize) -> String {
        let mut text = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "nomad_spec_deliveries_accepted_total",
            "Webhook deliveries queued.",
            self.accepted.get(),
        );
        counter(
            "nomad_spec_deliveries_refused_total",
            "Webhook deliveries refused: unsigned, forged, stale or unreadable.",
            self.refused.get(),
        );
        counter(
            "nomad_spec_deliveries_duplicate_total",
            "Webhook deliveries already seen.",
            self.duplicates.get(),
        );
        counter(
            "nomad_spec_deliveries_ignored_total",
            "Webhook deliveries about nothing nomad-spec acts on.",
            self.ignored.get(),
        );
        counter("nomad_spec_runs_started_total", "Runs started.", self.runs_started.get());
        counter(
            "nomad_spec_queue_errors_total",
            "Failures to read or write the work queue or its locks.",
            self.queue_errors.get(),
        );
        let _ = writeln!(
            text,
            "# HELP nomad_spec_runs_total Runs finished, by outcome.\n\
             # TYPE nomad_spec_runs_total counter"
        );
        let outcomes = self.outcomes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (verdict, count) in outcomes.iter() {
            let label = verdict.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ");
            let _ = writeln!(text, "nomad_spec_runs_total{{outcome=\"{label}\"}} {count}");
        }
        let _ = writeln!(
            text,
            "# HELP nomad_spec_runs_in_flight Runs in progress in this replica.\n\
             # TYPE nomad_spec_runs_in_flight gauge\nnomad_spec_runs_in_flight {in_flight}"
        );
        if let Some(depth) = queue_depth {
            let _ = writeln!(
                text,
                "# HELP nomad_spec_queue_depth Deliveries queued or running, all replicas.\n\
                 # TYPE nomad_spec_queue_depth gauge\nnomad_spec_queue_depth {depth}"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_prometheus_exposition_format() {
        let metrics = Metrics::default();
        metrics.accepted.inc();
        metrics.accepted.inc();
        metrics.outcome("healthy");
        metrics.outcome("error");
        metrics.outcome("healthy");
        let text = metrics.render(Some(3), 1);
        assert!(text.contains("\nnomad_spec_deliveries_accepted_total 2\n"), "{text}");
        assert!(text.contains("nomad_spec_runs_total{outcome=\"healthy\"} 2\n"), "{text}");
        assert!(text.contains("nomad_spec_runs_total{outcome=\"error\"} 1\n"), "{text}");
        assert!(text.contains("nomad_spec_queue_depth 3\n"), "{text}");
        assert!(text.contains("nomad_spec_runs_in_flight 1\n"), "{text}");
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok() && !name.is_empty(), "{line}");
        }
    }
}
