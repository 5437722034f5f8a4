//! `cargo xtask dist`: what a release ships for this platform, in `target/dist`:
//!
//! - `alga-server-VERSION-PLATFORM.tar.gz` (community) and
//!   `alga-server-enterprise-VERSION-PLATFORM.tar.gz`, each a folder holding `alga-server`;
//! - `alga-mcp-connector-VERSION-PLATFORM.tar.gz`, a folder holding `alga-mcp-connector`;
//! - `alga-mcp-connector-VERSION.tgz`, the connector's npm package (`npm pack`): the launcher of
//!   `crates/connector/npm` and the binary under `native/PLATFORM/`;
//! - `SHA256SUMS`, in the format `sha256sum -c` reads.
//!
//! PLATFORM is named the way Node names it (`linux-x64`), since the launcher looks its binary up by
//! that name. The interop suite installs the npm package made by [`npm_package`], this same code.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{run, tools};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CONNECTOR: &str = "alga-mcp-connector";
/// The launcher's files, relative to `crates/connector/npm`.
const LAUNCHER_FILES: [&str; 2] = ["bin/alga-mcp-connector.js", "README.md"];

pub fn run() -> Result<()> {
    let out = tools::root().join("target").join("dist");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("cannot empty {}", out.display()))?;
    }
    std::fs::create_dir_all(&out)?;
    let platform = platform();
    let connector = release_build(&["-p", "alga-connector"], CONNECTOR, &out)?;
    archive(&connector, &format!("{CONNECTOR}-{VERSION}-{platform}"), &out)?;
    npm_pack(&connector, &out)?;
    std::fs::remove_file(&connector)?;
    let editions: [(&str, &[&str]); 2] =
        [("alga-server", &[]), ("alga-server-enterprise", &["--features", "enterprise"])];
    for (name, features) in editions {
        let server = release_build(&[&["-p", "alga-server"], features].concat(), "alga-server", &out)?;
        archive(&server, &format!("{name}-{VERSION}-{platform}"), &out)?;
        std::fs::remove_file(&server)?;
    }
    let sums = sha256sums(&out)?;
    std::fs::write(out.join("SHA256SUMS"), &sums)?;
    eprint!("{sums}");
    println!("{}", out.display());
    Ok(())
}

/// The connector built in release and packed as `cargo xtask dist` packs it, into `out`; returns
/// the tarball.
pub fn npm_package(out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let binary = release_build(&["-p", "alga-connector"], CONNECTOR, out)?;
    let tarball = npm_pack(&binary, out)?;
    std::fs::remove_file(&binary)?;
    Ok(tarball)
}

/// This machine as Node names it (`process.platform`-`process.arch`).
pub fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        os => os,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        arch => arch,
    };
    format!("{os}-{arch}")
}

/// `cargo build --release` of `packages`, and a copy of its binary `name` in `out` (the next build
/// may replace the original).
fn release_build(packages: &[&str], name: &str, out: &Path) -> Result<PathBuf> {
    run::status(run::cargo(["build", "--release", "--locked"]).args(packages))?;
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let copy = out.join(&file);
    std::fs::copy(tools::root().join("target").join("release").join(&file), &copy)
        .with_context(|| format!("the release build made no {file}"))?;
    Ok(copy)
}

/// `out/NAME.tar.gz`, a folder `NAME` holding `binary`.
fn archive(binary: &Path, name: &str, out: &Path) -> Result<()> {
    let folder = out.join(name);
    std::fs::create_dir_all(&folder)?;
    std::fs::copy(binary, folder.join(binary.file_name().context("a binary has a file name")?))?;
    run::status(Command::new("tar").arg("-czf").arg(out.join(format!("{name}.tar.gz"))).arg("-C").arg(out).arg(name))?;
    std::fs::remove_dir_all(&folder)?;
    Ok(())
}

/// The npm package of the connector around `binary`, packed into `out`; returns the tarball.
fn npm_pack(binary: &Path, out: &Path) -> Result<PathBuf> {
    let stage = out.join("npm-package");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    let source = tools::root().join("crates/connector/npm");
    for file in LAUNCHER_FILES {
        let to = stage.join(file);
        std::fs::create_dir_all(to.parent().context("a launcher file has a folder")?)?;
        std::fs::copy(source.join(file), &to).with_context(|| format!("cannot copy crates/connector/npm/{file}"))?;
    }
    let native = stage.join("native").join(platform());
    std::fs::create_dir_all(&native)?;
    std::fs::copy(binary, native.join(binary.file_name().context("a binary has a file name")?))?;
    std::fs::write(stage.join("package.json"), serde_json::to_string_pretty(&package_json())?)?;
    let packed = run::output(
        Command::new("npm")
            .args(["pack", "--json", "--pack-destination"])
            .arg(out)
            .arg(&stage)
            .env("PATH", tools::node22_path()?),
    )?;
    std::fs::remove_dir_all(&stage)?;
    let report: Value = serde_json::from_slice(&packed.stdout).context("npm pack printed no JSON")?;
    let file = report[0]["filename"].as_str().context("npm pack named no tarball")?;
    Ok(out.join(file))
}

/// The package's manifest. It names no `os` or `cpu`: npm would then refuse to install it elsewhere
/// with a message of its own, where the launcher's says how to build the connector from source.
fn package_json() -> Value {
    json!({
        "name": CONNECTOR,
        "version": VERSION,
        "description": "Alga PSA in your local MCP client: an MCP server on stdio that works in an Alga instance with your API key",
        "license": env!("CARGO_PKG_LICENSE"),
        "bin": { CONNECTOR: "bin/alga-mcp-connector.js" },
        "files": ["bin", "native"],
        "engines": { "node": ">=18" }
    })
}

/// `SHA256SUMS` of the files in `dir`, by name.
fn sha256sums(dir: &Path) -> Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut sums = String::new();
    for name in names.iter().filter(|n| n.as_str() != "SHA256SUMS") {
        sums.push_str(&sum_line(name, &std::fs::read(dir.join(name))?));
    }
    Ok(sums)
}

/// One line of `SHA256SUMS`: the digest in hex, two spaces (text mode), the name.
fn sum_line(name: &str, bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}  {name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_lines_are_what_sha256sum_checks() {
        assert_eq!(
            sum_line("abc.tar.gz", b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc.tar.gz\n"
        );
    }
}
