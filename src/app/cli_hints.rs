//! Command-line mistakes with a known cause get a tip that names it: habits from
//! `docker run` (`-v`, `--rm`), one dash where two belong (`-dry-run`), the environment
//! as a word (`deploy dev`), several deployments after `--only` without commas.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use crate::app::cli::Cli;

/// The command line, parsed; a mistake exits 2 with clap's message and, when the cause is
/// known, a tip naming it.
pub fn parse() -> Cli {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(mut err) => {
            if let Some(tip) = tip(&args, &err) {
                err.insert(
                    ContextKind::Suggested,
                    ContextValue::StyledStrs(vec![tip.into()]),
                );
            }
            err.exit()
        }
    }
}

/// Flags of `docker run` that people type after the image name.
const DOCKER_FLAGS: &[&str] = &[
    "-v",
    "--volume",
    "--rm",
    "-it",
    "-ti",
    "-i",
    "-t",
    "--env-file",
    "--entrypoint",
    "--network",
    "--name",
    "-w",
    "--workdir",
    "--mount",
];

/// The tip for `err`, given the words of the command line.
pub fn tip(args: &[String], err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let bad = match err.get(ContextKind::InvalidArg)? {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    let tree = command_tree();
    // `-dry-run`: clap sees `-d`; the word as typed is on the command line.
    let longs = long_flags(&tree);
    if let Some(word) = args.iter().skip(1).find_map(|a| {
        let word = a.strip_prefix('-')?.split('=').next()?;
        (!word.starts_with('-') && word.len() > 2 && longs.iter().any(|l| l == word))
            .then_some(word)
    }) {
        return Some(format!("long flags take two dashes: `--{word}`"));
    }
    let flag = bad.split('=').next().unwrap_or(&bad);
    if DOCKER_FLAGS.contains(&flag) || flag.starts_with("-v/") {
        return Some(format!(
            "`{flag}` is a `docker run` flag: it goes before the image name (`docker run --rm -v \"$PWD:/opt/bitops_deployment\" -e BITOPS_ENVIRONMENT=dev IMAGE`); bitops itself takes `--ops-repo DIR` and `-e ENV`"
        ));
    }
    if bad.starts_with('-') {
        return None;
    }
    let at = args.iter().rposition(|a| *a == bad)?;
    let before = &args[1..at];
    // `--only a b`: the words after --only's value.
    if let Some(i) = before
        .iter()
        .rposition(|a| a.starts_with('-'))
        .filter(|&i| matches!(before[i].as_str(), "--only" | "--skip"))
    {
        let list: Vec<&str> = before[i + 1..]
            .iter()
            .chain(args[at..].iter().take_while(|a| !a.starts_with('-')))
            .map(String::as_str)
            .collect();
        return Some(format!(
            "give several deployments as one comma-separated list: `{} {}`",
            before[i],
            list.join(",")
        ));
    }
    let command = before.iter().find(|a| !a.starts_with('-'))?;
    let takes_env = tree
        .find_subcommand(command)
        .is_some_and(|c| c.get_arguments().any(|a| a.get_short() == Some('e')));
    takes_env.then(|| {
        format!(
            "the environment is a flag: `bitops {command} -e {bad}` (or BITOPS_ENVIRONMENT={bad})"
        )
    })
}

/// Every long flag of every command, without its dashes.
fn long_flags(tree: &clap::Command) -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_long().map(String::from)),
        );
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut out);
    out
}

/// The command with every subcommand's arguments in place (they are added lazily).
fn command_tree() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}
