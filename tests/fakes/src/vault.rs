//! A stateful fake of vault (placeholder until its issue lands).
