//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::pg::TempPostgres;
use crate::run::TestCounts;
use crate::{prereq, run, tools};

/// Cargo arguments selecting each edition of the whole workspace.
const EDITIONS: [(&str, &[&str]); 2] = [("community", &[]), ("enterprise", &["--features", "alga-server/enterprise"])];

pub fn run() -> Result<()> {
    let started = Instant::now();
    step("prerequisites", prereq::ensure_build_tools)?;
    step("rustfmt", || run::status(&mut run::cargo(["fmt", "--all", "--", "--check"])))?;
    step("docs cite existing paths, flags, environment variables and tests", crate::docs::run)?;
    for (edition, features) in EDITIONS {
        step(&format!("clippy ({edition})"), || {
            let mut cmd = run::cargo(["clippy", "--workspace", "--all-targets", "--locked"]);
            cmd.args(features).args(["--", "-D", "warnings"]);
            run::status(&mut cmd)
        })?;
    }
    step("edition guard", edition_guard)?;
    let mut total = TestCounts::default();
    for (edition, features) in EDITIONS {
        let counts = step(&format!("tests ({edition}, SQLite)"), || tests(features, None))?;
        total.passed += counts.passed;
    }
    step("OpenAPI document validates", validate_openapi)?;
    step(
        "interop: official MCP SDKs, the Inspector and a real OpenID provider (stdio, the npm package, HTTP, policies, approvals)",
        || crate::interop::run(None),
    )?;
    step("admin UI in headless Chromium (playwright-core) with a real OpenID provider", crate::browser::run)?;
    step("faults under load: SIGTERM, PostgreSQL stopped, SQLite held, grants churned then SIGKILL", || {
        crate::faults::run(crate::faults::CI)
    })?;
    step("fuzz: saved regressions, then 15 s per target", || crate::fuzz::run(15))?;
    let pg = step("throwaway PostgreSQL", TempPostgres::start)?;
    for (edition, features) in EDITIONS {
        let counts = step(&format!("tests ({edition}, PostgreSQL)"), || tests(features, Some(&pg.url())))?;
        total.passed += counts.passed;
    }
    drop(pg);
    eprintln!("\nci: all checks passed in {:.0?}", started.elapsed());
    // The plain closing line CI reads: every test of the four passes (both editions, both databases).
    println!("{} passed, {} failed", total.passed, total.failed);
    Ok(())
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("\n==> {name}");
    let started = Instant::now();
    let out = f().with_context(|| format!("ci step `{name}` failed"))?;
    eprintln!("==> {name}: ok ({:.1?})", started.elapsed());
    Ok(out)
}

fn tests(features: &[&str], postgres: Option<&str>) -> Result<TestCounts> {
    let mut cmd = run::cargo(["test", "--workspace", "--locked"]);
    cmd.args(features);
    match postgres {
        Some(url) => cmd.env("ALGA_TEST_DATABASE_URL", url),
        None => cmd.env_remove("ALGA_TEST_DATABASE_URL"),
    };
    run::tests(&mut cmd)
}

/// The generated OpenAPI document, checked by an independent validator.
fn validate_openapi() -> Result<()> {
    let out = run::output(&mut run::cargo(["run", "--quiet", "--locked", "-p", "alga-server", "--", "openapi"]))?;
    let path = tools::root().join("target").join("openapi.json");
    std::fs::write(&path, &out.stdout)?;
    let validator = tools::python_tool("openapi-spec-validator", "0.9.0", "openapi-spec-validator")?;
    run::status(std::process::Command::new(validator).arg(&path))
}

/// The community server's dependency tree holds no enterprise crate; the enterprise one does
/// (so that the check itself is known to work).
fn edition_guard() -> Result<()> {
    let tree = |features: &[&str]| -> Result<String> {
        let mut cmd = run::cargo(["tree", "--locked", "-p", "alga-server", "-e", "normal,build", "--prefix", "none"]);
        cmd.args(features);
        Ok(String::from_utf8_lossy(&run::output(&mut cmd)?.stdout).into_owned())
    };
    let enterprise_crates = |tree: &str| -> Vec<String> {
        tree.lines()
            .filter(|l| l.starts_with("alga-ee-"))
            .map(|l| l.split_whitespace().next().unwrap_or(l).to_owned())
            .collect()
    };
    let community = enterprise_crates(&tree(&[])?);
    if !community.is_empty() {
        bail!("the community build links enterprise crates: {}", community.join(", "));
    }
    if enterprise_crates(&tree(&["--features", "enterprise"])?).is_empty() {
        bail!("the enterprise build does not link alga-ee-mcp: the guard would prove nothing");
    }
    eprintln!("community build: no alga-ee-* crate in its dependency tree");
    Ok(())
}
