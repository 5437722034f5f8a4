//! Time entries: hours logged against tickets and project tasks.

use alga_core::schema::time_entries;
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{Data, IdPath, NoContent, Page, PageRequest, data, to_naive, utc};
use crate::refs;

/// The longest single entry.
const MAX_MINUTES: i64 = 24 * 60;

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_TIME_ENTRIES_CREATE: &str = r#"{"work_item_type":"ticket","work_item_id":"<ticket id>","started_at":"2026-11-24T09:00:00Z","duration_minutes":45,"billable":true,"notes":"Replaced toner, tested printing"}"#;
const EXAMPLE_TIME_ENTRIES_UPDATE: &str = r#"{"billable":false}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new(
                "time_entries.list",
                Method::Get,
                "/api/v1/time-entries",
                Access::needs(Resource::TimeEntry, Action::Read),
            )
            .doc(
                "List time entries",
                "Logged hours (timesheet entries), newest first. Filter by user, work item (ticket or \
                 project task), time range or billable.",
            )
            .tags(&["Time entries"]),
            list,
        ),
        op(
            Meta::new(
                "time_entries.create",
                Method::Post,
                "/api/v1/time-entries",
                Access::needs(Resource::TimeEntry, Action::Create),
            )
            .doc(
                "Log time",
                "Logs time worked on a ticket or project task, for the caller unless `user_id` says \
                 otherwise. Give `ended_at` or `duration_minutes`; an entry lasts at most 24 hours.",
            )
            .tags(&["Time entries"])
            .example(EXAMPLE_TIME_ENTRIES_CREATE),
            create,
        ),
        op(
            Meta::new(
                "time_entries.get",
                Method::Get,
                "/api/v1/time-entries/{id}",
                Access::needs(Resource::TimeEntry, Action::Read),
            )
            .doc("Get a time entry", "One time entry by id.")
            .tags(&["Time entries"]),
            get,
        ),
        op(
            Meta::new(
                "time_entries.update",
                Method::Put,
                "/api/v1/time-entries/{id}",
                Access::needs(Resource::TimeEntry, Action::Update),
            )
            .doc(
                "Update a time entry",
                "Changes the given fields; changing `started_at` keeps the duration unless `ended_at` or \
                 `duration_minutes` is given too.",
            )
            .tags(&["Time entries"])
            .example(EXAMPLE_TIME_ENTRIES_UPDATE),
            update,
        ),
        op(
            Meta::new(
                "time_entries.delete",
                Method::Delete,
                "/api/v1/time-entries/{id}",
                Access::needs(Resource::TimeEntry, Action::Delete),
            )
            .doc("Delete a time entry", "Deletes a time entry.")
            .tags(&["Time entries"]),
            delete,
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemType {
    Ticket,
    ProjectTask,
}

impl WorkItemType {
    fn as_str(self) -> &'static str {
        match self {
            WorkItemType::Ticket => "ticket",
            WorkItemType::ProjectTask => "project_task",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = time_entries)]
pub struct TimeEntry {
    pub id: String,
    pub user_id: String,
    /// `ticket` or `project_task`.
    pub work_item_type: String,
    pub work_item_id: String,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub ended_at: NaiveDateTime,
    pub duration_minutes: i32,
    pub billable: bool,
    pub notes: String,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
    /// The agent that logged it (enterprise edition), if one did.
    pub created_by_agent: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListEntries {
    user_id: Option<String>,
    work_item_type: Option<WorkItemType>,
    work_item_id: Option<String>,
    /// Started at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Started before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    billable: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateEntry {
    work_item_type: WorkItemType,
    work_item_id: String,
    /// Whose time this is (default: the caller).
    user_id: Option<String>,
    started_at: DateTime<Utc>,
    /// Give this or `duration_minutes`.
    ended_at: Option<DateTime<Utc>>,
    /// Give this or `ended_at`; 1 to 1440.
    duration_minutes: Option<i64>,
    /// Default: true.
    billable: Option<bool>,
    #[serde(default)]
    notes: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEntry {
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_minutes: Option<i64>,
    billable: Option<bool>,
    notes: Option<String>,
}

/// What a call gives for an entry's span over what the entry has (`current`: its start and
/// minutes, for an update): the start given or kept; the end and minutes given or, when neither
/// is, the current minutes (moving only the start keeps the duration). `None` without a start.
fn requested(
    current: Option<(NaiveDateTime, i32)>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_minutes: Option<i64>,
) -> Option<(NaiveDateTime, Option<NaiveDateTime>, Option<i64>)> {
    let start = started_at.map(to_naive).or(current.map(|(start, _)| start))?;
    let (end, minutes) = match (ended_at, duration_minutes, current) {
        (None, None, Some((_, minutes))) => (None, Some(i64::from(minutes))),
        (end, minutes, _) => (end.map(to_naive), minutes),
    };
    Some((start, end, minutes))
}

/// The end and length (unchecked) from what the client gave; refuses too little and
/// contradictions.
fn extent(
    start: NaiveDateTime,
    end: Option<NaiveDateTime>,
    minutes: Option<i64>,
) -> Result<(NaiveDateTime, i64), ApiError> {
    match (end, minutes) {
        (None, None) => Err(ApiError::validation("ended_at", "give ended_at or duration_minutes")),
        (Some(end), None) => Ok((end, (end - start).num_minutes())),
        (None, Some(m)) => Ok((start + Duration::minutes(m.clamp(-MAX_MINUTES - 1, MAX_MINUTES + 1)), m)),
        (Some(end), Some(m)) => {
            if end - start != Duration::minutes(m.clamp(-MAX_MINUTES - 1, MAX_MINUTES + 1)) {
                return Err(ApiError::validation("duration_minutes", "does not match started_at and ended_at"));
            }
            Ok((end, m))
        }
    }
}

/// The end and duration from what the client gave; refuses contradictions and spans outside
/// one minute to 24 hours.
fn span(
    start: NaiveDateTime,
    end: Option<NaiveDateTime>,
    minutes: Option<i64>,
) -> Result<(NaiveDateTime, i32), ApiError> {
    let (end, minutes) = extent(start, end, minutes)?;
    if end <= start {
        return Err(ApiError::validation("ended_at", "must be after started_at"));
    }
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::validation("duration_minutes", format!("an entry lasts 1 to {MAX_MINUTES} minutes")));
    }
    let minutes = i32::try_from(minutes).map_err(|_| ApiError::validation("duration_minutes", "too large"))?;
    Ok((end, minutes))
}

/// How many minutes an entry lasts after a `time_entries.create` (`current` is `None`) or
/// `time_entries.update` (`current`: the entry's start and minutes) giving these fields, by the
/// rule the operations apply, before their range check (a policy sees a 30-hour entry as such).
/// `None` when the call gives too little or contradicts itself: the operation refuses it.
pub fn resulting_minutes(
    current: Option<(NaiveDateTime, i32)>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_minutes: Option<i64>,
) -> Option<i64> {
    let (start, end, minutes) = requested(current, started_at, ended_at, duration_minutes)?;
    extent(start, end, minutes).ok().map(|(_, minutes)| minutes)
}

fn work_item_exists(conn: &mut DbConn, tenant: &str, kind: WorkItemType, id: &str) -> Result<(), ApiError> {
    match kind {
        WorkItemType::Ticket => refs::ticket(conn, tenant, "work_item_id", id),
        WorkItemType::ProjectTask => refs::project_task(conn, tenant, "work_item_id", id),
    }
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<TimeEntry, ApiError> {
    time_entries::table
        .filter(time_entries::tenant_id.eq(tenant).and(time_entries::id.eq(id)))
        .select(TimeEntry::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No time entry with this id."))
}

async fn list(ctx: Ctx, _: (), q: ListEntries, _: ()) -> Result<Page<TimeEntry>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(ApiError::validation("to", "must not be before from"));
    }
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = time_entries::table.filter(time_entries::tenant_id.eq(&tenant)).into_boxed();
            if let Some(user) = &q.user_id {
                query = query.filter(time_entries::user_id.eq(user));
            }
            if let Some(kind) = q.work_item_type {
                query = query.filter(time_entries::work_item_type.eq(kind.as_str()));
            }
            if let Some(item) = &q.work_item_id {
                query = query.filter(time_entries::work_item_id.eq(item));
            }
            if let Some(from) = q.from {
                query = query.filter(time_entries::started_at.ge(to_naive(from)));
            }
            if let Some(to) = q.to {
                query = query.filter(time_entries::started_at.lt(to_naive(to)));
            }
            if let Some(billable) = q.billable {
                query = query.filter(time_entries::billable.eq(billable));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((time_entries::started_at.desc(), time_entries::id.desc()))
            .limit(page.limit())
            .offset(page.offset())
            .select(TimeEntry::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateEntry) -> Result<Data<TimeEntry>, ApiError> {
    let (started_at, ended_at, minutes) = requested(None, Some(b.started_at), b.ended_at, b.duration_minutes)
        .ok_or_else(|| ApiError::validation("started_at", "is required"))?;
    let (ended_at, duration_minutes) = span(started_at, ended_at, minutes)?;
    let now = alga_core::identity::now();
    let entry = TimeEntry {
        id: alga_core::identity::new_id(),
        user_id: match b.user_id.or_else(|| ctx.principal.user_id().map(str::to_owned)) {
            Some(user) => user,
            None => {
                return Err(ApiError::validation("user_id", "is required when an agent logs time: whose time is it?"));
            }
        },
        work_item_type: b.work_item_type.as_str().to_owned(),
        work_item_id: b.work_item_id,
        started_at,
        ended_at,
        duration_minutes,
        billable: b.billable.unwrap_or(true),
        notes: b.notes.trim().to_owned(),
        created_at: now,
        updated_at: now,
        created_by_agent: ctx.principal.agent_id().map(str::to_owned),
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        work_item_exists(conn, &tenant, b.work_item_type, &entry.work_item_id)?;
        refs::active_user(conn, &tenant, "user_id", &entry.user_id)?;
        diesel::insert_into(time_entries::table)
            .values((
                time_entries::tenant_id.eq(&tenant),
                time_entries::id.eq(&entry.id),
                time_entries::user_id.eq(&entry.user_id),
                time_entries::work_item_type.eq(&entry.work_item_type),
                time_entries::work_item_id.eq(&entry.work_item_id),
                time_entries::started_at.eq(entry.started_at),
                time_entries::ended_at.eq(entry.ended_at),
                time_entries::duration_minutes.eq(entry.duration_minutes),
                time_entries::billable.eq(entry.billable),
                time_entries::notes.eq(&entry.notes),
                time_entries::created_at.eq(entry.created_at),
                time_entries::updated_at.eq(entry.updated_at),
                time_entries::created_by_agent.eq(&entry.created_by_agent),
            ))
            .execute(conn)?;
        Ok(data(entry))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<TimeEntry>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateEntry) -> Result<Data<TimeEntry>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, time_entries, &tenant, &p.id);
        let mut e = load(conn, &tenant, &p.id)?;
        let (start, end, minutes) =
            requested(Some((e.started_at, e.duration_minutes)), b.started_at, b.ended_at, b.duration_minutes)
                .ok_or_else(|| ApiError::validation("started_at", "is required"))?;
        (e.ended_at, e.duration_minutes) = span(start, end, minutes)?;
        e.started_at = start;
        if let Some(billable) = b.billable {
            e.billable = billable;
        }
        if let Some(notes) = &b.notes {
            e.notes = notes.trim().to_owned();
        }
        e.updated_at = alga_core::identity::now();
        diesel::update(time_entries::table.filter(time_entries::tenant_id.eq(&tenant).and(time_entries::id.eq(&e.id))))
            .set((
                time_entries::started_at.eq(e.started_at),
                time_entries::ended_at.eq(e.ended_at),
                time_entries::duration_minutes.eq(e.duration_minutes),
                time_entries::billable.eq(e.billable),
                time_entries::notes.eq(&e.notes),
                time_entries::updated_at.eq(e.updated_at),
            ))
            .execute(conn)?;
        Ok(data(e))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        let deleted = diesel::delete(
            time_entries::table.filter(time_entries::tenant_id.eq(&tenant).and(time_entries::id.eq(&p.id))),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(ApiError::not_found("No time entry with this id."));
        }
        Ok(NoContent {})
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 24).and_then(|d| d.and_hms_opt(h, m, 0)).unwrap()
    }

    #[test]
    fn spans() {
        assert_eq!(span(at(9, 0), None, Some(45)).unwrap(), (at(9, 45), 45));
        assert_eq!(span(at(9, 0), Some(at(10, 30)), None).unwrap(), (at(10, 30), 90));
        assert!(span(at(9, 0), Some(at(10, 0)), Some(59)).is_err(), "contradiction");
        let just_over = at(9, 30) + Duration::seconds(1);
        assert!(span(at(9, 0), Some(just_over), Some(30)).is_err(), "agreement is exact, not truncated");
        assert!(span(at(9, 0), Some(at(9, 0)), None).is_err(), "zero length");
        assert!(span(at(9, 0), Some(at(8, 0)), None).is_err(), "end before start");
        assert!(span(at(9, 0), None, Some(1441)).is_err(), "over 24 h");
        assert!(span(at(9, 0), None, Some(i64::MAX)).is_err(), "no overflow");
        assert!(span(at(9, 0), None, None).is_err());
    }

    #[test]
    fn the_resulting_minutes_of_an_update_count_from_the_kept_start() {
        let utc = |h, m| at(h, m).and_utc();
        let current = Some((at(9, 0), 60));
        assert_eq!(resulting_minutes(current, None, Some(utc(18, 0)), None), Some(540), "only the end moves");
        assert_eq!(resulting_minutes(current, Some(utc(10, 0)), None, None), Some(60), "only the start moves");
        assert_eq!(resulting_minutes(current, Some(utc(1, 0)), Some(utc(10, 0)), None), Some(540));
        assert_eq!(resulting_minutes(current, None, None, Some(1800)), Some(1800), "unchecked");
        assert_eq!(resulting_minutes(None, Some(utc(9, 0)), Some(utc(9, 30)), None), Some(30));
        assert_eq!(resulting_minutes(None, None, Some(utc(9, 30)), None), None, "a create needs a start");
        assert_eq!(resulting_minutes(None, Some(utc(9, 0)), Some(utc(10, 0)), Some(5)), None, "contradiction");
    }
}
