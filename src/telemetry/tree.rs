//! `--trace`: a run's spans as a tree with their timings and attributes, for stderr, with no
//! collector. Children are in the order they started; values are redacted and shortened.

use std::collections::BTreeMap;

use super::collect::{FinishedSpan, Score};
use super::Redaction;

/// Longest attribute value shown; the rest is cut with `…`.
const SHOWN_VALUE_CHARS: usize = 80;

/// The tree of every trace in `spans`, with the scores under their trace.
pub fn render(spans: &[FinishedSpan], scores: &[Score], redaction: &Redaction) -> String {
    let mut children: BTreeMap<Option<[u8; 8]>, Vec<&FinishedSpan>> = BTreeMap::new();
    for span in spans {
        children.entry(span.parent).or_default().push(span);
    }
    for list in children.values_mut() {
        list.sort_by_key(|span| span.start);
    }
    let mut out = String::new();
    for root in children.get(&None).into_iter().flatten() {
        out.push_str(&format!("trace {}\n", super::hex(&root.trace_id)));
        line(&mut out, root, "", "", redaction);
        walk(&mut out, root, &children, "", redaction);
        for score in scores.iter().filter(|s| s.trace_id == root.trace_id) {
            out.push_str(&format!("  score {} = {}", score.name, score.value));
            if !score.comment.is_empty() {
                out.push_str(&format!(" ({})", redaction.redact(&score.comment)));
            }
            out.push('\n');
        }
    }
    out
}

fn walk(
    out: &mut String,
    span: &FinishedSpan,
    children: &BTreeMap<Option<[u8; 8]>, Vec<&FinishedSpan>>,
    indent: &str,
    redaction: &Redaction,
) {
    let list = children.get(&Some(span.span_id)).map(Vec::as_slice).unwrap_or_default();
    for (at, child) in list.iter().enumerate() {
        let last = at + 1 == list.len();
        let (branch, next) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        line(out, child, indent, branch, redaction);
        walk(out, child, children, &format!("{indent}{next}"), redaction);
    }
}

fn line(out: &mut String, span: &FinishedSpan, indent: &str, branch: &str, redaction: &Redaction) {
    let millis = span.duration.as_secs_f64() * 1000.0;
    out.push_str(&format!("{indent}{branch}{} {millis:.1} ms", span.name));
    for (key, value) in &span.attributes {
        let value = redaction.redact(&value.to_string());
        let mut shown: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        let shown = shown.replace('\n', "⏎");
        out.push_str(&format!(" {key}={shown}"));
    }
    if let Some(error) = &span.error {
        out.push_str(&format!(" ERROR: {}", redaction.redact(error)));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::telemetry::collect::Value;

    fn span(id: u8, parent: Option<u8>, name: &str, at: u64) -> FinishedSpan {
        FinishedSpan {
            trace_id: [7; 16],
            span_id: [id; 8],
            parent: parent.map(|p| [p; 8]),
            name: name.into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(at),
            duration: Duration::from_micros(1500),
            attributes: BTreeMap::new(),
            error: None,
        }
    }

    #[test]
    fn children_hang_under_their_parent_in_start_order_redacted() {
        let mut root = span(1, None, "nomad-spec ci", 0);
        root.attributes.insert("nomad_spec.verdict".into(), Value::Text("healthy".into()));
        let mut llm = span(3, Some(1), "llm answers", 20);
        llm.attributes.insert("reply".into(), Value::Text("token is hunter2-secret".into()));
        llm.error = Some("rejected".into());
        let spans = [llm, span(4, Some(2), "plan", 15), span(2, Some(1), "checks", 10), root];
        let scores = [Score {
            trace_id: [7; 16],
            name: "deploy_healthy".into(),
            value: 1.0,
            comment: String::new(),
        }];
        let redaction = Redaction::new(vec!["hunter2-secret".into()]);
        let text = render(&spans, &scores, &redaction);
        assert_eq!(
            text,
            "trace 07070707070707070707070707070707\n\
             nomad-spec ci 1.5 ms nomad_spec.verdict=healthy\n\
             ├─ checks 1.5 ms\n\
             │  └─ plan 1.5 ms\n\
             └─ llm answers 1.5 ms reply=token is [redacted] ERROR: rejected\n\
             \x20 score deploy_healthy = 1\n"
        );
    }
}
