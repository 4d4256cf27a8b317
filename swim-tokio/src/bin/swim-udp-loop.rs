//! swim-core's `udp_loop` example (swim-core/examples/udp_loop.rs, which uses nothing but
//! swim-core and std) as a binary target of this crate, so that cargo builds it with the test
//! here that runs it as processes (`CARGO_BIN_EXE_swim-udp-loop`): swim-core's own tests run
//! in virtual time only. `cargo run -p swim-core --example udp_loop` runs the same code.

#[path = "../../../swim-core/examples/udp_loop.rs"]
mod udp_loop;

fn main() {
    udp_loop::main()
}
