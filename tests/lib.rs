//! All integration tests, compiled into one binary.

mod outputs;
mod p3;
mod test;
mod tools;

mod actions_repos;
mod agent;
mod all_tools;
mod architecture;
mod compat;
mod completion;
mod config;
mod done_when;
mod examples;
mod execution;
mod graph;
mod hardening;
mod hints;
mod hostile;
mod hub;
mod install;
mod masking;
mod operator;
mod pipeline;
mod plugin_ansible;
mod plugin_aws;
mod plugin_cloudformation;
mod plugin_helm;
mod plugin_kubectl;
mod plugin_terraform;
mod preflight;
mod recipes;
mod reliability;
mod reports;
mod schema;
mod silent;
