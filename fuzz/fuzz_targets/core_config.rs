//! Core config loading: any bytes as an environment-level and image-level file.
#![no_main]

use bitops::config::settings::{self, EnvVars, Layers};
use bitops::config::yaml::{self, Doc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(root) = yaml::parse_bytes(data.to_vec()) else {
        return;
    };
    let doc = Doc { path: "fuzz.yaml".into(), root };
    let env = EnvVars::default();
    let layers = Layers { env: &env, docs: vec![&doc, &doc] };
    let mut problems = Vec::new();
    let s = settings::resolve(&layers, &mut problems);
    // Every problem renders, and every deployment name is safe as a path component.
    for p in &problems {
        let _ = p.to_string();
    }
    for d in &s.deployments {
        assert!(bitops::config::names::check(&d.alias).is_ok());
        assert!(bitops::config::names::check(&d.plugin).is_ok());
    }
});
