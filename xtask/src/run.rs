//! Running commands, with the command line echoed and failures named.

use std::ffi::OsStr;
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

/// `cargo` as the one running this xtask.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args);
    cmd
}

/// The command line as echoed in logs, with bearer credentials masked.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        s.push(' ');
        match arg.split_once("Bearer ") {
            Some((before, _)) => {
                s.push_str(before);
                s.push_str("Bearer ***");
            }
            None => s.push_str(&arg),
        }
    }
    s
}

/// Runs with inherited stdio; fails naming the command.
pub fn status(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    eprintln!("$ {line}");
    let status = cmd.status().with_context(|| format!("cannot run `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs capturing output; fails naming the command and showing its stderr.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let line = describe(cmd);
    let out = cmd.output().with_context(|| format!("cannot run `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(out)
}

/// Totals of `cargo test` result lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
}

/// Runs `cargo test …`, echoing its output, and adds up its `test result:` lines.
pub fn tests(cmd: &mut Command) -> Result<TestCounts> {
    use std::io::{BufRead, BufReader};
    let line = describe(cmd);
    eprintln!("$ {line}");
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().with_context(|| format!("cannot run `{line}`"))?;
    let mut counts = TestCounts::default();
    if let Some(stdout) = child.stdout.take() {
        for text in BufReader::new(stdout).lines() {
            let text = text?;
            println!("{text}");
            if let Some(rest) = text.strip_prefix("test result: ") {
                counts.passed += count_before(rest, " passed");
                counts.failed += count_before(rest, " failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(counts)
}

/// `ok. 9 passed; 0 failed; …` → the number before `label`.
fn count_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| {
            part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label.trim_start())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_counted() {
        let line = "ok. 9 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.05s";
        assert_eq!(count_before(line, " passed"), 9);
        assert_eq!(count_before(line, " failed"), 2);
        assert_eq!(count_before("FAILED. 14 passed; 1 failed; 0 ignored", " failed"), 1);
    }
}
