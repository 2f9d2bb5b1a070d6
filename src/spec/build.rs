//! Building a `JobSpec` from an analysis and answers, each decision with a reason.
