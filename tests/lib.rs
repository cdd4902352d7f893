//! All integration tests, compiled into one binary.

mod test;

mod config;
mod done_when;
mod examples;
mod execution;
