//! Realistic, deterministic sample data for a tenant, created through the catalog's own
//! operations (so it passes exactly the validation real data does).
//!
//! Idempotent: only a tenant without clients and tickets is seeded; any later run is a no-op.

use std::sync::Arc;

use alga_core::identity::{self, Actor, Principal};
use alga_core::rbac::{BuiltInRole, PermissionSet};
use alga_core::schema::{clients, tickets, user_roles, users};
use alga_core::{ApiError, AppContext};
use chrono::{Duration, Timelike, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use crate::catalog::{Method, RawRequest};

/// What a seeding run created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub skipped: bool,
    pub clients: usize,
    pub contacts: usize,
    pub tickets: usize,
    pub comments: usize,
    pub projects: usize,
    pub tasks: usize,
    pub time_entries: usize,
    pub locations: usize,
    pub assets: usize,
    /// Tickets linked to the assets they are about.
    pub linked_tickets: usize,
    pub kb_articles: usize,
    pub kb_published: usize,
    pub tags: usize,
    pub teams: usize,
    pub ticket_categories: usize,
}

const CLIENTS: [(&str, &str, [&str; 3]); 8] = [
    ("Acme Corporation", "acme.example", ["Dana Whitfield|Office Manager", "Raj Patel|Controller", "Lena Ortiz|CEO"]),
    (
        "Globex Logistics",
        "globex.example",
        ["Hank Scorpio|Founder", "Marge Bouvier|Dispatch Lead", "Otto Mann|Fleet Manager"],
    ),
    (
        "Initech Software",
        "initech.example",
        ["Bill Lumbergh|VP Engineering", "Milton Waddams|Facilities", "Joanna Parks|HR Partner"],
    ),
    (
        "Umbrella Dental",
        "umbrelladental.example",
        ["Alice Abernathy|Practice Manager", "Carlos Oliveira|Dentist", "Jill Valentine|Reception"],
    ),
    (
        "Stark Legal LLP",
        "starklegal.example",
        ["Pepper Potts|Managing Partner", "Happy Hogan|Office Admin", "Maria Hill|Paralegal"],
    ),
    (
        "Wayne Properties",
        "wayneprop.example",
        ["Lucius Fox|Operations Director", "Alfred Pennyworth|Facilities", "Selina Kyle|Leasing Agent"],
    ),
    (
        "Hooli Clinics",
        "hooliclinics.example",
        ["Gavin Belson|Administrator", "Monica Hall|Clinic Manager", "Jared Dunn|IT Liaison"],
    ),
    (
        "Soylent Foods",
        "soylent.example",
        ["Sol Roth|Plant Manager", "Shirl Brown|Accounts Payable", "Frank Thorn|Quality Lead"],
    ),
];

const TICKETS: [(&str, &str); 20] = [
    ("Printer offline in accounting", "The shared HP LaserJet shows offline for everyone since this morning."),
    (
        "Outlook keeps asking for password",
        "After the password change Outlook prompts every few minutes on two laptops.",
    ),
    ("VPN disconnects every 10 minutes", "Remote staff lose the VPN tunnel regularly; reconnecting works for a while."),
    ("New hire onboarding", "Create accounts, licence Microsoft 365 and prepare a laptop for a starter on Monday."),
    ("Shared drive full", "The S: drive reports no free space; backups of scans are failing."),
    ("Wi-Fi slow in conference room", "Video calls stutter in the large conference room only."),
    (
        "Phishing email reported",
        "A user clicked a link in an invoice email; please check the mailbox and reset credentials.",
    ),
    ("Laptop will not boot", "BitLocker recovery screen after a BIOS update."),
    ("Request: second monitor", "Please order and set up a second monitor for the front desk."),
    ("Backup job failed", "Nightly server backup reported an error for the last two runs."),
    ("Cannot access payroll app", "Payroll web app returns 403 for the controller since Friday."),
    ("Firewall firmware update", "Schedule the pending firmware update on the edge firewall after hours."),
    ("Teams calls drop audio", "Audio drops for remote participants in Teams meetings."),
    ("Scanner sends to wrong folder", "Scan-to-folder on the copier saves into last year's folder."),
    ("Password reset", "User locked out after too many attempts."),
    ("Install accounting software update", "Vendor released a required tax table update."),
    ("Email bouncing to one domain", "Mail to a supplier bounces with a TLS error."),
    ("Offboarding: disable accounts", "Disable accounts and forward mail for a leaver, keep the mailbox for 90 days."),
    ("UPS battery warning", "The server-room UPS beeps and reports a battery fault."),
    ("Slow computer at reception", "The reception PC takes minutes to open the booking system."),
];

/// Each ticket template's category (by `CATEGORIES` name), in the order of `TICKETS`.
const TICKET_CATEGORIES: [&str; 20] = [
    "Printer",
    "Email",
    "VPN",
    "Onboarding",
    "Server",
    "Wi-Fi",
    "Email",
    "Laptop",
    "Hardware",
    "Server",
    "Line-of-business app",
    "Firewall",
    "Software",
    "Printer",
    "Password reset",
    "Line-of-business app",
    "Email",
    "Accounts",
    "Server",
    "Hardware",
];

/// Top-level categories with their subcategories; the Network ones go to the Network team.
const CATEGORIES: [(&str, &[&str]); 4] = [
    ("Hardware", &["Printer", "Laptop", "Server"]),
    ("Software", &["Email", "Line-of-business app"]),
    ("Network", &["VPN", "Wi-Fi", "Firewall"]),
    ("Accounts", &["Onboarding", "Password reset"]),
];

const TAGS: [(&str, &str); 7] = [
    ("vip", "#d32f2f"),
    ("after-hours", "#6a1b9a"),
    ("security", "#ef6c00"),
    ("onsite", "#2e7d32"),
    ("recurring", "#1565c0"),
    ("vpn", "#00838f"),
    ("printing", "#5d4037"),
];

const COMMENTS: [&str; 6] = [
    "Called the user and reproduced the issue remotely.",
    "Waiting on the customer to confirm a time for a remote session.",
    "Applied the fix and asked the user to test.",
    "Escalated to the vendor; case number recorded in the notes.",
    "Checked the logs: the error started after last night's update.",
    "Confirmed resolved with the user.",
];

const PROJECTS: [(&str, &str, [&str; 5]); 4] = [
    (
        "Microsoft 365 migration",
        "Move mailboxes and file shares from the on-premises server to Microsoft 365.",
        [
            "Inventory mailboxes",
            "Configure tenant and DNS",
            "Migrate mailboxes",
            "Move file shares to SharePoint",
            "Decommission old server",
        ],
    ),
    (
        "Network refresh",
        "Replace switches and access points; segment guest Wi-Fi.",
        ["Site survey", "Order hardware", "Install switches", "Install access points", "Document the network"],
    ),
    (
        "Backup and disaster recovery",
        "Offsite backups with tested restores for the file server and line-of-business app.",
        [
            "Choose backup target",
            "Configure nightly jobs",
            "Test a full restore",
            "Write the recovery runbook",
            "Train the office manager",
        ],
    ),
    (
        "Security awareness rollout",
        "Phishing simulations and training for all staff.",
        [
            "Pick a training platform",
            "Import users",
            "Run baseline phishing test",
            "Assign training",
            "Report results to management",
        ],
    ),
];

/// Sites per client: the head office of each, and a second site of every other client.
const SITES: [(&str, &str, &str, &str); 8] = [
    ("100 Market Street", "Springfield", "IL", "62701"),
    ("2200 Harbor Way", "Oakland", "CA", "94607"),
    ("4 Innovation Drive", "Austin", "TX", "78701"),
    ("78 Elm Avenue", "Portland", "OR", "97205"),
    ("1 Courthouse Square", "Boston", "MA", "02108"),
    ("950 Gotham Plaza", "Newark", "NJ", "07102"),
    ("12 Valley Road", "Palo Alto", "CA", "94301"),
    ("300 Mill Lane", "Columbus", "OH", "43215"),
];

/// Each client's devices: type, tag, model, age in days, warranty length in days, status, site
/// (0 the head office, 1 the second site when the client has one), and the ticket titles about it.
type DeviceTemplate =
    (&'static str, &'static str, &'static str, i64, i64, &'static str, usize, &'static [&'static str]);

const ASSETS: [DeviceTemplate; 10] = [
    ("laptop", "LT-01", "Dell Latitude 5440", 200, 1095, "active", 0, &["New hire onboarding"]),
    ("laptop", "LT-02", "Lenovo ThinkPad T14 Gen 3", 900, 1095, "active", 0, &["Laptop will not boot"]),
    (
        "laptop",
        "LT-03",
        "HP EliteBook 840 G7",
        1500,
        1095,
        "in_repair",
        1,
        &["Outlook keeps asking for password", "VPN disconnects every 10 minutes"],
    ),
    ("workstation", "WS-RECEPTION", "Dell OptiPlex 7010", 1300, 1095, "active", 0, &["Slow computer at reception"]),
    ("server", "SRV-01", "Dell PowerEdge T350", 700, 1825, "active", 0, &["Backup job failed", "Shared drive full"]),
    ("network", "FW-01", "FortiGate 60F firewall", 1000, 1095, "active", 0, &["Firewall firmware update"]),
    ("network", "SW-01", "UniFi Switch Pro 24 PoE", 400, 730, "active", 1, &["Wi-Fi slow in conference room"]),
    (
        "printer",
        "PR-01",
        "HP LaserJet Pro M404dn",
        1700,
        365,
        "active",
        0,
        &["Printer offline in accounting", "Scanner sends to wrong folder"],
    ),
    ("mobile", "PH-01", "Apple iPhone 14", 600, 365, "active", 0, &[]),
    ("laptop", "LT-OLD", "Lenovo ThinkPad T470", 2600, 1095, "retired", 1, &[]),
];

/// Knowledge-base articles: title, category, Markdown body, published.
const ARTICLES: [(&str, &str, &str, bool); 20] = [
    (
        "Reset a user's VPN connection",
        "Remote access",
        "1. Open FortiClient and disconnect.\n2. Delete the saved VPN profile.\n3. Re-import the profile from the client portal and sign in with MFA.\n4. If it still drops every few minutes, check the user's home router MTU (set 1400).",
        true,
    ),
    (
        "Printer shows offline",
        "Printing",
        "1. Check the printer's display for errors and that it has an IP address.\n2. Ping it from the print server.\n3. Restart the Print Spooler service.\n4. Remove and re-add the printer on the workstation.",
        true,
    ),
    (
        "Rebuild an Outlook profile",
        "Email",
        "When Outlook keeps prompting for a password or will not sync:\n1. Close Outlook.\n2. Control Panel > Mail > Show Profiles > Add a new profile.\n3. Set it as the default, start Outlook and let the mailbox sync.\n4. Remove the old profile once mail is current.",
        true,
    ),
    (
        "Re-enrol a user in MFA",
        "Security",
        "For a lost or replaced phone:\n1. Entra admin center > Users > Authentication methods.\n2. Require re-register multifactor authentication.\n3. Revoke sessions.\n4. Have the user sign in at aka.ms/mysecurityinfo and add the Authenticator app.",
        true,
    ),
    (
        "Unlock a locked-out account",
        "Accounts",
        "1. Confirm the caller's identity with the callback number on file.\n2. Unlock the account in Active Directory Users and Computers or Entra ID.\n3. Check the sign-in logs for the source of repeated failures (old phone, mapped drive).",
        true,
    ),
    (
        "BitLocker recovery key lookup",
        "Security",
        "1. Entra admin center > Devices > search the device name.\n2. Show the BitLocker recovery key matching the key ID on screen.\n3. Read it to the user; never send it by email.",
        true,
    ),
    (
        "Onboard a new employee",
        "Accounts",
        "Checklist: create the account, assign the Microsoft 365 licence, add to groups, enrol MFA, prepare and enrol the laptop, hand over credentials in person.",
        true,
    ),
    (
        "Offboard a leaver",
        "Accounts",
        "Checklist: block sign-in, reset the password, convert the mailbox to shared and forward mail, remove licences, wipe or collect devices, retire their assets.",
        true,
    ),
    (
        "Map a network drive",
        "Files",
        "1. File Explorer > This PC > Map network drive.\n2. Choose the letter and enter \\\\fileserver\\share.\n3. Tick Reconnect at sign-in.",
        true,
    ),
    (
        "Fix slow Wi-Fi in meeting rooms",
        "Network",
        "1. Check the access point's channel utilisation in the controller.\n2. Move 5 GHz to a clear channel, 40 MHz width.\n3. Enable band steering.\n4. Re-test a video call.",
        true,
    ),
    (
        "Clear a paper jam on HP LaserJet",
        "Printing",
        "1. Open the front door and remove the toner cartridge.\n2. Pull jammed paper out slowly with both hands.\n3. Check the rear duplex door.\n4. Reinsert the cartridge and print a test page.",
        true,
    ),
    (
        "Teams audio drops in meetings",
        "Collaboration",
        "1. Update Teams and the audio driver.\n2. Turn off noise suppression to test.\n3. Check the network for packet loss with the Teams network assessment tool.",
        true,
    ),
    (
        "Restore a file from backup",
        "Backup",
        "1. Open the backup console and pick the file server job.\n2. Browse restore points by date.\n3. Restore to the original location with a new name, never overwrite.",
        true,
    ),
    (
        "Replace a UPS battery",
        "Hardware",
        "1. Schedule a window: the server may need to run on mains only.\n2. Hot-swap the battery pack per the vendor guide.\n3. Run a self-test and record the date on the asset.",
        true,
    ),
    (
        "Update FortiGate firmware",
        "Network",
        "1. Back up the configuration.\n2. Check the upgrade path in the Fortinet tool.\n3. Upgrade after hours and confirm VPN and internet access.",
        true,
    ),
    (
        "Set up email on a phone",
        "Email",
        "Install Outlook for iOS or Android, sign in with the work account and approve the MFA prompt; the device must be enrolled in Intune first.",
        true,
    ),
    (
        "Phishing email response",
        "Security",
        "Draft: isolate the mailbox, purge the message tenant-wide, reset credentials, review sign-ins and inbox rules.",
        false,
    ),
    (
        "Scan to folder configuration",
        "Printing",
        "Draft: SMB share, service account, the copier's address book entry.",
        false,
    ),
    (
        "Laptop refresh procedure",
        "Hardware",
        "Draft: order, image with Autopilot, migrate data, retire the old asset.",
        false,
    ),
    ("Guest Wi-Fi voucher codes", "Network", "Draft: where to print vouchers for visitors.", false),
];

/// Seeds the tenant with sample data unless it already has clients or tickets.
pub async fn seed(app: &AppContext, tenant_slug: &str) -> Result<Summary, ApiError> {
    let slug = tenant_slug.to_owned();
    let (tenant_id, has_data, admin) = app
        .db
        .run(move |conn| {
            let tenant = identity::tenant_by_slug(conn, &slug)?;
            let clients: i64 = clients::table.filter(clients::tenant_id.eq(&tenant.id)).count().get_result(conn)?;
            let tickets: i64 = tickets::table.filter(tickets::tenant_id.eq(&tenant.id)).count().get_result(conn)?;
            let admin_role = identity::role_ids_by_name(conn, &tenant.id, &[BuiltInRole::Admin.name().to_owned()])?;
            let admin: Option<(String, String, String)> = users::table
                .inner_join(
                    user_roles::table
                        .on(user_roles::tenant_id.eq(users::tenant_id).and(user_roles::user_id.eq(users::id))),
                )
                .filter(users::tenant_id.eq(&tenant.id).and(users::active.eq(true)))
                .filter(user_roles::role_id.eq_any(&admin_role))
                .order(users::created_at)
                .select((users::id, users::email, users::display_name))
                .first(conn)
                .optional()?;
            Ok::<_, ApiError>((tenant.id, clients + tickets > 0, admin))
        })
        .await?;
    if has_data {
        return Ok(Summary { skipped: true, ..Summary::default() });
    }
    let Some((user_id, email, display_name)) = admin else {
        return Err(ApiError::conflict("The tenant has no active administrator to own the sample data."));
    };
    let principal = Arc::new(Principal {
        tenant_id,
        tenant_slug: tenant_slug.to_owned(),
        actor: Actor::User { id: user_id.clone(), email, display_name },
        api_key_id: None,
        roles: Vec::new(),
        permissions: PermissionSet::all(),
    });
    Seeder { app: app.clone(), principal, admin_id: user_id, summary: Summary::default() }.run().await
}

struct Seeder {
    app: AppContext,
    principal: Arc<Principal>,
    /// The administrator the sample data is created as; also one of its technicians.
    admin_id: String,
    summary: Summary,
}

impl Seeder {
    /// Calls an operation of the catalog as the tenant's administrator.
    async fn call(&self, method: Method, path: &str, body: Value) -> Result<Value, ApiError> {
        let catalog = crate::catalog();
        let (op, params) = catalog
            .route(method, path)
            .ok_or_else(|| ApiError::internal(&format!("demo data: no operation for {method} {path}")))?;
        let raw = RawRequest { path: params, query: String::new(), body: Some(body.to_string().into_bytes()) };
        let reply = op.call(self.app.clone(), Some(self.principal.clone()), raw).await?;
        let body = reply.body.unwrap_or_default();
        serde_json::from_slice::<Value>(&body).map_err(|e| ApiError::internal(&e))
    }

    async fn create(&self, path: &str, body: Value) -> Result<String, ApiError> {
        let answer = self.call(Method::Post, path, body).await?;
        answer["data"]["id"].as_str().map(str::to_owned).ok_or_else(|| ApiError::internal(&"demo data: no id"))
    }

    async fn run(mut self) -> Result<Summary, ApiError> {
        let tech_role = self.role_id("Technician").await?;
        let mut technicians = vec![self.admin_id.clone()];
        for (email, name) in [("taylor.tech@msp.example", "Taylor Tech"), ("jordan.field@msp.example", "Jordan Field")]
        {
            let body = json!({ "email": email, "display_name": name, "role_ids": [tech_role] });
            technicians.push(self.create("/api/v1/users", body).await?);
        }

        for (name, color) in TAGS {
            self.create("/api/v1/tags", json!({"name": name, "color": color})).await?;
            self.summary.tags += 1;
        }
        let service_desk = self
            .create(
                "/api/v1/teams",
                json!({"name": "Service Desk", "description": "First-line support: users, email, printers, accounts",
                    "user_ids": [technicians[0], technicians[1]]}),
            )
            .await?;
        let network = self
            .create(
                "/api/v1/teams",
                json!({"name": "Network", "description": "Switches, firewalls, Wi-Fi and VPN",
                    "user_ids": [technicians[0], technicians[2]]}),
            )
            .await?;
        self.create(
            "/api/v1/teams",
            json!({"name": "Projects", "description": "Migrations and rollouts", "user_ids": [technicians[2]]}),
        )
        .await?;
        self.summary.teams += 3;
        // Category name → (id, whether its tickets go to the Network team).
        let mut categories: Vec<(&str, String, bool)> = Vec::new();
        for (name, subcategories) in CATEGORIES {
            let parent = self.create("/api/v1/ticket-categories", json!({"name": name})).await?;
            categories.push((name, parent.clone(), name == "Network"));
            self.summary.ticket_categories += 1;
            for sub in subcategories {
                let id = self.create("/api/v1/ticket-categories", json!({"name": sub, "parent_id": parent})).await?;
                categories.push((sub, id, name == "Network"));
                self.summary.ticket_categories += 1;
            }
        }

        let board =
            self.create("/api/v1/boards", json!({"name": "Service Desk", "description": "Break/fix requests"})).await?;
        let mut statuses = Vec::new();
        for (position, (name, closed)) in [
            ("New", false),
            ("In Progress", false),
            ("Waiting on Customer", false),
            ("Resolved", true),
            ("Closed", true),
        ]
        .into_iter()
        .enumerate()
        {
            let body = json!({"board_id": board, "name": name, "is_closed": closed, "position": position * 10});
            statuses.push(self.create("/api/v1/statuses", body).await?);
        }
        let projects_board =
            self.create("/api/v1/boards", json!({"name": "Projects", "description": "Project work"})).await?;
        for (position, (name, closed)) in [("Planned", false), ("Doing", false), ("Done", true)].into_iter().enumerate()
        {
            let body =
                json!({"board_id": projects_board, "name": name, "is_closed": closed, "position": position * 10});
            self.create("/api/v1/statuses", body).await?;
        }
        let mut priorities = Vec::new();
        for (position, (name, color)) in
            [("Critical", "#b71c1c"), ("High", "#ef6c00"), ("Medium", "#1565c0"), ("Low", "#607d8b")]
                .into_iter()
                .enumerate()
        {
            priorities.push(
                self.create("/api/v1/priorities", json!({"name": name, "color": color, "position": position})).await?,
            );
        }

        let mut clients = Vec::new();
        for (c, (name, domain, people)) in CLIENTS.into_iter().enumerate() {
            // The first client is the VIP; the clinics call after hours.
            let tags: &[&str] = match c {
                0 => &["vip"],
                6 => &["after-hours"],
                _ => &[],
            };
            let body = json!({"name": name, "email": format!("it@{domain}"), "website": format!("https://{domain}"), "phone": "+1 555 0100", "tags": tags});
            let client = self.create("/api/v1/clients", body).await?;
            self.summary.clients += 1;
            let mut contacts = Vec::new();
            for person in people {
                let (full_name, title) = person.split_once('|').unwrap_or((person, ""));
                let first = full_name.split(' ').next().unwrap_or(full_name).to_lowercase();
                let body = json!({"full_name": full_name, "job_title": title, "client_id": client, "email": format!("{first}@{domain}")});
                contacts.push(self.create("/api/v1/contacts", body).await?);
                self.summary.contacts += 1;
            }
            clients.push((client, contacts));
        }

        // Sites and devices of each client; the tickets about a device are linked to it below.
        let today = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now) - Duration::days(1);
        let mut devices: Vec<Vec<(String, &[&str])>> = Vec::new();
        for (c, ((client, _), (name, _, _))) in clients.iter().zip(CLIENTS).enumerate() {
            let (street, city, region, postal) = SITES[c];
            let head = json!({"name": "Head office", "address_line1": street, "city": city, "region": region,
                "postal_code": postal, "country": "US", "phone": "+1 555 0100", "is_primary": true});
            let mut sites = vec![self.create(&format!("/api/v1/clients/{client}/locations"), head).await?];
            self.summary.locations += 1;
            if c % 2 == 0 {
                let second = json!({"name": "Branch office", "address_line1": format!("{} Commerce Park", 10 + c),
                    "city": city, "region": region, "postal_code": postal, "country": "US",
                    "notes": "Server closet behind reception; key at the front desk."});
                sites.push(self.create(&format!("/api/v1/clients/{client}/locations"), second).await?);
                self.summary.locations += 1;
            }
            let prefix: String = name.split(' ').next().unwrap_or(name).to_uppercase();
            let mut own = Vec::new();
            for (a, (kind, tag, model, age, warranty, status, site, about)) in ASSETS.into_iter().enumerate() {
                // The VIP client's devices are VIP too; equipment fixed on site (servers, network,
                // printers) is `onsite`.
                let mut tags = Vec::new();
                if c == 0 {
                    tags.push("vip");
                }
                if matches!(kind, "server" | "network" | "printer") {
                    tags.push("onsite");
                }
                let purchased = (today - Duration::days(age + 30 * c as i64)).date_naive();
                let mut attributes = json!({"model": model});
                if matches!(kind, "laptop" | "workstation") {
                    attributes["os"] = json!("Windows 11 Pro");
                }
                let body = json!({
                    "asset_type": kind, "name": format!("{prefix}-{tag}"), "client_id": client,
                    "location_id": sites[site.min(sites.len() - 1)], "status": status,
                    "serial_number": format!("{}{:06}", &tag[..2], 104_729 * (c + 1) + 7_919 * a),
                    "purchase_date": purchased, "warranty_end_date": purchased + Duration::days(warranty),
                    "attributes": attributes, "notes": model, "tags": tags,
                });
                own.push((self.create("/api/v1/assets", body).await?, about));
                self.summary.assets += 1;
            }
            devices.push(own);
        }

        // 60 tickets: every template three times, spread over clients, statuses and priorities.
        let sources = ["email", "phone", "portal", "email", "api"];
        let mut first_of_template: Vec<String> = Vec::new();
        for i in 0..60usize {
            let template = i % TICKETS.len();
            let (title, description) = TICKETS[template];
            let (client, contacts) = &clients[i % clients.len()];
            let (category, network_work) = categories
                .iter()
                .find(|(name, _, _)| *name == TICKET_CATEGORIES[template])
                .map(|(_, id, network)| (id.clone(), *network))
                .ok_or_else(|| ApiError::internal(&"demo data: a ticket template names no category"))?;
            let mut tags = Vec::new();
            if i % clients.len() == 0 {
                tags.push("vip");
            }
            match template {
                6 => tags.push("security"),
                11 => tags.push("after-hours"),
                0 | 13 => tags.push("recurring"),
                7 | 8 | 18 => tags.push("onsite"),
                _ => {}
            }
            // Repeats of the VPN problem are follow-ups of the first report.
            let parent = (template == 2 && i >= TICKETS.len()).then(|| first_of_template.get(2).cloned()).flatten();
            let body = json!({
                "category_id": category,
                "team_id": if network_work { &network } else { &service_desk },
                "source": sources[i % sources.len()],
                "tags": tags,
                "parent_ticket_id": parent,
                "title": title,
                "description": description,
                "board_id": board,
                "client_id": client,
                "contact_id": contacts[i % contacts.len()],
                "priority_id": priorities[(i * 7) % priorities.len()],
                "status_id": statuses[(i * 3) % statuses.len()],
                "assigned_to": technicians[i % technicians.len()],
            });
            let ticket = self.create("/api/v1/tickets", body).await?;
            if i < TICKETS.len() {
                first_of_template.push(ticket.clone());
            }
            self.summary.tickets += 1;
            let about: Vec<&String> = devices[i % clients.len()]
                .iter()
                .filter(|(_, about)| about.contains(&title))
                .map(|(id, _)| id)
                .collect();
            if !about.is_empty() {
                self.call(Method::Put, &format!("/api/v1/tickets/{ticket}/assets"), json!({"asset_ids": about}))
                    .await?;
                self.summary.linked_tickets += 1;
            }
            for c in 0..(1 + i % 3) {
                let body = json!({"body": COMMENTS[(i + c) % COMMENTS.len()], "is_internal": c % 2 == 1});
                self.create(&format!("/api/v1/tickets/{ticket}/comments"), body).await?;
                self.summary.comments += 1;
            }
            if i % 2 == 0 {
                let started = today - Duration::days((i % 30) as i64) - Duration::hours((i % 5) as i64);
                let body = json!({
                    "work_item_type": "ticket", "work_item_id": ticket, "user_id": technicians[i % technicians.len()],
                    "started_at": started.to_rfc3339(), "duration_minutes": 15 + (i % 6) * 15,
                    "billable": i % 5 != 0, "notes": COMMENTS[i % COMMENTS.len()],
                });
                self.create("/api/v1/time-entries", body).await?;
                self.summary.time_entries += 1;
            }
        }

        let states = ["active", "planned", "active", "completed"];
        let task_states = ["done", "done", "in_progress", "todo", "todo"];
        for (p, (name, description, tasks)) in PROJECTS.into_iter().enumerate() {
            let start = (today - Duration::days(20 - p as i64 * 5)).date_naive();
            let body = json!({
                "name": name, "description": description, "client_id": clients[p * 2].0, "status": states[p],
                "start_date": start, "end_date": start + Duration::days(60),
            });
            let project = self.create("/api/v1/projects", body).await?;
            self.summary.projects += 1;
            for (t, title) in tasks.into_iter().enumerate() {
                let body = json!({
                    "title": title, "status": task_states[t], "assigned_to": technicians[(p + t) % technicians.len()],
                    "estimated_minutes": 120 + t * 60, "due_date": start + Duration::days(10 * (t as i64 + 1)),
                });
                let task = self.create(&format!("/api/v1/projects/{project}/tasks"), body).await?;
                self.summary.tasks += 1;
                if task_states[t] != "todo" {
                    let started = today - Duration::days((t * 3) as i64) - Duration::hours(2);
                    let body = json!({
                        "work_item_type": "project_task", "work_item_id": task, "user_id": technicians[(p + t) % technicians.len()],
                        "started_at": started.to_rfc3339(), "duration_minutes": 90, "notes": format!("Worked on: {title}"),
                    });
                    self.create("/api/v1/time-entries", body).await?;
                    self.summary.time_entries += 1;
                }
            }
        }

        for (title, category, body, published) in ARTICLES {
            let tags: &[&str] = match category {
                "Remote access" => &["vpn"],
                "Printing" => &["printing"],
                "Security" => &["security"],
                _ => &[],
            };
            let body = json!({"title": title, "category": category, "body": body, "tags": tags});
            let article = self.create("/api/v1/kb-articles", body).await?;
            self.summary.kb_articles += 1;
            if published {
                self.call(
                    Method::Put,
                    &format!("/api/v1/kb-articles/{article}/status"),
                    json!({"status": "published"}),
                )
                .await?;
                self.summary.kb_published += 1;
            }
        }
        Ok(self.summary)
    }

    async fn role_id(&self, name: &str) -> Result<String, ApiError> {
        let catalog = crate::catalog();
        let (op, params) = catalog
            .route(Method::Get, "/api/v1/roles")
            .ok_or_else(|| ApiError::internal(&"demo data: no roles operation"))?;
        let raw = RawRequest { path: params, query: "limit=100".to_owned(), body: None };
        let reply = op.call(self.app.clone(), Some(self.principal.clone()), raw).await?;
        let roles: Value =
            serde_json::from_slice(&reply.body.unwrap_or_default()).map_err(|e| ApiError::internal(&e))?;
        roles["data"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["name"] == name))
            .and_then(|r| r["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::internal(&format!("demo data: no {name} role")))
    }
}
