//! Diesel tables of the enterprise migrations. `agent_api_keys` is the community `api_keys` table
//! seen with the `agent_id` column the enterprise migrations add.

diesel::table! {
    agent_idp_providers (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        kind -> Text,
        issuer -> Text,
        jwks_uri -> Nullable<Text>,
        audience -> Text,
        subject_claim -> Text,
        entra_tenant_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        scopes -> Text,
        required_scopes -> Text,
        required_roles -> Text,
    }
}

diesel::table! {
    agents (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        idp_id -> Nullable<Text>,
        subject -> Nullable<Text>,
        active -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        /// JSON object of string to string: free attributes policies read (`principal.getTag`).
        attributes -> Text,
    }
}

diesel::table! {
    /// The teams an agent serves (policies read them as `principal.teams`).
    agent_teams (tenant_id, agent_id, team_id) {
        tenant_id -> Text,
        agent_id -> Text,
        team_id -> Text,
    }
}

diesel::table! {
    /// A tenant's Cedar policy sets, one row per version; the current one is the highest.
    policy_sets (tenant_id, version) {
        tenant_id -> Text,
        version -> BigInt,
        source -> Text,
        mode -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agent_roles (tenant_id, agent_id, role_id) {
        tenant_id -> Text,
        agent_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    #[sql_name = "api_keys"]
    agent_api_keys (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        key_hash -> Text,
        prefix -> Text,
        user_id -> Nullable<Text>,
        agent_id -> Nullable<Text>,
        description -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mcp_audit (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        caller_kind -> Text,
        agent_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        api_key_id -> Nullable<Text>,
        idp_issuer -> Nullable<Text>,
        idp_subject -> Nullable<Text>,
        client_name -> Nullable<Text>,
        client_version -> Nullable<Text>,
        protocol_version -> Text,
        method -> Text,
        tool -> Nullable<Text>,
        operation_id -> Nullable<Text>,
        http_method -> Nullable<Text>,
        http_path -> Nullable<Text>,
        arguments -> Text,
        decision -> Text,
        reason -> Nullable<Text>,
        status_code -> Nullable<Integer>,
        result_summary -> Nullable<Text>,
        duration_ms -> BigInt,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
        policy_decision -> Nullable<Text>,
        policy_ids -> Nullable<Text>,
        policy_version -> Nullable<BigInt>,
        policy_mode -> Nullable<Text>,
        policy_input -> Nullable<Text>,
        policy_errors -> Nullable<Text>,
        approval_id -> Nullable<Text>,
    }
}

// Community tables seen from here (the columns this crate reads), so that queries can join them
// with the enterprise tables: reading an agent's grants takes few round trips.
diesel::table! {
    #[sql_name = "roles"]
    role_names (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
    }
}

diesel::table! {
    #[sql_name = "role_permissions"]
    role_grants (tenant_id, role_id, resource, action) {
        tenant_id -> Text,
        role_id -> Text,
        resource -> Text,
        action -> Text,
    }
}

diesel::table! {
    #[sql_name = "tenants"]
    tenant_slugs (id) {
        id -> Text,
        slug -> Text,
    }
}

diesel::table! {
    /// Moved forward by triggers on every change to agents, their roles, keys and IdPs.
    grant_epochs (tenant_id) {
        tenant_id -> Text,
        epoch -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    grant_epochs,
    agent_idp_providers,
    agents,
    agent_roles,
    agent_teams,
    policy_sets,
    agent_api_keys,
    mcp_audit,
    role_names,
    role_grants,
    tenant_slugs
);

diesel::table! {
    /// Admin UI sessions, found by the SHA-256 of the cookie's token.
    admin_sessions (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Each `alga-server audit prune`: its cutoff and how many rows it removed.
    audit_prunes (id) {
        id -> Text,
        cutoff -> Timestamp,
        open -> Bool,
        removed -> BigInt,
        pruned_by -> Text,
        pruned_at -> Timestamp,
    }
}

diesel::table! {
    /// Human approvals of governed calls (issue 16): pending → approved/denied/expired, approved →
    /// consumed by exactly one execution of exactly the call it was asked for.
    mcp_approvals (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        status -> Text,
        principal_kind -> Text,
        principal_id -> Text,
        principal_name -> Text,
        operation_id -> Text,
        args_digest -> Text,
        arguments -> Text,
        record_kind -> Nullable<Text>,
        record_id -> Nullable<Text>,
        policy_version -> BigInt,
        policy_ids -> Text,
        approver_roles -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
        consumed_at -> Nullable<Timestamp>,
        audit_id -> Nullable<Text>,
        client_name -> Nullable<Text>,
        client_version -> Nullable<Text>,
    }
}

diesel::table! {
    /// Instance-wide secrets generated once and shared by every replica, by name.
    mcp_secrets (name) {
        name -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}
