//! All integration tests, compiled into one binary.

mod test;

mod done_when;
mod execution;
