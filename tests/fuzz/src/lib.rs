//! What the fuzz targets share: one migrated SQLite database with a tenant whose administrator
//! calls the real operations and meta-tools, and a runtime to run them on.

use std::sync::{Arc, OnceLock};

use alga_core::governance::McpGovernance;
use alga_core::identity::{self, NewUser, Principal};
use alga_core::migrations::Migrator;
use alga_core::testing::TestDb;
use alga_core::{AppContext, Community, Db, PoolOptions};

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub app: AppContext,
    pub admin: Arc<Principal>,
    _db: TestDb,
}

/// The shared world, built on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let db = TestDb::sqlite();
        let mut conn = db.conn();
        Migrator::new(&Community.migration_sets()).expect("migrations").run_pending(&mut conn).expect("migrate");
        let tenant = identity::create_tenant(&mut conn, "fuzz", "Fuzz").expect("tenant");
        let roles = identity::role_ids_by_name(&mut conn, &tenant.id, &["Admin".to_owned()]).expect("roles");
        let new = NewUser {
            tenant_id: &tenant.id,
            email: "fuzz@example.com",
            display_name: "Fuzz",
            password: None,
            role_ids: &roles,
        };
        let user = identity::create_user(&mut conn, &new).expect("user");
        let (admin, _) =
            identity::user_principal(&mut conn, &tenant.id, &user, None).expect("principal").expect("user");
        let pool = runtime.block_on(Db::connect(db.url().clone(), PoolOptions::default())).expect("pool");
        let app = AppContext::new(pool, "http://127.0.0.1:8080".parse().expect("url"));
        World { runtime, app, admin: Arc::new(admin), _db: db }
    })
}
