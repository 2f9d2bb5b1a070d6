//! Validation of job files: syntax and Nomad's semantic rules, with positions.
