//! Printing (`--dry-run`) or running a command list.
//!
//! Either way every command is first printed as `program args...` on stdout. A real run then
//! executes it with stdin from /dev/null and stdout shared with ours; its stderr is ours too,
//! except for [`OnFailure::IgnoreQuietly`] commands, whose stderr is discarded.

use std::fmt;
use std::io::{self, Write};
use std::process::{Command as Process, Stdio};

use crate::builder::{Command, OnFailure};

/// Why a command failed, worded as upstream reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// Runs (or pretends to run) single commands.
pub trait Runner {
    /// Prints the command line, then runs it; `quiet` discards its stderr.
    fn run(&mut self, cmd: &Command, quiet: bool) -> Result<(), RunError>;
    /// Prints a line of our own on stdout.
    fn say(&mut self, line: &str);
}

/// `--dry-run`: prints the commands, every one succeeds.
pub struct DryRun<W: Write> {
    pub out: W,
}

impl<W: Write> Runner for DryRun<W> {
    fn run(&mut self, cmd: &Command, _quiet: bool) -> Result<(), RunError> {
        let _ = writeln!(self.out, "{cmd}");
        Ok(())
    }

    fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }
}

/// Runs the programs found on `PATH`.
#[derive(Debug, Default)]
pub struct Real;

impl Runner for Real {
    fn run(&mut self, cmd: &Command, quiet: bool) -> Result<(), RunError> {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{cmd}");
        let _ = out.flush();
        drop(out);
        let name = cmd.program.name();
        let status = Process::new(name)
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(if quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .status()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => RunError(format!(
                    "exec: {name:?}: executable file not found in $PATH"
                )),
                _ => RunError(format!("fork/exec {name}: {e}")),
            })?;
        if status.success() {
            return Ok(());
        }
        match status.code() {
            Some(code) => Err(RunError(format!("exit status {code}"))),
            None => {
                use std::os::unix::process::ExitStatusExt;
                Err(RunError(format!(
                    "signal: {}",
                    signal_name(status.signal().unwrap_or(0))
                )))
            }
        }
    }

    fn say(&mut self, line: &str) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        1 => "hangup".into(),
        2 => "interrupt".into(),
        6 => "aborted".into(),
        9 => "killed".into(),
        11 => "segmentation fault".into(),
        13 => "broken pipe".into(),
        15 => "terminated".into(),
        n => format!("signal {n}"),
    }
}

/// Runs one command with its failure policy. An error means the run must stop.
pub fn execute_one(runner: &mut dyn Runner, cmd: &Command) -> Result<(), RunError> {
    match &cmd.on_failure {
        OnFailure::Abort => runner.run(cmd, false),
        OnFailure::IgnoreQuietly => {
            let _ = runner.run(cmd, true);
            Ok(())
        }
        OnFailure::Warn(line) => {
            if runner.run(cmd, false).is_err() {
                runner.say(line);
            }
            Ok(())
        }
        OnFailure::Fallback(other) => match runner.run(cmd, false) {
            Ok(()) => Ok(()),
            Err(_) => execute_one(runner, other),
        },
    }
}

/// Runs the commands in order, stopping at the first that must not fail.
pub fn execute(runner: &mut dyn Runner, cmds: &[Command]) -> Result<(), RunError> {
    cmds.iter().try_for_each(|c| execute_one(runner, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Program;

    /// Fails the commands whose line starts with one of `failing`, records everything.
    struct Scripted {
        failing: Vec<&'static str>,
        log: Vec<String>,
    }

    impl Runner for Scripted {
        fn run(&mut self, cmd: &Command, quiet: bool) -> Result<(), RunError> {
            let line = cmd.to_string();
            self.log
                .push(format!("{}{line}", if quiet { "(quiet) " } else { "" }));
            if self.failing.iter().any(|f| line.starts_with(f)) {
                Err(RunError("exit status 1".into()))
            } else {
                Ok(())
            }
        }
        fn say(&mut self, line: &str) {
            self.log.push(format!("say: {line}"));
        }
    }

    #[test]
    fn failure_policies() {
        let cmds = vec![
            Command::new(Program::Ip6tables, &["-F", "INPUT"]).on_failure(OnFailure::IgnoreQuietly),
            Command::new(Program::Iptables, &["-m", "socket"])
                .on_failure(OnFailure::Warn("No socket match support")),
            Command::new(Program::Ip, &["route", "add"]).on_failure(OnFailure::Fallback(Box::new(
                Command::new(Program::Ip, &["route", "show", "table", "all"]),
            ))),
            Command::new(Program::Iptables, &["-N", "X"]),
            Command::new(Program::Iptables, &["-N", "Y"]),
        ];
        let mut r = Scripted {
            failing: vec![
                "ip6tables -F",
                "iptables -m",
                "ip route add",
                "iptables -N X",
            ],
            log: vec![],
        };
        let e = execute(&mut r, &cmds).unwrap_err();
        assert_eq!(e.to_string(), "exit status 1");
        assert_eq!(
            r.log,
            [
                "(quiet) ip6tables -F INPUT",
                "iptables -m socket",
                "say: No socket match support",
                "ip route add",
                "ip route show table all",
                "iptables -N X",
            ]
        );
    }

    #[test]
    fn dry_run_prints_every_line() {
        let mut out = Vec::new();
        let cmds = vec![
            Command::new(Program::Iptables, &["-t", "nat", "-N", "ISTIO_REDIRECT"]),
            Command::new(Program::IptablesSave, &[]),
        ];
        execute(&mut DryRun { out: &mut out }, &cmds).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "iptables -t nat -N ISTIO_REDIRECT\niptables-save \n"
        );
    }
}
