//! A stateful fake of consul (placeholder until its issue lands).
