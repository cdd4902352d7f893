//! Schema resolution: the input is a plugin schema and a tool config, split at the
//! first `\n%%\n`.
#![no_main]

use bitops::plugin::schema::{self, ToolConfig};
use bitops::config::settings::EnvVars;
use bitops::config::yaml::{self, Doc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sep = b"\n%%\n";
    let (a, b) = match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], &data[i + sep.len()..]),
        None => (data, &b""[..]),
    };
    let (Ok(s), Ok(c)) = (yaml::parse_bytes(a.to_vec()), yaml::parse_bytes(b.to_vec())) else {
        return;
    };
    let mut problems = Vec::new();
    let schema_doc = Doc { path: "schema.yaml".into(), root: s };
    let Some(schema) = schema::parse_schema(&schema_doc, "p", &mut problems) else {
        return;
    };
    let layers = [Doc { path: "config.yaml".into(), root: c }];
    let config = ToolConfig { layers: &layers, roots: vec!["p".into()], secret_env: &[] };
    let res = schema::resolve(&schema, &config, &EnvVars::default(), &mut problems);
    // Exported names are always valid variable names.
    for (name, _) in &res.exports {
        assert!(bitops::config::names::is_env_name(name), "{name}");
    }
});
