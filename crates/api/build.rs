// The registry overlays are embedded with include_dir!, which cannot tell cargo to watch the
// folder: a new or changed overlay must still rebuild this crate.
fn main() {
    println!("cargo::rerun-if-changed=../../docs/api-registry");
}
