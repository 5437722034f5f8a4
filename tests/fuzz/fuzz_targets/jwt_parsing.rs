//! Any bearer credential, as text, through the JWT header and claims reading that comes before
//! any key is looked up: a token is refused with a reason or read, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok(seen) = alga_ee_jwt::inspect(token) {
        assert!(alga_ee_jwt::ALGORITHMS.contains(&seen.algorithm.as_str()));
        assert!(token.len() <= 16 * 1024);
    }
});
