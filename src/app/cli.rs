//! Command line: every flag can also be set with a `BITOPS_*` variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::settings::parse_bool;
use crate::report::LogFormat;
use crate::report::ci::Ci;

#[derive(Debug, Parser)]
#[command(
    name = "bitops",
    version,
    about = "Deploy a BitOps operations repo: run each tool's hooks and plugin for one environment",
    long_about = None,
    propagate_version = true,
    after_help = "\
Start here:
  bitops plan -e dev --ops-repo ./ops-repo        what would run, nothing runs
  bitops validate --all --ops-repo ./ops-repo     every problem of every environment
  bitops deploy -e dev --ops-repo ./ops-repo      run it

In the Docker image the ops repo is mounted at /opt/bitops_deployment and the environment
comes from BITOPS_ENVIRONMENT: `docker run -e BITOPS_ENVIRONMENT=dev -v $PWD:/opt/bitops_deployment bitops`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Each command's arguments are defined only when it is the one invoked (or for help
/// and completion): a `deploy` does not build the flags of the hub's commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run the deployments of one environment: before-hooks, plugin, after-hooks per tool
    #[command(after_help = "\
Examples:
  bitops deploy -e dev --ops-repo ./ops-repo
  BITOPS_ENVIRONMENT=prod bitops deploy --keep-workspace
  bitops deploy -e prod --dry-run            # plugins preview their changes, hooks skipped
  docker run -e BITOPS_ENVIRONMENT=dev -v $PWD:/opt/bitops_deployment bitops deploy")]
    Deploy(DeployArgs),
    /// Show what `deploy` would run, without running or writing anything
    #[command(after_help = "\
Examples:
  bitops plan -e dev --ops-repo ./ops-repo
  bitops plan -e prod --format json | jq '.steps[].deploy'")]
    Plan(PlanArgs),
    /// Check the configuration of one or every environment and report every problem; runs nothing
    #[command(after_help = "\
Examples:
  bitops validate -e dev --ops-repo ./ops-repo
  bitops validate --all --ops-repo ./ops-repo
  bitops validate --all --format json | jq '.problems[] | select(.severity == \"error\")'")]
    Validate(ValidateArgs),
    /// Install the plugins listed under `bitops.plugins` of the image-level config
    #[command(after_help = "\
Sources (per plugin under bitops.plugins):
  terraform: {source: builtin}                                  bitops' own plugin
  mine:      {source: file:///src/my-plugin}                    a local folder
  helm:      {source: https://git.example.com/helm.git, source_commit: <40-char SHA>}
             (or source_branch / source_tag; a commit is the safest pin)

Examples:
  bitops install -c /opt/bitops/bitops.config.yaml
  bitops install -c bitops.config.yaml --plugins-dir ./plugins")]
    Install(InstallArgs),
    /// Check that the programs the plugins need are installed: tool, needed by, found at, version
    #[command(after_help = "\
Examples:
  bitops doctor                                  every built-in and installed plugin
  bitops doctor -e prod --ops-repo ./ops-repo    what a deploy of prod needs
  bitops doctor --format json

Exit code 0 when everything needed is found, 127 when something is missing.")]
    Doctor(DoctorArgs),
    /// List the environments of the ops repo, or with -e the deployments of one
    #[command(after_help = "\
Examples:
  bitops list --ops-repo ./ops-repo
  bitops list -e prod --ops-repo ./ops-repo")]
    List(ListArgs),
    /// List the installed and built-in plugins, or show the settings of one
    #[command(after_help = "\
Examples:
  bitops plugins
  bitops plugins show terraform
  bitops plugins show helm --format markdown")]
    Plugins(PluginsArgs),
    /// For plugins: resolve config files against a plugin schema and print shell exports
    #[command(after_help = "\
Prints `export NAME='value'` lines: BITOPS_<PLUGIN>_CLI, BITOPS_<PLUGIN>_CLI_QUOTED and every
export_env of the schema, resolved like bitops resolves a tool folder's config (variables
BITOPS_<PLUGIN>_<KEY> first, then the config files in order, then the schema defaults).
Problems go to stderr with file and line; any error exits 1 and prints nothing.

Example, in a plugin's deploy.sh (one config per chart, over the tool folder's):
  eval \"$(\"$BITOPS_BIN\" resolve --config \"$chart/bitops.config.yaml\" --config bitops.config.yaml)\"")]
    Resolve(ResolveArgs),
    /// Print or write JSON Schemas of the config files and the report, for editors and CI
    #[command(after_help = "\
JSON Schema draft 2020-12 (only keywords draft-07 tools also know), generated from the code
and from each plugin's bitops.schema.yaml, so they match what this bitops accepts.

Examples:
  bitops schema core                      # the core config (`bitops:`), to stdout
  bitops schema plugin terraform          # a tool folder's config, terraform plugin
  bitops schema plugin mine --plugins-dir ./plugins
  bitops schema report | jq .properties.status
  bitops schema --all --out .bitops       # bitops.config.schema.json, report.schema.json
                                          # and <plugin>.schema.json for every plugin

Then in a config file (the path is relative to the file):
  # yaml-language-server: $schema=../.bitops/bitops.config.schema.json
and in dev/terraform/bitops.config.yaml:
  # yaml-language-server: $schema=../../.bitops/terraform.schema.json
Nothing is written without --out.")]
    Schema(SchemaArgs),
    /// Take deployment jobs from a hub (or follow a git branch) and deploy them on this machine
    #[command(after_help = "\
The agent runs on (or next to) the machines it deploys to and holds their secrets; a hub
hands it jobs (a git URL, an exact commit, an environment) and hears back only masked
status. Each job runs the same engine as `bitops deploy`, on a fresh checkout of the commit.

Examples:
  # with a hub: the join token from a file (never on the command line)
  bitops agent --hub https://hub.example:8443 --join-token-file /etc/bitops/join-token \\
      --label env=prod --label region=eu --secrets /etc/bitops/secrets.env
  # without a hub: deploy each new commit of main to prod (GitOps)
  bitops agent --no-hub --repo https://git.example/ops.git -e prod --secrets /etc/bitops/secrets
  # deploy the newest v* tag once and exit with the deploy's exit code
  bitops agent --no-hub --repo https://git.example/ops.git --tag 'v*' -e prod --once

Secrets (--secrets): an env file (KEY=VALUE lines, # comments; mode 0600 or 0400) or a folder
(mode 0700, one file per variable named after it, 0600 or 0400). Their values join every
step's environment, are masked in everything the agent prints or sends, and never leave it.
SIGTERM/SIGINT: the running deploy winds down (--grace-period), the job is reported
interrupted, the agent exits 143/130; a second signal stops it at once.")]
    Agent(AgentArgs),
    /// Pull-based delivery: run the hub that agents poll for jobs; define groups, deploy, watch (operator commands)
    #[command(after_help = "\
The hub hands out jobs; agents (`bitops agent --hub URL`) poll it, deploy with their own
credentials and report back. The hub keeps state in SQLite (default) or PostgreSQL (for
several replicas). Tokens: the admin token (operators, dashboard) and the join token
(agents registering) come from --admin-token-file/--join-token-file (owner-only files) or
BITOPS_HUB_ADMIN_TOKEN/BITOPS_HUB_JOIN_TOKEN; never from the command line.

Examples:
  bitops hub serve --listen 0.0.0.0:8443 --tls-cert hub.crt --tls-key hub.key \\
    --admin-token-file /etc/bitops/admin.token --join-token-file /etc/bitops/join.token
  bitops hub serve --database postgres://hub@db.internal/hub      # replicas share state
  bitops hub group prod --select env=prod --select ec2.region=eu-west-1
  bitops hub deploy --group prod --repo https://git.example.com/ops.git \\
    --revision 3f2c9a4e1b7d6c5a8f9e0d1c2b3a4f5e6d7c8b9a -e prod --strategy ordered --order web-1,web-2
  bitops hub deploy --group prod ... --strategy rolling --batch-size 2 --max-failures 1
  bitops hub redeploy --group prod --revision 3f2c9a4e1b7d6c5a8f9e0d1c2b3a4f5e6d7c8b9a
  bitops hub status                     # groups, agents, deployments
  bitops hub status --deployment 7 --format json
  bitops hub pause 7; bitops hub resume 7; bitops hub cancel 7

Dashboard: open the hub's URL in a browser (any user name, the admin token as password).")]
    Hub {
        #[command(subcommand)]
        command: HubCommand,
    },
    /// Print a completion script for your shell: subcommands, flags, and what the ops repo holds
    #[command(after_help = "\
The script asks bitops for the candidates as you type. From the ops repo of the command line
being completed (--ops-repo DIR if typed, else BITOPS_OPS_REPO, else the default):
  -e <TAB>              the environments
  --only a,<TAB>        the deployments of the environment (-e, else BITOPS_ENVIRONMENT), also --skip
  plugins show <TAB>    the built-in plugins and those in --plugins-dir (else BITOPS_PLUGINS_DIR)
It only reads; a repo it cannot read offers nothing. The script runs bitops by the name or
path that printed it: print it again after moving or upgrading bitops.

Examples:
  bitops completions bash > /etc/bash_completion.d/bitops       # or in ~/.bashrc: source <(bitops completions bash)
  bitops completions zsh > \"${fpath[1]}/_bitops\"                  # or in ~/.zshrc: source <(bitops completions zsh)
  bitops completions fish > ~/.config/fish/completions/bitops.fish")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environment to check [env: BITOPS_ENVIRONMENT]
    #[arg(short, long, value_name = "ENV", conflicts_with = "all")]
    pub environment: Option<String>,
    /// Check every environment of the ops repo
    #[arg(long)]
    pub all: bool,
    /// Fail on warnings too (hidden default-folder files, skipped deployments)
    #[arg(long)]
    pub strict: bool,
    /// Also print each error as a CI annotation (GitHub: `::error file=…,line=…::`)
    #[arg(long, value_enum, default_value_t = Ci::Auto, env = "BITOPS_CI")]
    pub ci: Ci,
    #[command(flatten)]
    pub inputs: Inputs,
    /// When to use colour; NO_COLOR in the environment means never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "BITOPS_COLOR")]
    pub color: ColorChoice,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Plugin whose schema applies
    #[arg(long, value_name = "NAME", env = "BITOPS_PLUGIN_NAME")]
    pub plugin: String,
    /// The schema [default: bitops.schema.yaml of $BITOPS_INSTALLED_PLUGIN_DIR, or of the built-in plugin]
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// A config file; repeat it, the first one wins; files that do not exist are ignored
    #[arg(long = "config", value_name = "FILE")]
    pub configs: Vec<PathBuf>,
    /// `shell`: export lines to eval; `json`: the CLI words, exports and values with their origin
    #[arg(long, value_enum, default_value_t = ResolveFormat::Shell)]
    pub format: ResolveFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveFormat {
    Shell,
    Json,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only what a deploy of this environment needs [env: BITOPS_ENVIRONMENT]
    #[arg(short, long, value_name = "ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true,
    subcommand_value_name = "SCHEMA"
)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub which: Option<SchemaCommand>,
    /// Every schema: the core config, the report and each plugin's tool config (with --out)
    #[arg(long, required = true, requires = "out")]
    pub all: bool,
    /// Write the schema files into DIR (created when missing) and print their paths
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder of installed plugins [default: /opt/bitops/scripts/installed_plugins when it exists]
    #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// The core config: a bitops.config.yaml with the `bitops:` key (image-level, environment, default folder)
    Core {
        /// Write bitops.config.schema.json into DIR instead of printing it
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The JSON report of `deploy --report` (schema_version 1)
    Report {
        /// Write report.schema.json into DIR instead of printing it
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// A tool folder's bitops.config.yaml for one plugin, from its bitops.schema.yaml
    Plugin {
        /// Plugin name: installed in --plugins-dir, else built in
        name: String,
        /// Folder of installed plugins [default: /opt/bitops/scripts/installed_plugins when it exists]
        #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR")]
        plugins_dir: Option<PathBuf>,
        /// Write <NAME>.schema.json into DIR instead of printing it
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show the deployments of this environment [env: BITOPS_ENVIRONMENT]
    #[arg(short, long, value_name = "ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct PluginsArgs {
    #[command(subcommand)]
    pub show: Option<PluginsCommand>,
    /// Folder of installed plugins [default: /opt/bitops/scripts/installed_plugins when it exists]
    #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR", global = true)]
    pub plugins_dir: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Text, global = true)]
    pub format: TableFormat,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Show a plugin's settings: key, type, variables, CLI flag, default, required, description
    Show {
        /// Plugin name
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub dry_run: DryRun,
    /// Write a JSON report of the run (versioned schema) to FILE, whatever the outcome
    #[arg(long, value_name = "FILE", env = "BITOPS_REPORT")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML file (one test case per deployment) to FILE, whatever the outcome
    #[arg(long, value_name = "FILE", env = "BITOPS_JUNIT")]
    pub junit: Option<PathBuf>,
    /// Format of bitops' console output: text, or JSON lines for log shippers
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "BITOPS_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// CI log features: groups per step, error annotations, a summary table
    #[arg(long, value_enum, default_value_t = Ci::Auto, env = "BITOPS_CI")]
    pub ci: Ci,
    /// Folder for bitops' state (the per-environment deploy locks) [default: $XDG_STATE_HOME/bitops or ~/.local/state/bitops]
    #[arg(long, value_name = "DIR", env = "BITOPS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// When another deploy of the environment runs, wait up to DURATION (90s, 10m) instead of failing at once
    #[arg(long, value_name = "DURATION", env = "BITOPS_WAIT_LOCK", value_parser = parse_duration_flag)]
    pub wait_lock: Option<std::time::Duration>,
    /// On a timeout or SIGINT/SIGTERM, how long a step's processes get after SIGTERM before SIGKILL
    #[arg(long, value_name = "DURATION", env = "BITOPS_GRACE_PERIOD", value_parser = parse_duration_flag, default_value = "10s")]
    pub grace_period: std::time::Duration,
    /// When a step prints nothing for this long, say it is still running (0: never)
    #[arg(long, value_name = "DURATION", env = "BITOPS_HEARTBEAT", value_parser = parse_duration_flag, default_value = "30s")]
    pub heartbeat: std::time::Duration,
    /// Keep the temporary workspace after the run and print its path
    #[arg(long, env = "BITOPS_KEEP_WORKSPACE", value_parser = parse_bool_flag, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub keep_workspace: bool,
    /// Run up to N steps at once, as their dependencies allow (`depends_on`)
    #[arg(long, value_name = "N", env = "BITOPS_PARALLEL", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// How the output of steps running at once is shown [default: stream with --parallel 1; else prefixed, grouped under CI]
    #[arg(long, value_enum, value_name = "MODE", env = "BITOPS_OUTPUT")]
    pub output: Option<OutputMode>,
}

/// How step output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// As it comes, unmarked (the BitOps way; one step at a time reads well)
    Stream,
    /// Each line after its step's alias (`net │ …`), coloured per step on a terminal
    Prefixed,
    /// Each step's output held and shown whole when the step ends
    Grouped,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub dry_run: DryRun,
    /// Output format: text (steps in levels), json (with the graph's edges), or a Mermaid graph
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Image-level core config listing the plugins [default: /opt/bitops/bitops.config.yaml when it exists, else the built-in plugins]
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "BITOPS_BUILD_CONFIG_YAML",
        alias = "bitops_config_file"
    )]
    pub config: Option<PathBuf>,
    /// Folder to install into [default: /opt/bitops/scripts/installed_plugins]
    #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// When to use colour; NO_COLOR in the environment means never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "BITOPS_COLOR")]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct DryRun {
    /// Take every plugin's no-change path (exports BITOPS_DRY_RUN=true to each step); user hooks are skipped
    #[arg(long, env = "BITOPS_DRY_RUN", value_parser = parse_bool_flag, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub dry_run: bool,
    /// With --dry-run, still run the before/after hooks (they may change real things)
    #[arg(long, env = "BITOPS_DRY_RUN_HOOKS", value_parser = parse_bool_flag, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub dry_run_hooks: bool,
}

// Where a command's inputs are: the ops repo, the image-level config, the plugins.
#[derive(Debug, Args)]
pub struct Inputs {
    /// The operations repo [default: /opt/bitops_deployment when it exists, else the current folder]
    #[arg(long, value_name = "DIR", env = "BITOPS_OPS_REPO")]
    pub ops_repo: Option<PathBuf>,
    /// Image-level core config [default: /opt/bitops/bitops.config.yaml when it exists, else built-in defaults]
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "BITOPS_BUILD_CONFIG_YAML",
        alias = "bitops_config_file"
    )]
    pub config: Option<PathBuf>,
    /// Folder of installed plugins [default: /opt/bitops/scripts/installed_plugins when it exists]
    #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Environment to deploy: a top-level folder of the ops repo [env: BITOPS_ENVIRONMENT, or ENVIRONMENT (deprecated)]
    #[arg(short, long, value_name = "ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL [overrides logging.level and BITOPS_LOGGING_LEVEL]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// When to use colour; NO_COLOR in the environment means never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "BITOPS_COLOR")]
    pub color: ColorChoice,
    /// Run only these deployment aliases (comma-separated), in the configured order
    #[arg(
        long,
        value_name = "ALIASES",
        env = "BITOPS_ONLY",
        value_delimiter = ','
    )]
    pub only: Vec<String>,
    /// Leave out these deployment aliases (comma-separated)
    #[arg(
        long,
        value_name = "ALIASES",
        env = "BITOPS_SKIP",
        value_delimiter = ','
    )]
    pub skip: Vec<String>,
    /// Follow `depends_on`: with --only, also run what the chosen steps depend on; with --changed-since, also what depends on the changed steps
    #[arg(long, env = "BITOPS_WITH_DEPS", value_parser = parse_bool_flag, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub with_deps: bool,
    /// Run only the deployments whose files changed since the git commit REF (uncommitted and untracked files count)
    #[arg(long, value_name = "REF", env = "BITOPS_CHANGED_SINCE")]
    pub changed_since: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_duration_flag(text: &str) -> Result<std::time::Duration, String> {
    crate::config::settings::parse_duration(text).map_err(|why| {
        if why.ends_with("is not a duration") {
            format!("{why}: write seconds (600) or 90s, 45m, 1h30m")
        } else {
            why
        }
    })
}

/// A duration that may also be milliseconds (`200ms`), at least 50 ms.
fn parse_poll_flag(text: &str) -> Result<std::time::Duration, String> {
    let d = match text.trim().strip_suffix("ms") {
        Some(ms) => ms
            .trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| format!("`{text}` is not a duration: write 500ms, 2s or 1m"))?,
        None => parse_duration_flag(text)?,
    };
    if d < std::time::Duration::from_millis(50) {
        return Err(format!("`{text}` is too short: poll at most every 50ms"));
    }
    Ok(d)
}

fn parse_bool_flag(text: &str) -> Result<bool, String> {
    parse_bool(text).ok_or_else(|| format!("expected true or false, found `{text}`"))
}

/// Take jobs from a hub (or follow a git branch) and deploy them here.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The hub to register with and take jobs from (https://hub.example:8443)
    #[arg(
        long,
        value_name = "URL",
        env = "BITOPS_HUB_URL",
        required_unless_present = "no_hub"
    )]
    pub hub: Option<String>,
    /// Take no jobs from a hub: deploy each new commit of --repo (its --branch, or the newest tag matching --tag)
    #[arg(long, conflicts_with = "hub")]
    pub no_hub: bool,
    /// The agent's name, unique per hub [default: the host name]
    #[arg(long, value_name = "NAME", env = "BITOPS_AGENT_NAME")]
    pub name: Option<String>,
    /// A label groups can select on (repeatable): --label env=prod --label region=eu
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// File holding the hub's join token [else BITOPS_AGENT_JOIN_TOKEN]; a token is never taken on the command line
    #[arg(long, value_name = "FILE")]
    pub join_token_file: Option<PathBuf>,
    /// Secrets for every step, kept on this machine: an env file (KEY=VALUE lines) or a folder (one file per variable); owner-only (0600/0700) or refused
    #[arg(long, value_name = "PATH", env = "BITOPS_AGENT_SECRETS")]
    pub secrets: Option<PathBuf>,
    /// Where the agent keeps its token, checkouts and status not yet sent [default: $XDG_STATE_HOME/bitops/agent or ~/.local/state/bitops/agent]
    #[arg(long, value_name = "DIR", env = "BITOPS_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// How often to poll the hub (or the git remote): 2s, 500ms, 1m
    #[arg(long, value_name = "DURATION", env = "BITOPS_AGENT_POLL", value_parser = parse_poll_flag, default_value = "2s")]
    pub poll: std::time::Duration,
    /// A CA certificate (PEM) to trust for the hub's TLS
    #[arg(long, value_name = "FILE", env = "BITOPS_HUB_CA")]
    pub ca_file: Option<PathBuf>,
    /// Instance metadata endpoint read for labels (EC2 IMDSv2); `none` reads nothing
    #[arg(
        long,
        value_name = "URL",
        env = "BITOPS_AGENT_METADATA_URL",
        default_value = "http://169.254.169.254"
    )]
    pub metadata_url: String,
    /// --no-hub: the ops repo's git URL
    #[arg(long, value_name = "URL", requires = "no_hub")]
    pub repo: Option<String>,
    /// --no-hub: the branch to follow [default: main]
    #[arg(
        long,
        value_name = "BRANCH",
        requires = "no_hub",
        conflicts_with = "tag"
    )]
    pub branch: Option<String>,
    /// --no-hub: follow the newest tag matching this glob (v*) instead of a branch
    #[arg(long, value_name = "PATTERN", requires = "no_hub")]
    pub tag: Option<String>,
    /// --no-hub: the environment to deploy
    #[arg(short, long, value_name = "ENV", requires = "no_hub")]
    pub environment: Option<String>,
    /// Image-level core config for each deploy (as `deploy -c`)
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "BITOPS_BUILD_CONFIG_YAML"
    )]
    pub config: Option<PathBuf>,
    /// Installed plugins for each deploy (as `deploy --plugins-dir`)
    #[arg(long, value_name = "DIR", env = "BITOPS_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// On SIGTERM, how long the running step gets after SIGTERM before SIGKILL
    #[arg(long, value_name = "DURATION", env = "BITOPS_GRACE_PERIOD", value_parser = parse_duration_flag, default_value = "10s")]
    pub grace_period: std::time::Duration,
    /// Run one job (with --no-hub: deploy the current commit once) and exit
    #[arg(long)]
    pub once: bool,
    /// The agent's log level: DEBUG also prints what it found and decided (never secret values)
    #[arg(long, value_name = "LEVEL", default_value = "INFO")]
    pub log_level: String,
}

/// `bitops hub …`
#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Run the hub: the API agents poll, the strategies, and the dashboard
    Serve(HubServeArgs),
    /// Define (or redefine) a group: the agents whose labels or metadata hold every KEY=VALUE
    Group(HubGroupArgs),
    /// Deploy a revision of an ops repo to a group, with a strategy
    Deploy(HubDeployArgs),
    /// Deploy again, to a group, a revision that succeeded before
    Redeploy(HubRedeployArgs),
    /// Agents, groups and deployments; or one deployment with its jobs and output
    Status(HubStatusArgs),
    /// Stop handing out the jobs of a deployment (running ones finish)
    Pause(HubIdArgs),
    /// Go on with a paused deployment
    Resume(HubIdArgs),
    /// Cancel a deployment: jobs not started never start
    Cancel(HubIdArgs),
}

#[derive(Debug, Args)]
pub struct HubServeArgs {
    /// Address to listen on
    #[arg(
        long,
        value_name = "ADDR",
        env = "BITOPS_HUB_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,
    /// Database: sqlite:///path/hub.db (default: hub.db in --state-dir) or postgres://user@host/db
    #[arg(long, value_name = "URL", env = "BITOPS_HUB_DATABASE")]
    pub database: Option<String>,
    /// Folder of the default SQLite database [default: $XDG_STATE_HOME/bitops/hub or ~/.local/state/bitops/hub]
    #[arg(long, value_name = "DIR", env = "BITOPS_HUB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// File holding the admin token (operators, dashboard) [else BITOPS_HUB_ADMIN_TOKEN]
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// File holding the join token agents register with [else BITOPS_HUB_JOIN_TOKEN]
    #[arg(long, value_name = "FILE")]
    pub join_token_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key the hub speaks HTTPS only
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// An agent not heard from for this long is lost; its running job counts as failed
    #[arg(long, value_name = "DURATION", env = "BITOPS_HUB_LOST_AFTER", value_parser = parse_duration_flag, default_value = "30s")]
    pub lost_after: std::time::Duration,
}

/// How an operator command reaches the hub.
#[derive(Debug, Args)]
pub struct HubClientArgs {
    /// The hub
    #[arg(
        long,
        value_name = "URL",
        env = "BITOPS_HUB_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub hub: String,
    /// File holding the admin token [else BITOPS_HUB_ADMIN_TOKEN]
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// A CA certificate (PEM) to trust for the hub's TLS
    #[arg(long, value_name = "FILE", env = "BITOPS_HUB_CA")]
    pub ca_file: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct HubGroupArgs {
    #[command(flatten)]
    pub client: HubClientArgs,
    /// The group's name
    pub name: String,
    /// KEY=VALUE pairs an agent's labels or metadata must all hold (repeatable)
    #[arg(long = "select", value_name = "KEY=VALUE")]
    pub select: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyChoice {
    /// Every agent at once
    AllAtOnce,
    /// One agent after another (--order, then by name); stops at the first failure
    Ordered,
    /// --batch-size agents at a time; stops when more than --max-failures failed
    Rolling,
}

#[derive(Debug, Args)]
pub struct HubStrategyArgs {
    /// How the group's agents take their turns
    #[arg(long, value_enum, default_value_t = StrategyChoice::AllAtOnce)]
    pub strategy: StrategyChoice,
    /// ordered: agent names first in line (comma-separated)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub order: Vec<String>,
    /// rolling: agents per batch
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch_size: u32,
    /// rolling: failed agents tolerated before the rollout stops
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_failures: u32,
}

#[derive(Debug, Args)]
pub struct HubDeployArgs {
    #[command(flatten)]
    pub client: HubClientArgs,
    /// The group to deploy to
    #[arg(long, value_name = "NAME")]
    pub group: String,
    /// The ops repo's git URL, as the agents fetch it
    #[arg(long, value_name = "URL")]
    pub repo: String,
    /// The commit to deploy (full id)
    #[arg(long, value_name = "SHA")]
    pub revision: String,
    /// The environment to deploy
    #[arg(short, long, value_name = "ENV")]
    pub environment: String,
    /// Only these deployment aliases (comma-separated)
    #[arg(long, value_name = "ALIASES", value_delimiter = ',')]
    pub only: Vec<String>,
    #[command(flatten)]
    pub strategy: HubStrategyArgs,
}

#[derive(Debug, Args)]
pub struct HubRedeployArgs {
    #[command(flatten)]
    pub client: HubClientArgs,
    /// The group to deploy to
    #[arg(long, value_name = "NAME")]
    pub group: String,
    /// A commit that a deployment brought to success before
    #[arg(long, value_name = "SHA")]
    pub revision: String,
    #[command(flatten)]
    pub strategy: HubStrategyArgs,
}

#[derive(Debug, Args)]
pub struct HubStatusArgs {
    #[command(flatten)]
    pub client: HubClientArgs,
    /// One deployment, with its jobs and their output
    #[arg(long, value_name = "ID")]
    pub deployment: Option<i64>,
}

#[derive(Debug, Args)]
pub struct HubIdArgs {
    #[command(flatten)]
    pub client: HubClientArgs,
    /// The deployment
    pub id: i64,
}
