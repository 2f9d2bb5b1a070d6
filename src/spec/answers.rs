//! `Answers`: what a person decided (images, secrets, hostname, resources, ...).
