//! The `cluster` example (examples/cluster.rs) as a binary target, so that cargo builds it
//! with the test that runs it (`CARGO_BIN_EXE_swim-cluster`). `cargo run -p swim-tokio
//! --example cluster` runs the same code.

#[path = "../../examples/cluster.rs"]
mod cluster;

fn main() {
    cluster::main()
}
