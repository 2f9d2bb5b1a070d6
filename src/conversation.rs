//! The PR conversation: questions, answers, the status comment and its hidden checkpoint.
