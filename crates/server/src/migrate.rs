//! `migrate`: apply, inspect or revert this edition's migrations, through the same library
//! function `serve` uses.

use std::io::Write;

use alga_core::DatabaseUrl;
use anyhow::Context;

use crate::cli::{GlobalArgs, MigrateArgs};
use crate::edition;

pub fn run(global: &GlobalArgs, args: &MigrateArgs) -> anyhow::Result<()> {
    let url: DatabaseUrl = global.database_url.parse()?;
    let governance = edition::governance();
    let migrator = edition::migrator()?;
    let mut conn = alga_core::db::establish(&url)?;
    let mut out = std::io::stdout().lock();
    if args.status {
        writeln!(out, "edition: {}\ndatabase: {url}", governance.edition())?;
        write!(out, "{}", migrator.status(&mut conn)?)?;
    } else if let Some(count) = args.revert {
        let count = usize::try_from(count).context("--revert is too large")?;
        for location in migrator.revert(&mut conn, count)? {
            writeln!(out, "reverted {location}")?;
        }
    } else {
        let applied = migrator.run_pending(&mut conn)?;
        if applied.is_empty() {
            writeln!(out, "nothing to apply: the database is up to date")?;
        }
        for location in applied {
            writeln!(out, "applied {location}")?;
        }
    }
    Ok(())
}
