//! The admin UI in a real browser: Debian's Chromium, headless, driven by npm `playwright-core`
//! (`tests/browser/admin_ui.mjs`), against the enterprise server and a real OpenID provider
//! (npm `oidc-provider`). Screenshots of each page land in `target/browser-screenshots/`.

use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use crate::interop::{self, admin_call};
use crate::server::Server;
use crate::{prereq, run, tools};

const PLAYWRIGHT: &str = "1.65.1";
const TECH_EMAIL: &str = "technician@example.com";
const TECH_PASSWORD: &str = "technician-password-0123";

pub fn run() -> Result<()> {
    prereq::ensure_debian_tool("chromium", "chromium")?;
    run::status(&mut run::cargo(["build", "--locked", "-p", "alga-server", "--features", "enterprise"]))?;
    let root = tools::root();
    let modules = tools::node_package("browser", "playwright-core", PLAYWRIGHT)?;
    let dir = std::env::temp_dir().join(format!("alga-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/browser.db", dir.display());
    let result = (|| -> Result<()> {
        let server = Server::start(&root.join("target/debug/alga-server"), &url, &dir, &crate::server::TEST_FLAGS)?;
        server.ready_after()?;
        let admin = server.admin_key()?;
        let technician = interop::technician_role(&server, &admin)?;
        let tech = json!({ "email": TECH_EMAIL, "display_name": "Technician", "role_ids": [technician], "password": TECH_PASSWORD });
        admin_call(&server, &admin, "POST", "/api/v1/users", Some(tech))?;
        let origin = format!("http://{}", server.addr);
        let (_provider, issuer, _) = interop::start_provider(&format!("{origin}/api/mcp"))?;
        run::status(
            Command::new(tools::node22()?)
                .arg(root.join("tests/browser/admin_ui.mjs"))
                .env("ALGA_PLAYWRIGHT_MODULES", &modules)
                .env("ALGA_CHROMIUM", "/usr/bin/chromium")
                .env("ALGA_URL", &origin)
                .env("ALGA_ADMIN_EMAIL", "admin@localhost")
                .env("ALGA_ADMIN_PASSWORD", server.admin_password()?)
                .env("ALGA_TECH_EMAIL", TECH_EMAIL)
                .env("ALGA_TECH_PASSWORD", TECH_PASSWORD)
                .env("ALGA_ISSUER", &issuer)
                .env("ALGA_CLIENT_ID", interop::AGENT_CLIENT)
                .env("ALGA_CLIENT_SECRET", interop::AGENT_SECRET)
                .env("ALGA_SHOTS", root.join("target/browser-screenshots")),
        )
        .context("the admin UI failed in the browser")
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
