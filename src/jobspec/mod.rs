//! The job spec engine: the `JobSpec` model, building it from an analysis and answers,
//! rendering canonical HCL, reading existing job files back (parse, format, validate), and
//! the edits fixes make to a job (the model, its API JSON, an HCL file in place).
//!
//! Everything here is pure: text and typed values in, text and typed values out.

pub mod answers;
pub mod build;
pub mod config;
mod diagnostic;
pub mod edit;
pub mod features;
pub mod format;
mod model;
pub mod parse;
pub mod render;
pub mod validate;

pub use diagnostic::{Diagnostic, Severity};
pub use model::*;
