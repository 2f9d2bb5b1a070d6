//! GitHub adapter (contract stub: the bodies are being written).

use std::collections::BTreeMap;

use super::{CheckDelivery, DeploymentState, ForgeError, GitRemote};
use crate::conversation::{Permission, PostedComment, Reaction};
use crate::event::PullRequest;
use crate::infra::CheckResult;

/// The GitHub client.
#[derive(Debug)]
pub struct GitHub {
    remote: GitRemote,
}

fn pending(what: &str) -> ForgeError {
    ForgeError {
        forge: "GitHub",
        what: what.to_string(),
        status: None,
        message: "not built yet".into(),
    }
}

impl GitHub {
    pub fn from_vars(_vars: &BTreeMap<String, String>) -> Result<GitHub, ForgeError> {
        Err(pending("from_vars"))
    }
    pub async fn bot_login(&self) -> Result<String, ForgeError> {
        Err(pending("bot_login"))
    }
    pub async fn pull_request(&self, _number: u64) -> Result<PullRequest, ForgeError> {
        Err(pending("pull_request"))
    }
    pub async fn comments(&self, _number: u64) -> Result<Vec<PostedComment>, ForgeError> {
        Err(pending("comments"))
    }
    pub async fn create_comment(&self, _number: u64, _body: &str) -> Result<u64, ForgeError> {
        Err(pending("create_comment"))
    }
    pub async fn edit_comment(&self, _n: u64, _id: u64, _body: &str) -> Result<(), ForgeError> {
        Err(pending("edit_comment"))
    }
    pub async fn react(&self, _n: u64, _id: u64, _r: Reaction) -> Result<(), ForgeError> {
        Err(pending("react"))
    }
    pub async fn permission(&self, _login: &str) -> Result<Permission, ForgeError> {
        Err(pending("permission"))
    }
    pub async fn report_check(
        &self,
        _head_sha: &str,
        _check: &CheckResult,
        _details: &str,
    ) -> Result<CheckDelivery, ForgeError> {
        Err(pending("report_check"))
    }
    pub async fn start_deployment(
        &self,
        _sha: &str,
        _git_ref: &str,
        _environment: &str,
    ) -> Result<u64, ForgeError> {
        Err(pending("start_deployment"))
    }
    pub async fn update_deployment(
        &self,
        _id: u64,
        _state: DeploymentState,
        _description: &str,
    ) -> Result<(), ForgeError> {
        Err(pending("update_deployment"))
    }
    pub async fn open_change_request(
        &self,
        _head: &str,
        _base: &str,
        _title: &str,
        _body: &str,
    ) -> Result<u64, ForgeError> {
        Err(pending("open_change_request"))
    }
    pub async fn merged_change_request(&self, _sha: &str) -> Result<Option<u64>, ForgeError> {
        Err(pending("merged_change_request"))
    }
    pub fn git_remote(&self) -> GitRemote {
        self.remote.clone()
    }
}
