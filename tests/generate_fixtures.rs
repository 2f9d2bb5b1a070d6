//! The rendered job files for every fixture repository, as snapshots (issue #3): what
//! `generate --no-questions` writes for each, so a change in any rule shows up here, file by
//! file, in review.

use std::path::Path;

mod common;

use nomad_spec::cli::generate::generate_text;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::config::Config;

#[test]
fn rendered_job_files_of_every_fixture_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos");
    let repos = common::subfolders(&root);
    assert!(repos.len() >= 9, "expected the fixture repositories, found {}", repos.len());
    for repo in repos {
        let name = repo.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let (_, files) = generate_text(&repo, &Answers::default(), &Config::default())
            .unwrap_or_else(|err| panic!("{name}: {err:#}"));
        let text: String =
            files.iter().map(|file| format!("=== {}\n{}", file.path, file.text)).collect();
        insta::assert_snapshot!(format!("fixture_{name}"), text);
    }
}
