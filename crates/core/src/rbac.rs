//! Permissions as (resource, action) pairs, the built-in roles, and the one function that
//! decides whether a caller may perform an operation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What a permission allows.
    Action {
        Create = "create",
        Read = "read",
        Update = "update",
        Delete = "delete",
    }
);

/// Declares the resources permissions are about: for each, in one place, what the built-in
/// Technician role holds of it, whether the Read-only role reads it (the business resources), and
/// which of its actions are privileged (never granted to an agent). The Admin role holds
/// everything. A database made before a resource was declared gains its permissions, granted to
/// each tenant's built-in roles as declared, when it is migrated.
macro_rules! resources {
    ($($variant:ident = $text:literal {
        technician: [$($tech:ident),*],
        read_only: $read_only:literal,
        privileged: [$($privileged:ident),*] $(,)?
    }),+ $(,)?) => {
        string_enum!(
            /// What a permission is about.
            Resource { $($variant = $text),+ }
        );

        impl Resource {
            /// What the built-in Technician role holds of this resource.
            pub fn technician_actions(self) -> &'static [Action] {
                match self { $(Resource::$variant => &[$(Action::$tech),*]),+ }
            }

            /// Whether this is a business resource, which the Read-only role reads.
            pub fn is_psa(self) -> bool {
                match self { $(Resource::$variant => $read_only),+ }
            }

            /// The actions on this resource never granted to agents: those acting on identities, and
            /// deciding approvals (a human's judgement by definition).
            pub fn privileged_actions(self) -> &'static [Action] {
                match self { $(Resource::$variant => &[$(Action::$privileged),*]),+ }
            }
        }
    };
}

resources! {
    Client = "client" { technician: [Read], read_only: true, privileged: [] },
    Contact = "contact" { technician: [Read], read_only: true, privileged: [] },
    Ticket = "ticket" { technician: [Create, Read, Update], read_only: true, privileged: [] },
    TicketComment = "ticket_comment" { technician: [Create, Read, Update], read_only: true, privileged: [] },
    Project = "project" { technician: [Read], read_only: true, privileged: [] },
    ProjectTask = "project_task" { technician: [Read], read_only: true, privileged: [] },
    TimeEntry = "time_entry" { technician: [Create, Read, Update], read_only: true, privileged: [] },
    Board = "board" { technician: [Read], read_only: true, privileged: [] },
    Status = "status" { technician: [Read], read_only: true, privileged: [] },
    Priority = "priority" { technician: [Read], read_only: true, privileged: [] },
    Tag = "tag" { technician: [Read], read_only: true, privileged: [] },
    Team = "team" { technician: [Read], read_only: true, privileged: [] },
    TicketCategory = "ticket_category" { technician: [Read], read_only: true, privileged: [] },
    User = "user" { technician: [], read_only: false, privileged: [Create, Update, Delete] },
    Role = "role" { technician: [], read_only: false, privileged: [Create, Update, Delete] },
    ApiKey = "api_key" { technician: [Create, Read, Delete], read_only: false, privileged: [] },
    ClientLocation = "client_location" { technician: [Read], read_only: true, privileged: [] },
    Asset = "asset" { technician: [Create, Read, Update], read_only: true, privileged: [] },
    KbArticle = "kb_article" { technician: [Create, Read, Update], read_only: true, privileged: [] },
    // Publishing and archiving articles (Update only): an editorial decision, Admin by default.
    KbPublication = "kb_publication" { technician: [], read_only: false, privileged: [] },
    // Deciding (Update) human approvals of governed calls: a person's judgement, so never an agent's.
    McpApproval = "mcp_approval" { technician: [], read_only: false, privileged: [Update] },
}

/// One (resource, action) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    pub resource: Resource,
    pub action: Action,
}

impl Permission {
    pub const fn new(resource: Resource, action: Action) -> Permission {
        Permission { resource, action }
    }

    /// This permission's position in a [`PermissionSet`].
    fn index(self) -> usize {
        self.resource as usize * Action::ALL.len() + self.action as usize
    }

    pub fn parse(resource: &str, action: &str) -> Option<Permission> {
        Some(Permission::new(Resource::parse(resource)?, Action::parse(action)?))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

/// Words in a [`PermissionSet`]: enough bits for every declared (resource, action) pair.
const WORDS: usize = (Resource::ALL.len() * Action::ALL.len()).div_ceil(64);

/// A set of permissions as a bitset, one bit per declared pair: it grows with the declarations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet([u64; WORDS]);

impl PermissionSet {
    pub fn all() -> PermissionSet {
        Self::from_iter(all_permissions())
    }

    pub fn contains(self, p: Permission) -> bool {
        let i = p.index();
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn insert(&mut self, p: Permission) {
        let i = p.index();
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        all_permissions().filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

pub fn all_permissions() -> impl Iterator<Item = Permission> {
    Resource::ALL.iter().flat_map(|r| Action::ALL.iter().map(|a| Permission::new(*r, *a)))
}

/// The roles every tenant is created with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltInRole {
    Admin,
    Technician,
    ReadOnly,
}

impl BuiltInRole {
    pub const ALL: [BuiltInRole; 3] = [BuiltInRole::Admin, BuiltInRole::Technician, BuiltInRole::ReadOnly];

    pub fn name(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "Admin",
            BuiltInRole::Technician => "Technician",
            BuiltInRole::ReadOnly => "Read-only",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "Everything, including users, roles and API keys.",
            BuiltInRole::Technician => {
                "Reads every PSA resource; creates and updates tickets, comments, time entries, assets and knowledge-base drafts; manages its own API keys."
            }
            BuiltInRole::ReadOnly => "Reads every PSA resource.",
        }
    }

    /// What this role holds, as the resources declare it.
    pub fn permissions(self) -> PermissionSet {
        all_permissions()
            .filter(|p| match self {
                BuiltInRole::Admin => true,
                BuiltInRole::ReadOnly => p.action == Action::Read && p.resource.is_psa(),
                BuiltInRole::Technician => p.resource.technician_actions().contains(&p.action),
            })
            .collect()
    }
}

/// The one authorization decision for every REST call, MCP tool call and listing.
/// Who holds a set of permissions: the decision differs for agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    User,
    Agent,
}

impl Permission {
    /// Whether this permission acts on identities themselves: creating, changing or deleting
    /// users (their passwords, emails, roles) and roles. Never granted to an agent, whatever its
    /// roles say, so that no agent can obtain a credential a person or another principal could use.
    pub fn privileged(self) -> bool {
        self.resource.privileged_actions().contains(&self.action)
    }
}

/// The one authorization decision, for calls, listings and search alike: the permission must be
/// granted, and an agent never holds a privileged one.
pub fn authorize(holder: Holder, granted: PermissionSet, needed: Permission) -> Result<(), ApiError> {
    if holder == Holder::Agent && needed.privileged() {
        return Err(ApiError::forbidden(format!(
            "Permission denied: agents cannot {} {} (it acts on identities, so only people may)",
            needed.action, needed.resource
        )));
    }
    if granted.contains(needed) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("Permission denied: cannot {} {}", needed.action, needed.resource)))
    }
}

/// PostgreSQL advisory lock key held while introducing declared permissions ("alga_prm" in ASCII).
const INTRODUCE_LOCK_KEY: i64 = 0x616c_6761_5f70_726d;

/// Gives a database the permissions declared since it was made: each declared pair missing from
/// `permissions` is added and granted to every tenant's built-in roles that the declaration gives
/// it to, in one transaction. A pair is introduced once: grants an administrator later removes
/// from a built-in role stay removed. Returns the pairs introduced.
pub fn introduce_declared(conn: &mut crate::DbConn) -> Result<Vec<Permission>, ApiError> {
    use crate::schema::{permissions, roles};
    use diesel::prelude::*;
    crate::db::write_transaction(conn, |conn| {
        // Runners starting together (after the migration lock is released) take turns, so that one
        // introduces and the others find nothing new; SQLite's write transaction already does.
        if let crate::DbConn::Postgresql(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(INTRODUCE_LOCK_KEY)
                .execute(pg)?;
        }
        let known: Vec<(String, String)> =
            permissions::table.select((permissions::resource, permissions::action)).load(conn)?;
        let new: Vec<Permission> = all_permissions()
            .filter(|p| !known.iter().any(|(r, a)| r == p.resource.as_str() && a == p.action.as_str()))
            .collect();
        if new.is_empty() {
            return Ok(new);
        }
        let built_in: Vec<(String, String, String)> = roles::table
            .filter(roles::built_in.eq(true))
            .select((roles::tenant_id, roles::id, roles::name))
            .load(conn)?;
        for p in &new {
            diesel::insert_into(permissions::table)
                .values((permissions::resource.eq(p.resource.as_str()), permissions::action.eq(p.action.as_str())))
                .execute(conn)?;
            for (tenant_id, role_id, name) in &built_in {
                let Some(role) = BuiltInRole::ALL.into_iter().find(|r| r.name() == name) else { continue };
                if role.permissions().contains(*p) {
                    crate::identity::grant(conn, tenant_id, role_id, *p)?;
                }
            }
        }
        tracing::info!(count = new.len(), "declared permissions introduced and granted to the built-in roles");
        Ok(new)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_has_its_own_bit() {
        let all: Vec<Permission> = all_permissions().collect();
        assert_eq!(all.len(), Resource::ALL.len() * 4);
        assert_eq!(PermissionSet::all().iter().count(), all.len());
        let mut set = PermissionSet::default();
        for p in all {
            assert!(!set.contains(p), "{p}");
            set.insert(p);
            assert!(set.contains(p), "{p}");
        }
    }

    #[test]
    fn built_in_roles_grant_what_the_docs_say() {
        let tech = BuiltInRole::Technician.permissions();
        assert!(tech.contains(Permission::new(Resource::Ticket, Action::Create)));
        assert!(tech.contains(Permission::new(Resource::Client, Action::Read)));
        assert!(!tech.contains(Permission::new(Resource::Client, Action::Create)));
        assert!(!tech.contains(Permission::new(Resource::Ticket, Action::Delete)));
        assert!(!tech.contains(Permission::new(Resource::User, Action::Read)));
        assert!(tech.contains(Permission::new(Resource::ApiKey, Action::Create)));
        let ro = BuiltInRole::ReadOnly.permissions();
        // Reading the 16 business resources (docs/api.md's table), and nothing else.
        assert_eq!(ro.iter().count(), 16);
        assert!(ro.iter().all(|p| p.action == Action::Read && p.resource.is_psa()));
        assert!(ro.contains(Permission::new(Resource::KbArticle, Action::Read)));
        assert!(!tech.contains(Permission::new(Resource::KbPublication, Action::Update)));
        let decide = Permission::new(Resource::McpApproval, Action::Update);
        assert!(!tech.contains(decide) && !ro.contains(decide));
        assert!(BuiltInRole::Admin.permissions().contains(decide));
    }

    #[test]
    fn a_denial_names_the_permission() {
        let err = authorize(
            Holder::User,
            BuiltInRole::ReadOnly.permissions(),
            Permission::new(Resource::Ticket, Action::Create),
        )
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert_eq!(err.message(), "Permission denied: cannot create ticket");
    }

    #[test]
    fn agents_never_hold_privileged_permissions() {
        let all = PermissionSet::all();
        for p in all_permissions() {
            let privileged = (matches!(p.resource, Resource::User | Resource::Role) && p.action != Action::Read)
                || p == Permission::new(Resource::McpApproval, Action::Update);
            assert_eq!(p.privileged(), privileged, "{p}");
            assert!(authorize(Holder::User, all, p).is_ok(), "{p}");
            assert_eq!(authorize(Holder::Agent, all, p).is_ok(), !privileged, "{p}");
        }
    }
}
