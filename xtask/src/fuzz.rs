//! Fuzzing on stable Rust: the cargo-fuzz targets in `tests/fuzz` built with libFuzzer's
//! coverage instrumentation (the flags cargo-fuzz passes, minus the nightly-only sanitizer: our
//! code forbids `unsafe`, so the findings are panics, hangs and memory blow-ups). Each target first
//! replays its saved regressions (`tests/fuzz/regressions/<target>/`) and seeds, then fuzzes for
//! the given time. The corpus grows in `target/fuzz/corpus/<target>`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{run, tools};

pub const TARGETS: [&str; 5] = ["mcp_message", "request_building", "registry_search", "jwt_parsing", "api_bodies"];

const COVERAGE: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

fn host_triple() -> Result<String> {
    let out = run::output(Command::new("rustc").arg("-vV"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

fn files_in(dir: &PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.retain(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')));
    files.sort();
    files
}

pub fn run(seconds: u64) -> Result<()> {
    let root = tools::root();
    let fuzz = root.join("tests/fuzz");
    let target_dir = root.join("target/fuzz");
    let triple = host_triple()?;
    // An explicit --target keeps the instrumentation off build scripts and proc macros.
    let mut build = run::cargo(["build", "--locked", "--release", "--bins", "--target", &triple]);
    build.arg("--manifest-path").arg(fuzz.join("Cargo.toml")).arg("--target-dir").arg(&target_dir);
    build.env("RUSTFLAGS", COVERAGE).env_remove("CARGO_TARGET_DIR");
    run::status(&mut build)?;
    for target in TARGETS {
        let binary = target_dir.join(&triple).join("release").join(target);
        let replay: Vec<PathBuf> = [fuzz.join("regressions").join(target), fuzz.join("seeds").join(target)]
            .iter()
            .flat_map(files_in)
            .collect();
        if !replay.is_empty() {
            run::status(Command::new(&binary).args(&replay))
                .with_context(|| format!("{target} fails on a saved input (tests/fuzz/regressions or seeds)"))?;
        }
        let corpus = target_dir.join("corpus").join(target);
        let artifacts = target_dir.join("artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let mut fuzz_run = Command::new(&binary);
        fuzz_run
            .arg(&corpus)
            .arg(fuzz.join("seeds").join(target))
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-timeout=10")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        // libFuzzer reports every new input on stderr: keep its summary, or its end on failure.
        let out = fuzz_run.output().with_context(|| format!("cannot run {}", binary.display()))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            bail!(
                "fuzz target {target} found a failing input: see {} (after the fix, copy it into tests/fuzz/regressions/{target}/)",
                artifacts.display()
            );
        }
        let stat = |name: &str| log.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("?").to_owned();
        eprintln!(
            "{target}: {} runs in {seconds} s ({}/s), {} new inputs, peak {} MB, no failure",
            stat("stat::number_of_executed_units:"),
            stat("stat::average_exec_per_sec:"),
            stat("stat::new_units_added:"),
            stat("stat::peak_rss_mb:")
        );
    }
    Ok(())
}
