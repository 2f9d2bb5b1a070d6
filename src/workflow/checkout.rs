//! What a run reads from a checkout: the repository's settings, its analysis, the job files
//! it holds, and the checks of one of them (the questions and where the job file goes are the
//! generation's: `crate::generation`). The conversation, the dry run, pushes and manual
//! runs all read a checkout through these.

use std::path::Path;

use super::failure::UserError;
use crate::analyze::{self, Analysis};
use crate::checks::FileChecks;
use crate::jobspec::config::{Config, FILE_NAME, MAX_FILE_BYTES};
use crate::settings::{BotSettings, Settings};

/// The repository's `.nomad-spec.toml`, with the bot's job-file path setting over its
/// `output`. A file that cannot be read is the person's to fix ([`UserError`]); it is named
/// as the repository has it, not by the temporary checkout's path.
pub fn repository_config(root: &Path, settings: &BotSettings) -> anyhow::Result<Config> {
    let path = root.join(FILE_NAME);
    let unreadable = |err: crate::file::FileError| {
        UserError::of(anyhow::anyhow!("cannot read {FILE_NAME}: {}", err.reason()))
    };
    // Something that is not a file there (a folder, a link to a device) is an error, not the
    // defaults: the repository meant to configure something.
    let mut config = if crate::file::is_regular(&path).map_err(unreadable)? {
        let text = crate::file::read_text(&path, MAX_FILE_BYTES).map_err(unreadable)?;
        Config::from_toml(&text, FILE_NAME).map_err(UserError::of)?
    } else {
        Config::default()
    };
    if let Some(path) = &settings.spec_path {
        config.output = Some(path.clone());
    }
    Ok(config)
}

/// The analysis of a checkout, named after its repository (a clone's folder name is not).
pub fn analyze_checkout(root: &Path, repository_name: &str) -> Analysis {
    let options =
        analyze::Options { root_name: Some(repository_name.to_string()), ..Default::default() };
    analyze::analyze(root, &options)
}

/// Every check of the job file at `relative` in a checkout, its findings named by that path
/// (as the repository shows it, not the temporary checkout's).
pub async fn check_in_checkout(
    root: &Path,
    relative: &str,
    settings: &Settings,
    config: &Config,
) -> anyhow::Result<FileChecks> {
    let file = crate::nomad::job_file::JobFile::read(&root.join(relative))?;
    let options = crate::jobspec::parse::ParseOptions::default();
    let mut checked = crate::checks::run::check_file(&file, &options, settings, config, true).await;
    for annotation in checked.results.iter_mut().flat_map(|r| r.annotations.iter_mut()) {
        annotation.file = relative.to_string();
    }
    Ok(checked)
}

/// Nomad job files in a checkout (`*.nomad.hcl`, `*.nomad`), relative and sorted; a file
/// named so that is another of Nomad's specifications (a volume, an ACL policy ...) is no job
/// to check, deploy or compare, and is left out.
pub fn job_files_in(root: &Path) -> Vec<String> {
    let is_job = |name: &str| name.ends_with(".nomad.hcl") || name.ends_with(".nomad");
    let (found, _unreadable) = crate::nomad::job_file::find_job_files(root, is_job);
    found
        .iter()
        .filter(|path| {
            crate::nomad::job_file::JobFile::read(path).map_or(true, |f| f.not_a_job().is_none())
        })
        .filter_map(|path| path.strip_prefix(root).ok())
        .map(|relative| relative.display().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_are_found_by_name_and_other_specifications_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("deploy/web.nomad.hcl", "job \"web\" {\n}\n");
        write("deploy/old.nomad", "job \"old\" {\n}\n");
        write("deploy/data.nomad.hcl", "name = \"data\"\ntype = \"host\"\nplugin_id = \"mkdir\"\n");
        write("deploy/broken.nomad.hcl", "jbo \"web\" {\n");
        write("deploy/notes.hcl", "job \"not-by-name\" {\n}\n");
        // A broken file stays: its checks say what is wrong with it.
        assert_eq!(
            job_files_in(dir.path()),
            ["deploy/broken.nomad.hcl", "deploy/old.nomad", "deploy/web.nomad.hcl"]
        );
    }
}
