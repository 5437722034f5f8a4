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
            description: "Refuses agents closing a ticket (setting a closed status) whose client is tagged `vip`; \
                          other changes stay allowed.",
            source: r#"@id("no-closing-vip-tickets")
@reason("Tickets of VIP clients are closed by people.")
forbid (
  principal is Alga::Agent,
  action == Alga::Action::"tickets.update",
  resource is Alga::Ticket
) when {
  context.closes && resource.client.tags.contains("vip")
};
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
            description: "Refuses agents a time entry created or changed to more than 8 hours, whether the call \
                          gives `duration_minutes` or `started_at` and `ended_at`.",
            source: r#"@id("time-entry-at-most-8-hours")
@reason("A time entry by an agent lasts at most 8 hours.")
forbid (
  principal is Alga::Agent,
  action in [Alga::Action::"time_entries.create", Alga::Action::"time_entries.update"],
  resource
) when {
  (context.body has duration_minutes && context.body.duration_minutes > 480) ||
  (context.body has started_at && context.body has ended_at &&
   context.body.ended_at.durationSince(context.body.started_at) > duration("8h"))
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
    ]
}
