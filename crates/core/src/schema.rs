//! Diesel table definitions for every community table (written by hand from `migrations-ce/`;
//! the schema tests in `crates/api` exercise every column on both databases).

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        password_change_required -> Bool,
    }
}

diesel::table! {
    roles (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        built_in -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    permissions (resource, action) {
        resource -> Text,
        action -> Text,
    }
}

diesel::table! {
    role_permissions (tenant_id, role_id, resource, action) {
        tenant_id -> Text,
        role_id -> Text,
        resource -> Text,
        action -> Text,
    }
}

diesel::table! {
    user_roles (tenant_id, user_id, role_id) {
        tenant_id -> Text,
        user_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    api_keys (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        key_hash -> Text,
        prefix -> Text,
        user_id -> Nullable<Text>,
        description -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clients (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        notes -> Text,
        is_inactive -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        client_id -> Nullable<Text>,
        full_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        job_title -> Nullable<Text>,
        is_inactive -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    boards (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    statuses (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        board_id -> Text,
        name -> Text,
        is_closed -> Bool,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    priorities (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        color -> Text,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ticket_sequences (tenant_id) {
        tenant_id -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    tickets (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        number -> Text,
        title -> Text,
        description -> Text,
        board_id -> Text,
        status_id -> Text,
        priority_id -> Text,
        client_id -> Text,
        contact_id -> Nullable<Text>,
        assigned_to -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        category_id -> Nullable<Text>,
        parent_ticket_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        source -> Text,
        created_by_agent -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_comments (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        ticket_id -> Text,
        author_id -> Nullable<Text>,
        body -> Text,
        is_internal -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        created_by_agent -> Nullable<Text>,
    }
}

diesel::table! {
    projects (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        client_id -> Text,
        name -> Text,
        description -> Text,
        status -> Text,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    project_tasks (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        project_id -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        assigned_to -> Nullable<Text>,
        estimated_minutes -> Nullable<Integer>,
        due_date -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    time_entries (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        work_item_type -> Text,
        work_item_id -> Text,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        duration_minutes -> Integer,
        billable -> Bool,
        notes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        created_by_agent -> Nullable<Text>,
    }
}

diesel::table! {
    tags (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        name_key -> Text,
        color -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    taggings (tenant_id, entity_type, entity_id, tag_id) {
        tenant_id -> Text,
        entity_type -> Text,
        entity_id -> Text,
        tag_id -> Text,
    }
}

diesel::table! {
    teams (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    team_members (tenant_id, team_id, user_id) {
        tenant_id -> Text,
        team_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    ticket_categories (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        parent_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    client_locations (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        client_id -> Text,
        name -> Text,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        phone -> Nullable<Text>,
        notes -> Text,
        is_primary -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    assets (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        client_id -> Text,
        location_id -> Nullable<Text>,
        asset_type -> Text,
        name -> Text,
        serial_number -> Nullable<Text>,
        status -> Text,
        purchase_date -> Nullable<Date>,
        warranty_end_date -> Nullable<Date>,
        notes -> Text,
        attributes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ticket_assets (tenant_id, ticket_id, asset_id) {
        tenant_id -> Text,
        ticket_id -> Text,
        asset_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    kb_articles (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        title -> Text,
        body -> Text,
        status -> Text,
        category -> Nullable<Text>,
        author_user_id -> Nullable<Text>,
        author_agent_id -> Nullable<Text>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    users,
    roles,
    permissions,
    role_permissions,
    user_roles,
    api_keys,
    clients,
    contacts,
    boards,
    statuses,
    priorities,
    ticket_sequences,
    tickets,
    ticket_comments,
    projects,
    project_tasks,
    time_entries,
    client_locations,
    assets,
    ticket_assets,
    kb_articles,
    tags,
    taggings,
    teams,
    team_members,
    ticket_categories,
);

diesel::table! {
    /// Changes to who may do what, append-only: see `admin_audit`.
    admin_audit (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        actor_kind -> Text,
        user_id -> Nullable<Text>,
        agent_id -> Nullable<Text>,
        api_key_id -> Nullable<Text>,
        via -> Text,
        action -> Text,
        target_kind -> Text,
        target_id -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        created_at -> Timestamp,
    }
}
