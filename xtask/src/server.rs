//! A real `alga-server` for xtask steps (bench, interop): started on a free port with demo data,
//! its bootstrap admin key read from its output, killed on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// `serve` flags for suites that are not about rate limits (interop, browser, bench): loopback IdP
/// URLs, and limits far above what any test sends, so that no result depends on machine speed.
/// The limits themselves are asserted by `every_tool_call_is_audited_and_limited`.
pub const TEST_FLAGS: [&str; 7] = [
    "--allow-insecure-idp-urls",
    "--mcp-calls-per-second",
    "1000000",
    "--mcp-call-burst",
    "1000000",
    "--mcp-writes-per-second",
    "1000000",
];

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    stdout: PathBuf,
    spawned: Instant,
    launch: Launch,
}

/// How the server was started, to start it again.
struct Launch {
    binary: PathBuf,
    url: String,
    dir: PathBuf,
    extra: Vec<String>,
    logging: bool,
}

impl Server {
    /// A server with demo data and these extra `serve` flags; its warnings go to our stderr.
    pub fn start(binary: &Path, url: &str, dir: &Path, extra: &[&str]) -> Result<Server> {
        Server::spawn(Server::launch(binary, url, dir, extra, false), "127.0.0.1:0")
    }

    /// [`Server::start`], with its log in `dir/server.log` (for runs that provoke errors on purpose).
    pub fn start_logging(binary: &Path, url: &str, dir: &Path, extra: &[&str]) -> Result<Server> {
        Server::spawn(Server::launch(binary, url, dir, extra, true), "127.0.0.1:0")
    }

    fn launch(binary: &Path, url: &str, dir: &Path, extra: &[&str], logging: bool) -> Launch {
        let extra = extra.iter().map(|e| e.to_string()).collect();
        Launch { binary: binary.to_owned(), url: url.to_owned(), dir: dir.to_owned(), extra, logging }
    }

    /// Kills the server with SIGKILL and starts it again on the same address and database.
    pub fn restart(&mut self) -> Result<()> {
        self.kill()?;
        let restarted = self.launch.dir.join("stdout.restarted");
        (self.child, _) = Server::spawn_child(&self.launch, &self.addr.to_string(), &restarted)?;
        self.spawned = Instant::now();
        self.ready_after()?;
        Ok(())
    }

    fn spawn(launch: Launch, bind: &str) -> Result<Server> {
        let stdout = launch.dir.join("stdout");
        let spawned = Instant::now();
        let (child, addr) = Server::spawn_child(&launch, bind, &stdout)?;
        Ok(Server { child, addr, stdout, spawned, launch })
    }

    /// Starts the process and waits for the address it bound.
    fn spawn_child(launch: &Launch, bind: &str, stdout: &Path) -> Result<(Child, SocketAddr)> {
        let address = launch.dir.join("address");
        let stderr = match launch.logging {
            true => {
                Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(launch.dir.join("server.log"))?)
            }
            false => Stdio::inherit(),
        };
        // A previous server in the same folder left its address behind.
        let _ = std::fs::remove_file(&address);
        let mut child = Command::new(&launch.binary)
            .args(["serve", "--bind", bind, "--demo", "--database-url", &launch.url])
            .arg("--address-file")
            .arg(&address)
            .args(&launch.extra)
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(stdout)?)
            .stderr(stderr)
            .spawn()
            .context("cannot start alga-server")?;
        let spawned = Instant::now();
        loop {
            if let Some(addr) = std::fs::read_to_string(&address).ok().and_then(|a| a.trim().parse().ok()) {
                return Ok((child, addr));
            }
            if spawned.elapsed() > Duration::from_secs(120) || child.try_wait()?.is_some() {
                let _ = child.kill();
                bail!("alga-server did not start");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for `/readyz` to answer 200 and returns how long after the spawn it first did.
    pub fn ready_after(&self) -> Result<Duration> {
        loop {
            if let Ok((200, _)) = crate::http::request(self.addr, "GET", "/readyz", &[], None) {
                return Ok(self.spawned.elapsed());
            }
            if self.spawned.elapsed() > Duration::from_secs(120) {
                bail!("alga-server never became ready");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn admin_key(&self) -> Result<String> {
        let out = std::fs::read_to_string(&self.stdout)?;
        out.lines()
            .find_map(|l| l.trim().strip_prefix("admin API key:"))
            .map(|k| k.trim().to_owned())
            .context("the server printed no admin key")
    }

    /// The bootstrap administrator's one-time password.
    pub fn admin_password(&self) -> Result<String> {
        let out = std::fs::read_to_string(&self.stdout)?;
        out.lines()
            .find_map(|l| l.trim().strip_prefix("one-time password:"))
            .map(|k| k.trim().to_owned())
            .context("the server printed no admin password")
    }

    /// Sends SIGTERM and waits (at most `limit`) for the process to exit.
    pub fn terminate(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        crate::run::output(Command::new("kill").args(["-TERM", &self.child.id().to_string()]))?;
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("alga-server did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Peak resident memory so far (VmHWM), in MB.
    pub fn peak_mb(&self) -> f64 {
        self.memory_mb("VmHWM:")
    }

    /// Resident memory now (VmRSS), in MB.
    pub fn resident_mb(&self) -> f64 {
        self.memory_mb("VmRSS:")
    }

    /// CPU time the server has used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces, in parentheses): utime and stime
        // are the 12th and 13th, in clock ticks (100 per second on Linux).
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }

    fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
