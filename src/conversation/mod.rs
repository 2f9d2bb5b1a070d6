//! The PR conversation (pure): questions, answers, the status comment and its hidden checkpoint.
//!
//! This module is the heart of the pull-request bot with every network call left out. A CI run
//! (GitHub Actions, GitLab CI, or `nomad-spec ci --dry-run`) wires it like this:
//!
//! 1. **Load.** List the PR's comments (newest forge state, as [`PostedComment`]s) and find the
//!    bot's with [`find_status_comment`] (by the bot's own login: a person quoting the comment is
//!    ignored). [`decode`] its body. With no status comment at all, start from
//!    [`Checkpoint::for_branch`] (a job file the bot committed earlier stays its own). On any
//!    error, or a status comment without a marker, never trust it: rebuild with
//!    [`Checkpoint::rebuilt_from`] from what the branch tells ([`BranchFacts`]: the job file's
//!    hash and whether the bot made its last commit); the status comment then says it was
//!    rebuilt and asks again.
//! 2. **Translate** the forge event into an [`Event`], adding what only the workflow can learn:
//!    the commenter's permission (GitHub: `GET /repos/{o}/{r}/collaborators/{login}/permission`,
//!    GitLab: the member's access level, mapped onto [`Permission`]; write/maintain/admin, or
//!    GitLab Developer and above, may drive), whether the head is a fork, the builder's questions
//!    for the analysis (`jobspec::build` with empty answers, so numbering is stable) and the sha256
//!    of the job file on the head ([`sha256_hex`]). [`Event::from_trigger`] does this for a
//!    GitHub `Trigger` given a [`Learned`]; an `issue_comment` edit of the bot's own comment
//!    by a person becomes [`Event::StatusCommentEdited`] (ticked boxes). GitLab merge-request
//!    events map onto the same variants.
//! 3. **Apply** with [`apply`]: a new checkpoint and a list of [`Action`]s. Perform the actions
//!    in order. After [`Action::CommitSpec`] (generate from `checkpoint.answers`, commit,
//!    push; skip when unchanged) apply [`Event::SpecCommitted`]; after [`Action::RunChecks`]
//!    apply [`Event::ChecksFinished`]; after [`Action::Deploy`] apply [`Event::DeployFinished`].
//!    These feed-back events return more actions; loop until none is left.
//! 4. **Save.** On [`Action::UpsertStatusComment`] (or whenever the checkpoint changed and a
//!    status comment exists) render the body with [`render`] and create or edit the one
//!    comment. The marker is the save; GitLab notes carry it the same way.
//!
//! Replaying an event is harmless: [`Event::id`] is derived from the event's content and
//! remembered in the checkpoint, so a second delivery returns the same checkpoint and only
//! [`Action::Nothing`]. The checkpoint remembers the last [`checkpoint::KEPT_EVENTS`] ids; an
//! older event delivered again is applied again, which the rules mostly absorb (answers are
//! keyed by comment, a merge already handled is refused by stage).
//!
//! Not here: pushes to the default branch outside a PR and `workflow_dispatch` deploys have no
//! conversation and are the workflow's to drive directly.

pub mod answers;
pub mod checkpoint;
pub mod state;
pub mod status_comment;

pub use answers::{read_checkboxes, read_reply, LineResult, Reading};
pub use checkpoint::{
    decode, encode, find_bot_comment, find_status_comment, sha256_hex, BranchFacts, CheckBrief,
    Checkpoint, CheckpointError, Owner, PostedComment, PostedIssue, Stage, TrackedQuestion,
    STATUS_MARKER,
};
pub use state::{apply, Action, Actor, DeployOutcome, Event, Learned, Permission, Reaction};
pub use status_comment::{render, FoundService, StatusInput};
