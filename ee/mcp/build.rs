// The enterprise migrations are embedded with include_dir!, which cannot tell cargo to watch the
// folder: a new migration must still rebuild this crate.
fn main() {
    println!("cargo::rerun-if-changed=../../migrations-ee");
}
