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
        for (name, domain, people) in CLIENTS {
            let body = json!({"name": name, "email": format!("it@{domain}"), "website": format!("https://{domain}"), "phone": "+1 555 0100"});
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

        // 60 tickets: every template three times, spread over clients, statuses and priorities.
        let today = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now) - Duration::days(1);
        for i in 0..60usize {
            let (title, description) = TICKETS[i % TICKETS.len()];
            let (client, contacts) = &clients[i % clients.len()];
            let body = json!({
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
            self.summary.tickets += 1;
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
