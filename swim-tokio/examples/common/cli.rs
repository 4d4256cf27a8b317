//! What the swim-tokio examples share: logging to stderr, the timing presets as a
//! command-line choice and the host name as a default member name. Each example includes
//! this file with `#[path]` (a folder without a `main.rs` is not an example of its own).

use std::io::IsTerminal;

use clap::ValueEnum;
use swim_tokio::Config;

/// memberlist's timing presets, as a `--preset` value.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    /// memberlist's LAN defaults (1 s probes, 500 ms probe timeout, 30 s push-pull).
    Lan,
    /// memberlist's WAN defaults (5 s probes, 3 s probe timeout, 60 s push-pull).
    Wan,
    /// memberlist's local defaults (1 s probes, 200 ms probe timeout, 15 s push-pull), the
    /// fastest, for loopback.
    Local,
}

impl Preset {
    /// The configuration of member `name` with this preset.
    pub fn config(self, name: impl Into<String>) -> Config {
        match self {
            Preset::Lan => Config::lan(name),
            Preset::Wan => Config::wan(name),
            Preset::Local => Config::local(name),
        }
    }
}

/// Log to stderr at the level `RUST_LOG` asks for (default `warn`), in colour only for a
/// person at a terminal, not in a log file or a pipe.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The host's name, or `fallback` when it cannot be read.
#[allow(dead_code)] // the cluster example names its members itself
pub fn hostname(fallback: &str) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}
