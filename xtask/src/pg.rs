//! A throwaway PostgreSQL cluster: a temp folder, a free loopback port, no fsync. Stopped and
//! deleted on drop, also when the xtask fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{prereq, run};

/// The superuser's password: the cluster listens on loopback only and lives minutes.
const PASSWORD: &str = "alga-throwaway";

#[derive(Debug)]
pub struct TempPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl TempPostgres {
    pub fn start() -> Result<TempPostgres> {
        let bin = prereq::ensure_postgres_server()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
        let dir = std::env::temp_dir().join(format!("alga-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
        let as_postgres_user = prereq::is_root();
        let pg = TempPostgres { dir, bin, port, as_postgres_user };
        if as_postgres_user {
            run::output(Command::new("chown").arg("-R").arg("postgres:").arg(&pg.dir))?;
        }
        let data = pg.dir.join("data");
        // Password authentication over TCP, so that tests can see a wrong password refused.
        let password_file = pg.dir.join("password");
        std::fs::write(&password_file, PASSWORD)?;
        if as_postgres_user {
            run::output(Command::new("chown").arg("postgres:").arg(&password_file))?;
        }
        run::output(
            pg.command("initdb")
                .arg("-D")
                .arg(&data)
                .arg(format!("--pwfile={}", password_file.display()))
                .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"])
                .args(["-E", "UTF8", "--no-sync", "--no-instructions"]),
        )?;
        pg.start_server()?;
        Ok(pg)
    }

    /// Starts the cluster's server (again).
    pub fn start_server(&self) -> Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.dir.display()
        );
        run::output(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "30", "-o", &options, "start"]),
        )
        .with_context(|| format!("PostgreSQL did not start; see {}", self.dir.join("server.log").display()))?;
        Ok(())
    }

    /// Stops the server as an operator would (`pg_ctl stop -m fast`): sessions are ended.
    pub fn stop_server(&self) -> Result<()> {
        run::output(self.command("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "fast", "-w", "stop"]))?;
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let stopped =
            self.command("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "stop"]).output();
        if let Err(e) = stopped {
            eprintln!("could not stop the throwaway PostgreSQL in {}: {e}", self.dir.display());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
