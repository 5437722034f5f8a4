//! Prerequisites outside cargo: named with the command that installs them, and installed
//! directly when running as root on Debian (as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::run;

struct Requirement {
    what: &'static str,
    /// Any of these paths existing satisfies the requirement.
    probes: &'static [&'static str],
    debian_package: &'static str,
}

const BUILD: &[Requirement] = &[
    Requirement { what: "a C compiler", probes: &["/usr/bin/cc"], debian_package: "build-essential" },
    Requirement { what: "pkg-config", probes: &["/usr/bin/pkg-config"], debian_package: "pkg-config" },
    Requirement {
        what: "libpq headers and library (PostgreSQL client)",
        probes: &["/usr/include/postgresql/libpq-fe.h"],
        debian_package: "libpq-dev",
    },
    Requirement {
        what: "SQLite headers and library",
        probes: &["/usr/include/sqlite3.h"],
        debian_package: "libsqlite3-dev",
    },
];

/// What compiling the workspace needs.
pub fn ensure_build_tools() -> Result<()> {
    let missing: Vec<&Requirement> = BUILD.iter().filter(|r| !r.probes.iter().any(|p| Path::new(p).exists())).collect();
    install(&missing)
}

/// initdb, pg_ctl and postgres.
pub fn ensure_postgres_server() -> Result<PathBuf> {
    if let Some(bin) = postgres_bin_dir() {
        return Ok(bin);
    }
    install(&[&Requirement {
        what: "the PostgreSQL server (initdb, pg_ctl)",
        probes: &[],
        debian_package: "postgresql",
    }])?;
    match postgres_bin_dir() {
        Some(bin) => Ok(bin),
        None => bail!("PostgreSQL was installed but initdb is still not found under /usr/lib/postgresql/*/bin"),
    }
}

/// The newest `/usr/lib/postgresql/<major>/bin` holding initdb, else the folder of `pg_ctl` on PATH.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

/// A command from a Debian package (installed when running as root on Debian).
pub fn ensure_debian_tool(command: &'static str, package: &'static str) -> Result<()> {
    let on_path =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(command).exists()));
    if on_path {
        return Ok(());
    }
    install(&[&Requirement { what: command, probes: &[], debian_package: package }])
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn install(missing: &[&Requirement]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|r| r.debian_package).collect();
    let what: Vec<&str> = missing.iter().map(|r| r.what).collect();
    let command = format!("apt-get update && apt-get install -y --no-install-recommends {}", packages.join(" "));
    if !(is_root() && Path::new("/usr/bin/apt-get").exists()) {
        bail!("missing {}; install with: sudo sh -c '{command}'", what.join(", "));
    }
    eprintln!("installing {} ({})", what.join(", "), packages.join(" "));
    run::status(Command::new("apt-get").args(["update", "-qq"]))?;
    run::status(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&packages),
    )
}
