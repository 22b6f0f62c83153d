//! Commands that talk to a running server.

pub mod approval;
pub mod audit;
pub mod blacklist;
pub mod events;
pub mod key;
pub mod login;
pub mod operator;
pub mod seal;
pub mod sys;
