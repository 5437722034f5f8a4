//! Projects for clients, and their tasks.

use alga_core::schema::{project_tasks, projects, time_entries};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, nullable, required_text, utc,
};
use crate::refs;

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_PROJECTS_CREATE: &str = r#"{"name":"Office 365 migration","client_id":"<client id>","status":"active","start_date":"2026-12-01","end_date":"2027-01-31"}"#;
const EXAMPLE_PROJECTS_UPDATE: &str = r#"{"status":"completed"}"#;
const EXAMPLE_PROJECTS_TASKS_CREATE: &str =
    r#"{"title":"Migrate mailboxes","estimated_minutes":480,"due_date":"2026-12-15"}"#;
const EXAMPLE_PROJECTS_TASKS_UPDATE: &str = r#"{"status":"done"}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("projects.list", Method::Get, "/api/v1/projects", Access::needs(Resource::Project, Action::Read))
                .doc(
                    "List projects",
                    "Client projects, by name. Filter by client, status, or text in the name and description.",
                )
                .tags(&["Projects"]),
            list,
        ),
        op(
            Meta::new(
                "projects.create",
                Method::Post,
                "/api/v1/projects",
                Access::needs(Resource::Project, Action::Create),
            )
            .doc("Create a project", "Starts a project for a client.")
            .tags(&["Projects"])
            .example(EXAMPLE_PROJECTS_CREATE),
            create,
        ),
        op(
            Meta::new(
                "projects.get",
                Method::Get,
                "/api/v1/projects/{id}",
                Access::needs(Resource::Project, Action::Read),
            )
            .doc("Get a project", "One project by id.")
            .tags(&["Projects"]),
            get,
        ),
        op(
            Meta::new(
                "projects.update",
                Method::Put,
                "/api/v1/projects/{id}",
                Access::needs(Resource::Project, Action::Update),
            )
            .doc("Update a project", "Changes the given fields; `null` clears a date.")
            .tags(&["Projects"])
            .example(EXAMPLE_PROJECTS_UPDATE),
            update,
        ),
        op(
            Meta::new(
                "projects.delete",
                Method::Delete,
                "/api/v1/projects/{id}",
                Access::needs(Resource::Project, Action::Delete),
            )
            .doc("Delete a project", "Deletes a project and its tasks; a project with logged time answers 409.")
            .tags(&["Projects"]),
            delete,
        ),
        op(
            Meta::new(
                "projects.tasks.list",
                Method::Get,
                "/api/v1/projects/{id}/tasks",
                Access::needs(Resource::ProjectTask, Action::Read),
            )
            .doc("List a project's tasks", "The tasks of a project, by due date. Filter by status or assignee.")
            .tags(&["Projects"]),
            list_tasks,
        ),
        op(
            Meta::new(
                "projects.tasks.create",
                Method::Post,
                "/api/v1/projects/{id}/tasks",
                Access::needs(Resource::ProjectTask, Action::Create),
            )
            .doc("Add a task to a project", "Adds a task to a project.")
            .tags(&["Projects"])
            .example(EXAMPLE_PROJECTS_TASKS_CREATE),
            create_task,
        ),
        op(
            Meta::new(
                "projects.tasks.get",
                Method::Get,
                "/api/v1/projects/{id}/tasks/{task_id}",
                Access::needs(Resource::ProjectTask, Action::Read),
            )
            .doc("Get a project task", "One task of a project.")
            .tags(&["Projects"]),
            get_task,
        ),
        op(
            Meta::new(
                "projects.tasks.update",
                Method::Put,
                "/api/v1/projects/{id}/tasks/{task_id}",
                Access::needs(Resource::ProjectTask, Action::Update),
            )
            .doc("Update a project task", "Changes the given fields of a task, such as its status.")
            .tags(&["Projects"])
            .example(EXAMPLE_PROJECTS_TASKS_UPDATE),
            update_task,
        ),
        op(
            Meta::new(
                "projects.tasks.delete",
                Method::Delete,
                "/api/v1/projects/{id}/tasks/{task_id}",
                Access::needs(Resource::ProjectTask, Action::Delete),
            )
            .doc("Delete a project task", "Deletes a task without logged time; otherwise 409.")
            .tags(&["Projects"]),
            delete_task,
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Planned,
    Active,
    OnHold,
    Completed,
    Cancelled,
}

impl ProjectStatus {
    fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Planned => "planned",
            ProjectStatus::Active => "active",
            ProjectStatus::OnHold => "on_hold",
            ProjectStatus::Completed => "completed",
            ProjectStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// planned, active, on_hold, completed or cancelled.
    pub status: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListProjects {
    client_id: Option<String>,
    status: Option<ProjectStatus>,
    /// Text to find in the name or description (case-insensitive).
    search: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    /// Unique within the tenant.
    name: String,
    client_id: String,
    #[serde(default)]
    description: String,
    /// Default: planned.
    status: Option<ProjectStatus>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProject {
    name: Option<String>,
    client_id: Option<String>,
    description: Option<String>,
    status: Option<ProjectStatus>,
    #[serde(default, deserialize_with = "nullable")]
    start_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    end_date: Option<Option<NaiveDate>>,
}

fn check_dates(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<(), ApiError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(ApiError::validation("end_date", "must not be before start_date")),
        _ => Ok(()),
    }
}

fn duplicate(name: &str) -> String {
    format!("A project named `{name}` already exists.")
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Project, ApiError> {
    projects::table
        .filter(projects::tenant_id.eq(tenant).and(projects::id.eq(id)))
        .select(Project::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No project with this id."))
}

async fn list(ctx: Ctx, _: (), q: ListProjects, _: ()) -> Result<Page<Project>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = projects::table.filter(projects::tenant_id.eq(&tenant)).into_boxed();
            if let Some(client) = &q.client_id {
                query = query.filter(projects::client_id.eq(client));
            }
            if let Some(status) = q.status {
                query = query.filter(projects::status.eq(status.as_str()));
            }
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(projects::name)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(lower(projects::description).like(pattern).escape('\\')),
                );
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((projects::name, projects::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Project::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateProject) -> Result<Data<Project>, ApiError> {
    check_dates(b.start_date, b.end_date)?;
    let now = alga_core::identity::now();
    let project = Project {
        id: alga_core::identity::new_id(),
        client_id: b.client_id,
        name: required_text("name", &b.name, 200)?,
        description: b.description.trim().to_owned(),
        status: b.status.unwrap_or(ProjectStatus::Planned).as_str().to_owned(),
        start_date: b.start_date,
        end_date: b.end_date,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        refs::client(conn, &tenant, "client_id", &project.client_id)?;
        diesel::insert_into(projects::table)
            .values((
                projects::tenant_id.eq(&tenant),
                projects::id.eq(&project.id),
                projects::client_id.eq(&project.client_id),
                projects::name.eq(&project.name),
                projects::description.eq(&project.description),
                projects::status.eq(&project.status),
                projects::start_date.eq(project.start_date),
                projects::end_date.eq(project.end_date),
                projects::created_at.eq(project.created_at),
                projects::updated_at.eq(project.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&project.name)))?;
        Ok(data(project))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Project>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateProject) -> Result<Data<Project>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, projects, &tenant, &p.id);
        let mut pr = load(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            pr.name = required_text("name", name, 200)?;
        }
        if let Some(client) = &b.client_id {
            refs::client(conn, &tenant, "client_id", client)?;
            pr.client_id = client.clone();
        }
        if let Some(description) = &b.description {
            pr.description = description.trim().to_owned();
        }
        if let Some(status) = b.status {
            pr.status = status.as_str().to_owned();
        }
        if let Some(start) = b.start_date {
            pr.start_date = start;
        }
        if let Some(end) = b.end_date {
            pr.end_date = end;
        }
        check_dates(pr.start_date, pr.end_date)?;
        pr.updated_at = alga_core::identity::now();
        diesel::update(projects::table.filter(projects::tenant_id.eq(&tenant).and(projects::id.eq(&pr.id))))
            .set((
                projects::client_id.eq(&pr.client_id),
                projects::name.eq(&pr.name),
                projects::description.eq(&pr.description),
                projects::status.eq(&pr.status),
                projects::start_date.eq(pr.start_date),
                projects::end_date.eq(pr.end_date),
                projects::updated_at.eq(pr.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&pr.name)))?;
        Ok(data(pr))
    })
    .await
}

/// Time entries logged against any of these tasks.
fn logged_on_tasks(conn: &mut DbConn, tenant: &str, task_ids: &[String]) -> Result<i64, ApiError> {
    Ok(time_entries::table
        .filter(
            time_entries::tenant_id
                .eq(tenant)
                .and(time_entries::work_item_type.eq("project_task"))
                .and(time_entries::work_item_id.eq_any(task_ids)),
        )
        .count()
        .get_result(conn)?)
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load(conn, &tenant, &p.id)?;
        let tasks: Vec<String> = project_tasks::table
            .filter(project_tasks::tenant_id.eq(&tenant).and(project_tasks::project_id.eq(&p.id)))
            .select(project_tasks::id)
            .load(conn)?;
        let logged = logged_on_tasks(conn, &tenant, &tasks)?;
        if logged > 0 {
            return Err(ApiError::conflict(format!(
                "{logged} time entries are logged on this project's tasks; mark it completed or cancelled instead."
            )));
        }
        diesel::delete(projects::table.filter(projects::tenant_id.eq(&tenant).and(projects::id.eq(&p.id))))
            .execute(conn)?;
        Ok(NoContent {})
    })
    .await
}

// ---- tasks ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Blocked,
    Done,
}

impl TaskStatus {
    fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = project_tasks)]
pub struct Task {
    pub id: String,
    pub project_id: String,
    pub title: String,
    pub description: String,
    /// todo, in_progress, blocked or done.
    pub status: String,
    pub assigned_to: Option<String>,
    pub estimated_minutes: Option<i32>,
    pub due_date: Option<NaiveDate>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TaskPath {
    /// The project's id.
    id: String,
    /// The task's id.
    task_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListTasks {
    status: Option<TaskStatus>,
    assigned_to: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    title: String,
    #[serde(default)]
    description: String,
    /// Default: todo.
    status: Option<TaskStatus>,
    assigned_to: Option<String>,
    estimated_minutes: Option<i32>,
    due_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTask {
    title: Option<String>,
    description: Option<String>,
    status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "nullable")]
    assigned_to: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    estimated_minutes: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    due_date: Option<Option<NaiveDate>>,
}

fn check_estimate(minutes: Option<i32>) -> Result<(), ApiError> {
    match minutes {
        Some(m) if !(0..=100_000).contains(&m) => {
            Err(ApiError::validation("estimated_minutes", "must be between 0 and 100000"))
        }
        _ => Ok(()),
    }
}

fn project_must_exist(conn: &mut DbConn, tenant: &str, id: &str) -> Result<(), ApiError> {
    refs::project(conn, tenant, "id", id).map_err(|_| ApiError::not_found("No project with this id."))
}

fn load_task(conn: &mut DbConn, tenant: &str, project: &str, id: &str) -> Result<Task, ApiError> {
    project_tasks::table
        .filter(
            project_tasks::tenant_id
                .eq(tenant)
                .and(project_tasks::project_id.eq(project))
                .and(project_tasks::id.eq(id)),
        )
        .select(Task::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such task in this project."))
}

async fn list_tasks(ctx: Ctx, p: IdPath, q: ListTasks, _: ()) -> Result<Page<Task>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        project_must_exist(conn, &tenant, &p.id)?;
        let filtered = || {
            let mut query = project_tasks::table
                .filter(project_tasks::tenant_id.eq(&tenant).and(project_tasks::project_id.eq(&p.id)))
                .into_boxed();
            if let Some(status) = q.status {
                query = query.filter(project_tasks::status.eq(status.as_str()));
            }
            if let Some(user) = &q.assigned_to {
                query = query.filter(project_tasks::assigned_to.eq(user));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((project_tasks::due_date.is_null(), project_tasks::due_date, project_tasks::created_at))
            .limit(page.limit())
            .offset(page.offset())
            .select(Task::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create_task(ctx: Ctx, p: IdPath, _: (), b: CreateTask) -> Result<Data<Task>, ApiError> {
    check_estimate(b.estimated_minutes)?;
    let now = alga_core::identity::now();
    let task = Task {
        id: alga_core::identity::new_id(),
        project_id: p.id,
        title: required_text("title", &b.title, 300)?,
        description: b.description.trim().to_owned(),
        status: b.status.unwrap_or(TaskStatus::Todo).as_str().to_owned(),
        assigned_to: b.assigned_to,
        estimated_minutes: b.estimated_minutes,
        due_date: b.due_date,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        project_must_exist(conn, &tenant, &task.project_id)?;
        if let Some(user) = &task.assigned_to {
            refs::active_user(conn, &tenant, "assigned_to", user)?;
        }
        diesel::insert_into(project_tasks::table)
            .values((
                project_tasks::tenant_id.eq(&tenant),
                project_tasks::id.eq(&task.id),
                project_tasks::project_id.eq(&task.project_id),
                project_tasks::title.eq(&task.title),
                project_tasks::description.eq(&task.description),
                project_tasks::status.eq(&task.status),
                project_tasks::assigned_to.eq(&task.assigned_to),
                project_tasks::estimated_minutes.eq(task.estimated_minutes),
                project_tasks::due_date.eq(task.due_date),
                project_tasks::created_at.eq(task.created_at),
                project_tasks::updated_at.eq(task.updated_at),
            ))
            .execute(conn)?;
        Ok(data(task))
    })
    .await
}

async fn get_task(ctx: Ctx, p: TaskPath, _: (), _: ()) -> Result<Data<Task>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_task(conn, &tenant, &p.id, &p.task_id).map(data)).await
}

async fn update_task(ctx: Ctx, p: TaskPath, _: (), b: UpdateTask) -> Result<Data<Task>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, project_tasks, &tenant, &p.task_id);
        let mut t = load_task(conn, &tenant, &p.id, &p.task_id)?;
        if let Some(title) = &b.title {
            t.title = required_text("title", title, 300)?;
        }
        if let Some(description) = &b.description {
            t.description = description.trim().to_owned();
        }
        if let Some(status) = b.status {
            t.status = status.as_str().to_owned();
        }
        if let Some(user) = b.assigned_to {
            if let Some(user) = &user {
                refs::active_user(conn, &tenant, "assigned_to", user)?;
            }
            t.assigned_to = user;
        }
        if let Some(minutes) = b.estimated_minutes {
            check_estimate(minutes)?;
            t.estimated_minutes = minutes;
        }
        if let Some(due) = b.due_date {
            t.due_date = due;
        }
        t.updated_at = alga_core::identity::now();
        diesel::update(
            project_tasks::table.filter(project_tasks::tenant_id.eq(&tenant).and(project_tasks::id.eq(&t.id))),
        )
        .set((
            project_tasks::title.eq(&t.title),
            project_tasks::description.eq(&t.description),
            project_tasks::status.eq(&t.status),
            project_tasks::assigned_to.eq(&t.assigned_to),
            project_tasks::estimated_minutes.eq(t.estimated_minutes),
            project_tasks::due_date.eq(t.due_date),
            project_tasks::updated_at.eq(t.updated_at),
        ))
        .execute(conn)?;
        Ok(data(t))
    })
    .await
}

async fn delete_task(ctx: Ctx, p: TaskPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load_task(conn, &tenant, &p.id, &p.task_id)?;
        let logged = logged_on_tasks(conn, &tenant, std::slice::from_ref(&p.task_id))?;
        if logged > 0 {
            return Err(ApiError::conflict(format!(
                "{logged} time entries are logged on this task; mark it done instead."
            )));
        }
        diesel::delete(
            project_tasks::table.filter(project_tasks::tenant_id.eq(&tenant).and(project_tasks::id.eq(&p.task_id))),
        )
        .execute(conn)?;
        Ok(NoContent {})
    })
    .await
}
