//! Resource suggestions and service roles from language, framework and image.

use super::{Language, Resources, Role};

/// The role a published image plays (`postgres:16` → database).
pub fn role_of_image(image: &str) -> Role {
    let _ = image;
    Role::App
}

/// Suggested resources for a service, with the reason.
pub fn suggest(language: Option<Language>, framework: Option<&str>, role: Role) -> Resources {
    let _ = (language, framework, role);
    Resources { cpu: 100, memory: 128, reason: String::new() }
}
