//! What a step writes to `$BITOPS_OUTPUTS` (JSON objects and KEY=VALUE lines, any mix)
//! and `${{ outputs.a.k }}` references in a YAML tool config: no input may panic; every
//! parsed key is a valid name; a reference to a published value is replaced by it.
#![no_main]

use bitops::plan::outputs::{self, Outputs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (published, config) = text.split_once('\0').unwrap_or((text, ""));
    if let Ok(p) = outputs::parse(published, &[]) {
        for key in p.keys() {
            assert!(!key.is_empty());
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
        let mut known = Outputs::new();
        known.insert("a".to_string(), p);
        if let Ok(mut node) = bitops::config::yaml::parse(config) {
            let (mut refs, mut problems) = (Vec::new(), Vec::new());
            let path = std::path::Path::new("c.yaml");
            outputs::substitute(&mut node, Some(&known), path, &mut refs, &mut problems);
            for r in &refs {
                let exists = known.get(&r.alias).is_some_and(|p| p.contains_key(&r.key));
                assert!(exists || !problems.is_empty(), "an unknown reference passed: {r:?}");
            }
        }
    }
});
