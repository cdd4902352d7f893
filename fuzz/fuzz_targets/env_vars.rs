//! The core settings from `BITOPS_*` variables (and the duration parser): each line of
//! the input is the value of one variable. No input may panic; a duration that parses
//! is at most a year and reads back the same; an invalid value is one problem naming
//! its variable.
#![no_main]

use bitops::config::settings::{self, EnvVars, Layers, MAX_DURATION, parse_duration};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "BITOPS_TIMEOUT",
    "BITOPS_FAIL_FAST",
    "BITOPS_LOGGING_LEVEL",
    "BITOPS_RUN_MODE",
    "BITOPS_DEFAULT_FOLDER",
    "BITOPS_LOGGING_COLOR",
    "BITOPS_LOGGING_FILENAME",
    "BITOPS_LOGGING_PATH",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        assert!(d <= MAX_DURATION);
        assert_eq!(parse_duration(&format!("{}s", d.as_secs())), Ok(d));
    }
    let mut env = EnvVars::default();
    for (name, value) in NAMES.iter().zip(text.split('\n')) {
        env.0.insert(name.to_string(), value.to_string());
    }
    let mut problems = Vec::new();
    let layers = Layers { env: &env, docs: vec![] };
    let s = settings::resolve(&layers, &mut problems);
    if let Some(t) = s.timeout {
        assert!(t <= MAX_DURATION);
    }
    for p in problems.iter().filter(|p| p.is_error()) {
        assert!(
            NAMES.iter().any(|n| p.to_string().contains(n)) || p.key.is_some(),
            "a problem that names no variable: {p}"
        );
    }
});
