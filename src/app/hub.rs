//! `bitops hub …`: `serve` runs the hub (`hub::server`); the other subcommands are the
//! operator's calls of its API (`hub::operate`), printed as text or JSON.

use std::path::PathBuf;

use crate::app::cli::{
    Format, HubClientArgs, HubCommand, HubServeArgs, HubStrategyArgs, StrategyChoice,
};
use crate::app::emit;
use crate::error::{Error, Problem, Result};
use crate::hub::api::{NewDeployment, Redeploy, Strategy};
use crate::hub::client::Client;
use crate::hub::{operate, server, tokens};

fn fail(message: impl Into<String>) -> Error {
    Error::Invalid(vec![Problem::error(message)])
}

pub fn hub(command: HubCommand) -> Result<()> {
    let out = match command {
        HubCommand::Serve(args) => return serve(&args),
        HubCommand::Group(a) => {
            operate::group(&client(&a.client)?, &a.name, &a.select, json(&a.client))
        }
        HubCommand::Deploy(a) => {
            let d = NewDeployment {
                group: a.group.clone(),
                repo_url: a.repo.clone(),
                revision: a.revision.clone(),
                environment: a.environment.clone(),
                only: a.only.clone(),
                strategy: strategy(&a.strategy),
            };
            operate::deploy(&client(&a.client)?, &d, json(&a.client))
        }
        HubCommand::Redeploy(a) => {
            let r = Redeploy {
                group: a.group.clone(),
                revision: a.revision.clone(),
                strategy: strategy(&a.strategy),
            };
            operate::redeploy(&client(&a.client)?, &r, json(&a.client))
        }
        HubCommand::Status(a) => {
            operate::status(&client(&a.client)?, a.deployment, json(&a.client))
        }
        HubCommand::Pause(a) => operate::act(&client(&a.client)?, a.id, "pause", json(&a.client)),
        HubCommand::Resume(a) => operate::act(&client(&a.client)?, a.id, "resume", json(&a.client)),
        HubCommand::Cancel(a) => operate::act(&client(&a.client)?, a.id, "cancel", json(&a.client)),
    };
    emit(&out.map_err(fail)?);
    Ok(())
}

fn json(args: &HubClientArgs) -> bool {
    args.format == Format::Json
}

fn strategy(args: &HubStrategyArgs) -> Strategy {
    match args.strategy {
        StrategyChoice::AllAtOnce => Strategy::AllAtOnce,
        StrategyChoice::Ordered => Strategy::Ordered {
            order: args.order.clone(),
        },
        StrategyChoice::Rolling => Strategy::Rolling {
            batch_size: args.batch_size,
            max_failures: args.max_failures,
        },
    }
}

fn client(args: &HubClientArgs) -> Result<Client> {
    let token = tokens::load(
        args.admin_token_file.as_deref(),
        "BITOPS_HUB_ADMIN_TOKEN",
        "admin token",
    )
    .map_err(fail)?;
    Client::new(&args.hub, Some(token), args.ca_file.as_deref()).map_err(|e| {
        fail(format!(
            "cannot use the CA certificate {}: {e}",
            args.ca_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))
    })
}

/// The default SQLite database: `hub.db` in the state folder (created owner-only).
fn default_database(state_dir: Option<&PathBuf>) -> Result<String> {
    let dir = match state_dir {
        Some(d) => d.clone(),
        None => match (std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME")) {
            (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("bitops/hub"),
            (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/state/bitops/hub"),
            _ => {
                return Err(fail(
                    "no --state-dir or --database, and no HOME to put hub.db in",
                ));
            }
        },
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io("create", &dir, e))?;
    }
    let path = dir.join("hub.db");
    let text = path
        .to_str()
        .ok_or_else(|| fail(format!("{} is not UTF-8", path.display())))?;
    Ok(format!("sqlite://{text}"))
}

fn serve(args: &HubServeArgs) -> Result<()> {
    let admin_token = tokens::load(
        args.admin_token_file.as_deref(),
        "BITOPS_HUB_ADMIN_TOKEN",
        "admin token",
    )
    .map_err(fail)?;
    let join_token = tokens::load(
        args.join_token_file.as_deref(),
        "BITOPS_HUB_JOIN_TOKEN",
        "join token",
    )
    .map_err(fail)?;
    if tokens::matches(&admin_token, &join_token) {
        return Err(fail(
            "the admin token and the join token are the same: give each its own",
        ));
    }
    let database = match &args.database {
        Some(url) => url.clone(),
        None => default_database(args.state_dir.as_ref())?,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        _ => None,
    };
    if args.lost_after.is_zero() {
        return Err(fail("--lost-after must be longer than 0s"));
    }
    server::serve(server::Config {
        listen: args.listen.clone(),
        database,
        admin_token,
        join_token,
        tls,
        lost_after: args.lost_after,
    })
    .map_err(fail)
}
