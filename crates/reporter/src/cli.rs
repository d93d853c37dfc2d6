//! The `shipwatch` command line, declared once.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Reports deployments to a Shipwatch server: statuses, stages and live logs from a CI job
/// or a script; instance heartbeats; a deployment's log in the terminal.
#[derive(Debug, Parser)]
#[command(name = "shipwatch", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a command as a deployment: creates it, streams the command's output as its log,
    /// follows its stages, reports DEPLOYMENT OK or an error from its exit code, and exits
    /// with that code.
    Deploy(Deploy),
    /// Reports something other than a deployment.
    Report {
        /// What to report.
        #[command(subcommand)]
        what: Report,
    },
    /// Prints a deployment's log in the terminal, following it live until it ends.
    Tail(Tail),
}

/// Where the server is and how to write to it.
#[derive(Clone, Debug, Args)]
pub struct Server {
    /// The Shipwatch server, e.g. https://shipwatch.example.com.
    #[arg(long, env = "SHIPWATCH_SERVER", value_name = "URL")]
    pub server: String,
    /// A write token of the server (its `--write-token NAME=TOKEN`). Prefer the variable:
    /// a command line is visible to every user of the machine.
    #[arg(
        long,
        env = "SHIPWATCH_WRITE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

/// `shipwatch deploy`.
#[derive(Clone, Debug, Args)]
pub struct Deploy {
    /// The server and the write token.
    #[command(flatten)]
    pub server: Server,
    /// The environment (created when the server does not know it).
    #[arg(long = "env", env = "SHIPWATCH_ENV", value_name = "ENV")]
    pub env: String,
    /// The service (created when the server does not know it); none: an environment-wide
    /// deployment.
    #[arg(long, env = "SHIPWATCH_SERVICE", value_name = "SERVICE")]
    pub service: Option<String>,
    /// The version deployed (default: the CI's commit, short).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// The version it replaces.
    #[arg(long, value_name = "VERSION")]
    pub previous_version: Option<String>,
    /// The kind of a service this creates.
    #[arg(long, default_value = "application", value_parser = ["application", "container", "database", "cronjob", "lifecycle_job"])]
    pub kind: String,
    /// The deployment's id (default: the CI job's id with the environment and service, else a
    /// new one). Two `deploy`s with the same id and `--keep-open` on the first report one
    /// deployment.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Who or what started it (default: the CI's user or trigger).
    #[arg(long, value_name = "WHO")]
    pub triggered_by: Option<String>,
    /// A link back to the CI run (default: the CI's job URL).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The stage of the command's output until a marker in it names another (GitLab's
    /// `section_start`, Buildkite's `---`); default: deploy.
    #[arg(long, value_name = "NAME")]
    pub stage: Option<String>,
    /// Stages whose name contains one of these build (BUILDING, and BUILDING ERROR when the
    /// command fails in one); the others deploy.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "build,compile,bundle,package,image,install,test,lint"
    )]
    pub build_stages: Vec<String>,
    /// More commands of this deployment follow (same --id): on success leave it in progress.
    #[arg(long)]
    pub keep_open: bool,
    /// Output kept in memory while the server is away, in bytes; past it, on disk.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub buffer_bytes: usize,
    /// Output kept on disk while the server is away, in bytes; past it lines are dropped
    /// (the log then says which were not received).
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    pub spill_bytes: u64,
    /// Where the on-disk buffer goes (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// After the command ends, how long to keep trying to deliver what is left, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub flush_timeout: u64,
    /// After a cancel (Ctrl-C, SIGTERM), how long the command has to stop before it is
    /// killed, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub kill_after: u64,
    /// Do not echo the command's output (it is still reported).
    #[arg(long, short)]
    pub quiet: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `shipwatch report ...`.
#[derive(Debug, Subcommand)]
pub enum Report {
    /// Reports an instance of a service (a heartbeat: the server marks an instance it has
    /// not heard from for its `--instance-ttl` UNKNOWN).
    Instance(Instance),
}

/// `shipwatch report instance`.
#[derive(Clone, Debug, Args)]
pub struct Instance {
    /// The server and the write token.
    #[command(flatten)]
    pub server: Server,
    /// The environment (created when the server does not know it).
    #[arg(long = "env", env = "SHIPWATCH_ENV", value_name = "ENV")]
    pub env: String,
    /// The service (created when the server does not know it).
    #[arg(long, env = "SHIPWATCH_SERVICE", value_name = "SERVICE")]
    pub service: String,
    /// The instance's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Its running status.
    #[arg(long, default_value = "RUNNING", value_parser = ["RUNNING", "STARTING", "STOPPING", "STOPPED", "ERROR", "COMPLETED"])]
    pub status: String,
    /// Why it is in that status (e.g. CrashLoopBackOff).
    #[arg(long)]
    pub reason: Option<String>,
    /// A message that goes with the reason.
    #[arg(long)]
    pub message: Option<String>,
    /// The exit code of its last run.
    #[arg(long)]
    pub exit_code: Option<i32>,
    /// Restarts so far.
    #[arg(long)]
    pub restarts: Option<u32>,
    /// The version it runs.
    #[arg(long)]
    pub version: Option<String>,
    /// When it started (Unix ms; default: when this command started).
    #[arg(long)]
    pub started_at: Option<u64>,
    /// The kind of a service this creates.
    #[arg(long, default_value = "application", value_parser = ["application", "container", "database", "cronjob", "lifecycle_job"])]
    pub kind: String,
    /// Report again every this many seconds until stopped (a heartbeat); 0: once.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub every: u64,
}

/// `shipwatch tail`.
#[derive(Clone, Debug, Args)]
pub struct Tail {
    /// The deployment's page (`.../deployments/ID/logs`), or the server's URL with --id.
    pub url: String,
    /// The deployment's id, when the URL is the server's.
    #[arg(long)]
    pub id: Option<String>,
    /// The server's read token, when it has one.
    #[arg(long, env = "SHIPWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Keep the output's colours even when it is not a terminal.
    #[arg(long)]
    pub color: bool,
    /// Print what the log holds and stop, rather than follow it.
    #[arg(long)]
    pub no_follow: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn deploy_takes_the_command_after_dashes() {
        let cli = Cli::try_parse_from([
            "shipwatch",
            "deploy",
            "--server",
            "http://x",
            "--env",
            "production",
            "--service",
            "api",
            "--version",
            "9f3c2a1",
            "--",
            "./deploy.sh",
            "--fast",
        ])
        .unwrap();
        let Command::Deploy(d) = cli.command else {
            panic!("deploy")
        };
        assert_eq!(d.command, ["./deploy.sh", "--fast"]);
        assert_eq!(d.build_stages[0], "build");
    }
}
