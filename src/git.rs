//! Git operations (git2): clone a repository into a temporary directory.
