//! Install scripts written for BitOps' image, which is Alpine Linux: the lines that call
//! `apk`, Alpine's package manager, which a Debian image does not have.

use std::sync::OnceLock;

use regex::Regex;

/// The 1-based numbers of the lines of a shell script that run `apk` (`apk add …`,
/// `apk --no-cache add …`, `apk info`), comments and quoted mentions aside.
pub fn apk_lines(script: &str) -> Vec<usize> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?:^|[;&|(){}!]|\bthen|\bdo|\belse)\s*(?:sudo\s+)?apk\s+(?:-|add\b|del\b|info\b|update\b|upgrade\b|fix\b|search\b|list\b)")
            .expect("a valid pattern")
    });
    script
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.trim_start();
            !code.starts_with('#') && re.is_match(&unquoted(code))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// The line with what is inside quotes blanked out, so `echo "use apk add"` is not a call.
fn unquoted(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(' ');
            }
            (Some(q), c) if c == q => {
                quote = None;
                out.push(' ');
            }
            (Some(_), _) => out.push(' '),
            (None, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_calls_of_the_published_plugins_install_scripts() {
        // The shapes of bitops-plugins' terraform, ansible, aws and helm install.sh.
        let script = r#"#!/bin/bash
set -e
echo "BitOps uses alpine linux as its base, so you'll want to use apk commands (Alpine Package Keeper)"
apk info
apk add --no-cache python3 python3-dev
apk --update add --virtual build-dependencies libffi-dev
function install_aws_cli() {
apk --no-cache add \
        binutils \
    && apk add --no-cache glibc.apk
}
#apk info
echo "run: apk add curl"
if true; then apk del build-dependencies; fi
"#;
        assert_eq!(apk_lines(script), [4, 5, 6, 8, 10, 14]);
        assert_eq!(
            apk_lines("apt-get install -y curl\napkg add x\n"),
            Vec::<usize>::new()
        );
    }
}
