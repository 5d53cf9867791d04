//! Running commands.

use std::path::Path;
use std::process::{Command, Output};

/// How a command ended, and what it printed.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(Output { status, stdout, stderr }: Output) -> Self {
        Run { status, stdout: String::from_utf8_lossy(&stdout).into_owned(), stderr: String::from_utf8_lossy(&stderr).into_owned() }
    }
}

/// Runs `program` with `args` in `dir`.
pub fn run(dir: &Path, program: &str, args: &[&str]) -> Run {
    run_command(Command::new(program).args(args).current_dir(dir))
}

/// Runs a command that is set up already (environment, directory).
pub fn run_command(cmd: &mut Command) -> Run {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program())).into()
}

/// Runs a command that must succeed and returns its stdout.
pub fn ok(dir: &Path, program: &str, args: &[&str]) -> String {
    let r = run(dir, program, args);
    assert!(r.status.success(), "`{program} {}` failed ({}):\n{}\n{}", args.join(" "), r.status, r.stdout, r.stderr);
    r.stdout
}
