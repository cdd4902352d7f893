//! The default-folder YAML merge: the input is an environment file and a default
//! file, split at the first `\n%%\n`.
#![no_main]

use bitops::repo::merge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (env, default) = text.split_once("\n%%\n").unwrap_or((text, ""));
    if let Ok(merged) = merge::merge_yaml_text(env, default) {
        // The merge writes valid YAML, and merging the result again changes nothing.
        let load = |text: &str| yaml_rust2::YamlLoader::load_from_str(text);
        let value = load(&merged).expect("merged YAML parses");
        let again = merge::merge_yaml_text(&merged, default).expect("merges again");
        assert_eq!(value, load(&again).unwrap());
    }
});
