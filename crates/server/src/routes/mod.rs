//! One file per area of the API; each handler declares, through the core
//! operation it calls, the roles it admits.

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod keys;
pub mod operators;
pub mod sys;
