//! A stateful fake of fabio (placeholder until its issue lands).
