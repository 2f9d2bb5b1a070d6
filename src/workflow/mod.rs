//! The bot's run: one CI event, from trigger to the forge's comments, commits, checks and
//! deploys. Being written.

pub mod settings;
