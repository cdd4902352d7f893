//! The hub of pull-based delivery: agents register and poll it for jobs; operators
//! group agents, start deployments with a strategy and watch them on its dashboard.
//! `api` is the contract; `client` calls it.

pub mod api;
pub mod client;
