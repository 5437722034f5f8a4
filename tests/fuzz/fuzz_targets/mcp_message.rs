//! One MCP message, as raw bytes, through the JSON-RPC handling, the meta-tools and the operation
//! catalog, as an administrator over HTTP (header checks on) and stdio (off).
#![no_main]

use alga_api::tools::{Caller, MetaTools};
use alga_mcp::{Outcome, ServerInfo, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let world = alga_fuzz::world();
    let caller = Caller { app: world.app.clone(), principal: world.admin.clone(), policies: None };
    let info = ServerInfo { name: "alga-fuzz".into(), version: "0".into(), instructions: String::new() };
    let http = data.first().is_some_and(|b| b & 1 == 1);
    let transport = if http {
        Transport { http: true, protocol_version: Some("2025-06-18".into()), method: None, name: None }
    } else {
        Transport::default()
    };
    let body = data.get(1..).unwrap_or_default();
    let outcome = world.runtime.block_on(alga_mcp::handle(&MetaTools, &caller, &info, body, &transport));
    if let Outcome::Reply { status, body } = outcome {
        assert!((200..600).contains(&status));
        assert_eq!(body["jsonrpc"], "2.0", "every reply is JSON-RPC");
    }
});
