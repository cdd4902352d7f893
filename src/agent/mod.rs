//! The agent of pull-based delivery: on (or next to) a target, with only its own
//! secrets, it takes jobs from a hub (or follows a git branch with `--no-hub`), fetches
//! the exact commit and runs `bitops deploy` on it, sending back masked status.
