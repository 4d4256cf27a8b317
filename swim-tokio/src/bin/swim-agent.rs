//! The `agent` example (examples/agent.rs) as a binary target, so that cargo builds it with
//! the tests that run it (`CARGO_BIN_EXE_swim-agent`) instead of each test building it with a
//! nested cargo. `cargo run -p swim-tokio --example agent` runs the same code.

#[path = "../../examples/agent.rs"]
mod agent;

fn main() -> std::process::ExitCode {
    agent::main()
}
