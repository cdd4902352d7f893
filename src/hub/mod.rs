//! The hub of pull-based delivery: agents register and poll it for jobs; operators
//! group agents, start deployments with a strategy and watch them on its dashboard.
//! `api` is the contract; `client` calls it; `server` serves it over `store`, with
//! `engine` applying the `strategy` of each deployment.

pub mod api;
pub mod client;
pub mod dashboard;
pub mod engine;
pub mod operate;
pub mod server;
pub mod store;
pub mod strategy;
pub mod tokens;
