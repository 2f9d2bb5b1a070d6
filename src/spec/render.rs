//! `JobSpec` → canonical HCL text.
