//! Dependency manifests → language, framework, and the framework's conventions.

use super::walk::RepoFiles;
use super::{Evidence, Language, Note};

/// What the manifests of one service folder say about its stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stack {
    /// Main language.
    pub language: Option<Language>,
    /// Framework, lowercase (`express`, `flask`, `spring-boot`, ...).
    pub framework: Option<String>,
    /// The framework's conventional listen port.
    pub default_port: Option<u16>,
    /// The framework's conventional health path.
    pub health_path: Option<String>,
    /// A gRPC server dependency was found.
    pub grpc: bool,
    /// Notable client libraries, lowercase names of what they talk to (`postgres`, `redis`, ...).
    pub backing: Vec<String>,
    /// Where each conclusion came from.
    pub evidence: Vec<Evidence>,
}

/// Reads the manifests in `dir` (relative to the root; `.` for the root).
pub fn detect(files: &RepoFiles, dir: &str, notes: &mut Vec<Note>) -> Stack {
    let _ = (files, dir, notes);
    Stack::default()
}
