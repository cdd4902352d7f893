//! The README's CI recipes: each YAML one parses, and every `bitops` command in any of
//! them (YAML or Jenkins) is accepted by this bitops' command line.

use std::path::Path;
use std::process::Command;

/// The fenced blocks of the "CI recipes" section: (language, body).
fn recipes() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## CI recipes\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a CI recipes section");
    let mut out = Vec::new();
    let mut parts = section.split("```");
    parts.next();
    while let (Some(block), _) = (parts.next(), parts.next()) {
        let (lang, body) = block.split_once('\n').unwrap_or((block, ""));
        out.push((lang.trim().to_string(), body.to_string()));
    }
    out
}

#[test]
fn the_yaml_recipes_parse() {
    let yaml: Vec<_> = recipes().into_iter().filter(|(l, _)| l == "yaml").collect();
    assert_eq!(yaml.len(), 3, "GitHub (2) and GitLab recipes");
    for (_, body) in yaml {
        let docs =
            yaml_rust2::YamlLoader::load_from_str(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        assert!(docs.len() == 1 && docs[0].is_hash(), "{body}");
    }
}

#[test]
fn every_bitops_command_in_the_recipes_is_accepted() {
    let mut checked = 0;
    for (_, body) in recipes() {
        // Folded YAML lines join into one command.
        let text = body.replace("\n          ", " ");
        for line in text.lines() {
            let Some(at) = line.find("bitops ") else {
                continue;
            };
            let rest = &line[at + "bitops ".len()..];
            let rest = rest.trim_end_matches(['\'', '"', '}', ' ']);
            let words: Vec<String> = shlex::split(rest).unwrap_or_default();
            // The image name also reads `bitops`: a docker command's first word is a subcommand.
            let Some(first) = words.first() else { continue };
            if first.starts_with('-') {
                continue;
            }
            // A CI variable stands for some value.
            let mut args: Vec<String> = words
                .iter()
                .map(|w| {
                    if w.contains('$') {
                        "/ci/value".to_string()
                    } else {
                        w.clone()
                    }
                })
                .collect();
            args.push("--help".into());
            let out = Command::new(env!("CARGO_BIN_EXE_bitops"))
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "`bitops {rest}` is not accepted:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} commands found");
}
