//! Ready-made policies for the common restrictions, shown in the editor.

use serde::Serialize;

/// One template: a policy source that compiles against the schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Template {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub source: &'static str,
}

pub fn templates() -> Vec<Template> {
    vec![
        Template {
            id: "no-closing-vip-tickets",
            title: "Agents may not close tickets of VIP clients",
            description: "Refuses agents closing a ticket (setting or creating it with a closed status) whose \
                          client is tagged `vip` (any case) after the call, moving a ticket off a VIP client, \
                          changing a VIP client's tags, and the moves that would untag or reopen-as-closed \
                          behind the ticket's back: renaming or deleting tags and editing or deleting \
                          statuses. Other changes stay allowed. Roles should also keep agents from these \
                          last operations (`tags`, `statuses`) where they do not need them.",
            source: r#"// Tags are compared by their key (trimmed, lowercased): "VIP" and "vip" are one tag.
@id("no-closing-vip-tickets")
@reason("Tickets of VIP clients are closed by people.")
forbid (
  principal is Alga::Agent,
  action in [Alga::Action::"tickets.update", Alga::Action::"tickets.create"],
  resource
) when {
  // The client the ticket has after the call (the body's client_id, else its own).
  context.closes && context.client_tags.contains("vip")
};

// Moving a ticket off a VIP client (even onto the same one) would free it to be closed.
@id("no-moving-vip-tickets")
@reason("Tickets of VIP clients stay with them.")
forbid (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource is Alga::Ticket)
when { context.body has client_id && resource.client.tags.contains("vip") };

// Replacing a VIP client's tags would drop `vip`.
@id("no-untagging-vip-clients")
@reason("Only people change the tags of VIP clients.")
forbid (principal is Alga::Agent, action == Alga::Action::"clients.update", resource is Alga::Client)
when { context.body has tags && resource.tags.contains("vip") };

// Renaming or deleting the tag untags every VIP client at once; flipping a status's `is_closed`
// closes its tickets without touching them.
@id("no-agent-tag-or-status-edits")
@reason("Tags and statuses are changed by people.")
forbid (
  principal is Alga::Agent,
  action in [
    Alga::Action::"tags.update", Alga::Action::"tags.delete",
    Alga::Action::"statuses.update", Alga::Action::"statuses.delete"
  ],
  resource
);
"#,
        },
        Template {
            id: "no-agent-deletes",
            title: "No agent deletes anything",
            description: "Refuses agents every DELETE operation; they are not even listed to agents.",
            source: r#"@id("no-agent-deletes")
@reason("Agents do not delete records.")
forbid (principal is Alga::Agent, action in Alga::Action::"delete", resource);
"#,
        },
        Template {
            id: "time-entry-at-most-8-hours",
            title: "No agent logs more than 8 hours in one entry",
            description: "Refuses agents a time entry created or changed to last more than 8 hours: \
                          `context.minutes` is the entry's length after the call, whichever of `started_at`, \
                          `ended_at` and `duration_minutes` it gives (the others are the entry's own).",
            source: r#"@id("time-entry-at-most-8-hours")
@reason("A time entry by an agent lasts at most 8 hours.")
forbid (
  principal is Alga::Agent,
  action in [Alga::Action::"time_entries.create", Alga::Action::"time_entries.update"],
  resource
) when {
  context.minutes > 480
};
"#,
        },
        Template {
            id: "tickets-of-own-teams",
            title: "Agents only touch tickets of the teams they serve",
            description: "Refuses agents any operation on an existing ticket that is not assigned to one of \
                          their teams (set on the agent by an admin). Lists and creates are not affected.",
            source: r#"@id("tickets-of-own-teams")
@reason("Agents work only on tickets of the teams they serve.")
forbid (principal is Alga::Agent, action in Alga::Action::"tickets", resource is Alga::Ticket)
unless {
  resource has team_id && principal.teams.contains(resource.team_id)
};
"#,
        },
        Template {
            id: "ticket-deletes-need-approval",
            title: "A person approves before an agent deletes a ticket",
            description: "Asks a person (an administrator, or anyone given the permission to decide \
                          approvals) to approve each ticket an agent would delete; the approval lets \
                          exactly that call run once, within an hour. A matching forbid still denies.",
            source: r#"@id("ticket-deletes-need-approval")
@reason("A person agrees before an agent deletes a ticket.")
@approval("required")
@expires("1h")
permit (principal is Alga::Agent, action == Alga::Action::"tickets.delete", resource is Alga::Ticket);
"#,
        },
    ]
}
