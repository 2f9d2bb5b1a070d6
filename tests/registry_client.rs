//! The registry check the bot makes before deploying an image (issue 17), against the fake OCI
//! registry: the token flow, a missing manifest told apart from a registry that refuses, and
//! the password never in an error.

use fakes::registry::{FakeRegistry, Login};
use nomad_spec::workflow::registry::{manifest_exists, Presence, RegistryAccess};

const PASSWORD: &str = "glcbt-registry-password-never-shown";

fn registry() -> FakeRegistry {
    FakeRegistry::start(Login { username: "gitlab-ci-token".into(), password: PASSWORD.into() })
        .unwrap()
}

fn access(registry: &FakeRegistry, password: &str) -> RegistryAccess {
    RegistryAccess {
        username: "gitlab-ci-token".into(),
        password: password.into(),
        url_override: Some(registry.url()),
    }
}

#[tokio::test]
async fn a_pushed_image_is_found_after_the_token_flow_and_another_tag_is_missing() {
    let registry = registry();
    let digest = registry.push("acme/shop/web", "c0ffee");
    let access = access(&registry, PASSWORD);
    let found = manifest_exists("registry.gitlab.test/acme/shop/web:c0ffee", &access).await;
    assert_eq!(found.unwrap(), Presence::Found { digest: Some(digest) });
    let missing = manifest_exists("registry.gitlab.test/acme/shop/web:decade", &access).await;
    assert_eq!(missing.unwrap(), Presence::Missing);
    let requests = registry.manifest_requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.3).collect();
    assert_eq!(statuses, [401, 200, 401, 404], "asked without a token first: {requests:?}");
}

#[tokio::test]
async fn wrong_credentials_are_an_error_that_names_the_registry_and_not_the_password() {
    let registry = registry();
    registry.push("acme/shop/web", "c0ffee");
    let wrong = "glcbt-wrong-password-also-never-shown";
    let err =
        manifest_exists("registry.gitlab.test/acme/shop/web:c0ffee", &access(&registry, wrong))
            .await
            .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("registry.gitlab.test gave no token"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
}

#[tokio::test]
async fn an_image_without_a_registry_or_a_tag_is_refused_before_any_call() {
    let registry = registry();
    for image in ["nginx:1.27", "registry.gitlab.test/acme/shop/web"] {
        let err = manifest_exists(image, &access(&registry, PASSWORD)).await.unwrap_err();
        assert!(err.to_string().contains("does not name a registry and a tag"), "{err}");
    }
    assert!(registry.manifest_requests().is_empty());
}
