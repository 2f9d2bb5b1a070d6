//! A stateful fake of llm (placeholder until its issue lands).
