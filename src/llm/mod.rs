//! The LLM advisor: an OpenAI-compatible endpoint that words questions, reads free-form
//! answers, diagnoses failures the rules do not know, proposes refinements and explains jobs.
//!
//! The typed engine decides; the LLM only advises (DESIGN.md decision 2). Every task returns
//! an [`Advice`]: the advised value when the answer passed every guardrail, or nothing plus a
//! note saying why the rules' result stands ("LLM skipped: not configured", a rejected patch,
//! a timeout). `client` talks HTTP, `schema` checks answers against the task's JSON schema,
//! `guard` fences untrusted text, redacts secrets and checks patches, `prompt` renders the
//! prompt files of `prompts/` (or their versions in LangFuse, `langfuse`), and `tasks` wires the five tasks together.

pub mod client;
pub mod guard;
pub mod langfuse;
pub mod prompt;
pub mod schema;
pub mod tasks;

pub use client::{CallRecord, Client};
pub use tasks::Advice;
