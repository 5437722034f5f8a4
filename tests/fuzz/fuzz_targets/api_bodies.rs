//! A JSON body for any operation of the API (chosen by the first byte), through its real input
//! parsing and handler as an administrator: a clear 4xx or a success, never a panic or a 500.
#![no_main]

use alga_api::catalog::RawRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let world = alga_fuzz::world();
    let catalog = alga_api::catalog();
    let with_body: Vec<_> = catalog.operations().iter().filter(|op| op.meta.method.has_body()).collect();
    let op = with_body[usize::from(pick) % with_body.len()];
    let path =
        op.path_params.iter().map(|p| (p.name.clone(), "00000000-0000-0000-0000-000000000000".to_owned())).collect();
    let raw = RawRequest { path, query: String::new(), body: Some(body.to_vec()) };
    let result = world.runtime.block_on(op.call(world.app.clone(), Some(world.admin.clone()), raw));
    if let Err(e) = result {
        assert!(e.status().is_client_error(), "{} answered {e}", op.meta.id);
    }
});
