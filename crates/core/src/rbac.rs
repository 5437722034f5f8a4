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
    /// What a permission is about.
    Resource {
        Client = "client",
        Contact = "contact",
        Ticket = "ticket",
        TicketComment = "ticket_comment",
        Project = "project",
        ProjectTask = "project_task",
        TimeEntry = "time_entry",
        Board = "board",
        Status = "status",
        Priority = "priority",
        User = "user",
        Role = "role",
        ApiKey = "api_key",
    }
);

string_enum!(
    /// What a permission allows.
    Action {
        Create = "create",
        Read = "read",
        Update = "update",
        Delete = "delete",
    }
);

impl Resource {
    /// The business resources (everything but identity and access).
    pub const PSA: &'static [Resource] = &[
        Resource::Client,
        Resource::Contact,
        Resource::Ticket,
        Resource::TicketComment,
        Resource::Project,
        Resource::ProjectTask,
        Resource::TimeEntry,
        Resource::Board,
        Resource::Status,
        Resource::Priority,
    ];
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

    fn bit(self) -> u64 {
        1 << (self.resource as u64 * 4 + self.action as u64)
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

/// A set of permissions as a bitmask: 13 resources × 4 actions fit in a u64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub fn all() -> PermissionSet {
        Self::from_iter(all_permissions())
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
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
                "Reads every PSA resource; creates and updates tickets, comments and time entries; manages its own API keys."
            }
            BuiltInRole::ReadOnly => "Reads every PSA resource.",
        }
    }

    pub fn permissions(self) -> PermissionSet {
        let read_psa = Resource::PSA.iter().map(|r| Permission::new(*r, Action::Read));
        match self {
            BuiltInRole::Admin => PermissionSet::all(),
            BuiltInRole::ReadOnly => read_psa.collect(),
            BuiltInRole::Technician => read_psa
                .chain(
                    [Resource::Ticket, Resource::TicketComment, Resource::TimeEntry]
                        .into_iter()
                        .flat_map(|r| [Permission::new(r, Action::Create), Permission::new(r, Action::Update)]),
                )
                .chain([Action::Create, Action::Read, Action::Delete].map(|a| Permission::new(Resource::ApiKey, a)))
                .collect(),
        }
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
        matches!(self.resource, Resource::User | Resource::Role) && self.action != Action::Read
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_has_its_own_bit() {
        let all: Vec<Permission> = all_permissions().collect();
        assert_eq!(all.len(), 52);
        assert_eq!(PermissionSet::all().iter().count(), 52);
        let mut seen = 0u64;
        for p in all {
            assert_eq!(seen & p.bit(), 0, "{p}");
            seen |= p.bit();
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
        assert_eq!(ro.iter().count(), 10);
        assert!(ro.iter().all(|p| p.action == Action::Read && Resource::PSA.contains(&p.resource)));
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
            let privileged = matches!(p.resource, Resource::User | Resource::Role) && p.action != Action::Read;
            assert_eq!(p.privileged(), privileged, "{p}");
            assert!(authorize(Holder::User, all, p).is_ok(), "{p}");
            assert_eq!(authorize(Holder::Agent, all, p).is_ok(), !privileged, "{p}");
        }
    }
}
