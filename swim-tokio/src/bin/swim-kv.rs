//! The `kv` example (examples/kv/) as a binary target, so that cargo builds it with the tests
//! that run it (`CARGO_BIN_EXE_swim-kv`) instead of each test building it with a nested
//! cargo. `cargo run -p swim-tokio --example kv` runs the same code.

#[path = "../../examples/kv/main.rs"]
mod kv;

fn main() -> std::process::ExitCode {
    kv::main()
}
