//! The LLM advisor (OpenAI-compatible): questions, answers, diagnoses, explanations.
