//! Go memberlist members as processes: `interop/go-peer` (one hashicorp/memberlist member a
//! process, driven by lines on stdin, answering and reporting events as lines on stdout; its
//! header documents the protocol), built once into the target directory with Debian's
//! golang-go and golang-github-hashicorp-memberlist-dev (memberlist 0.2.2).
//!
//! [`binary`] says why the program cannot be built here, if it cannot: with `CI` set that is
//! a failure (`.ci/run` installs both packages), without it the caller skips with the reason
//! printed. Waits are on output lines with deadlines, never fixed sleeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where Debian installs Go sources (memberlist and its dependencies); `SWIM_GOPATH` overrides.
const GOPATH: &str = "/usr/share/gocode";

/// The go-peer binary, built on first use (once per test process; concurrent test processes
/// each build to a temporary name and rename, so none sees a half-written file). `Err` says
/// why it cannot be built; with `CI` set this panics instead.
pub fn binary() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(build).clone();
    if let (Err(reason), Ok(_)) = (&built, std::env::var("CI")) {
        panic!("CI is set but the Go memberlist peer cannot be built: {reason}");
    }
    built
}

/// The go-peer binary, or `None` after printing why the test is skipped (outside CI only).
pub fn binary_or_skip(test: &str) -> Option<PathBuf> {
    match binary() {
        Ok(path) => Some(path),
        Err(reason) => {
            println!("skipping {test}: {reason} (with CI set this fails instead)");
            None
        }
    }
}

/// Whether Go and memberlist's source are installed: `Err` says what is missing; with `CI` set
/// that panics instead.
pub fn toolchain() -> Result<(), String> {
    let missing = missing_toolchain();
    if let (Err(reason), Ok(_)) = (&missing, std::env::var("CI")) {
        panic!("CI is set but Go memberlist's toolchain is missing: {reason}");
    }
    missing
}

fn gopath() -> String {
    std::env::var("SWIM_GOPATH").unwrap_or_else(|_| GOPATH.to_string())
}

/// Go build tags for the peer (`SWIM_GO_TAGS`): `memberlist_label` builds the `-label` flag,
/// for a memberlist of 0.3.1 or later put first on `SWIM_GOPATH` (Debian's 0.2.2 has no labels).
fn tags() -> String {
    std::env::var("SWIM_GO_TAGS").unwrap_or_default()
}

fn missing_toolchain() -> Result<(), String> {
    // The first GOPATH entry that holds memberlist is the one Go builds against.
    let gopath = gopath();
    let first = gopath.split(':').find(|p| Path::new(p).join("src/github.com/hashicorp/memberlist").exists());
    let memberlist = Path::new(first.unwrap_or(&gopath)).join("src/github.com/hashicorp/memberlist");
    if Command::new("go").arg("version").output().is_err() {
        return Err("`go` is not installed (apt-get install golang-go)".into());
    }
    if !memberlist.join("memberlist.go").exists() {
        return Err(format!(
            "memberlist's source is not at {} (apt-get install golang-github-hashicorp-memberlist-dev)",
            memberlist.display()
        ));
    }
    Ok(())
}

fn build() -> Result<PathBuf, String> {
    missing_toolchain()?;
    let gopath = gopath();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/go-peer");
    // Tests have a scratch directory in the target directory; examples (the mixed soak) use
    // the system's temporary directory.
    let scratch = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = scratch.join("go-peer");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    // One binary per GOPATH and tags, so that a peer built against another memberlist is
    // never taken for this one.
    let flavour = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&gopath, tags()).hash(&mut h);
        h.finish()
    };
    let target = dir.join(format!("go-peer-{flavour:016x}"));
    let partial = dir.join(format!("go-peer-{flavour:016x}.{}", std::process::id()));
    let mut go = Command::new("go");
    go.current_dir(&source).args(["build", "-tags", &tags(), "-o"]).arg(&partial).arg(".");
    go.env("GOPATH", &gopath).env("GO111MODULE", "off").env("GOFLAGS", "");
    // Go needs a build cache; without HOME (some CI runners) keep it in the target directory.
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        go.env("GOCACHE", dir.join("cache"));
    }
    let out = go.output().map_err(|e| format!("run go build: {e}"))?;
    if !out.status.success() {
        return Err(format!("go build failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    std::fs::rename(&partial, &target).map_err(|e| format!("rename the go-peer binary: {e}"))?;
    Ok(target)
}

/// Options of one Go member (the program's flags).
#[derive(Clone, Debug)]
pub struct GoPeerConfig {
    /// Member name.
    pub name: String,
    /// memberlist preset: "lan", "local" or "wan".
    pub preset: &'static str,
    /// memberlist protocol version; 0 keeps the preset's (2).
    pub protocol: u8,
    /// Encryption key, raw bytes (16, 24 or 32).
    pub key: Option<Vec<u8>>,
    /// Seeds joined at start.
    pub seeds: Vec<String>,
    /// memberlist's `EnableCompression` (on in every preset): LZW on push-pull streams.
    pub compress: bool,
    /// Address to bind and advertise.
    pub bind: String,
    /// Port to bind and advertise, UDP and TCP (0: any free port).
    pub port: u16,
    /// memberlist's `RetransmitMult`; 0 keeps the preset's.
    pub retransmit_mult: u32,
    /// memberlist's `SuspicionMult`; 0 keeps the preset's.
    pub suspicion_mult: u32,
    /// memberlist's `Label` (memberlist 0.3.1 and later; empty for none).
    pub label: String,
}

impl GoPeerConfig {
    /// A member called `name` on the `local` preset, protocol version 2, no key, no seed,
    /// compression on, on loopback on a free port.
    pub fn new(name: &str) -> Self {
        GoPeerConfig {
            name: name.into(),
            preset: "local",
            protocol: 0,
            key: None,
            seeds: Vec::new(),
            compress: true,
            bind: "127.0.0.1".into(),
            port: 0,
            retransmit_mult: 0,
            suspicion_mult: 0,
            label: String::new(),
        }
    }
}

/// What the program has printed, shared with its reader threads.
#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
    stderr: Mutex<String>,
}

/// One running Go member; killed (SIGKILL) when dropped.
pub struct GoPeer {
    /// Its name.
    pub name: String,
    /// The address and port it listens on (UDP and TCP), as "127.0.0.1:port".
    pub addr: String,
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Output>,
}

/// How long a Go member gets to start listening.
const START: Duration = Duration::from_secs(10);

impl GoPeer {
    /// Start a member and wait until it listens.
    pub fn start(binary: &Path, config: &GoPeerConfig) -> GoPeer {
        GoPeer::start_with(Command::new(binary), config)
    }

    /// Start a member by running `cmd` (the binary, possibly behind `ip netns exec`) with the
    /// flags of `config`, and wait until it listens.
    pub fn start_with(mut cmd: Command, config: &GoPeerConfig) -> GoPeer {
        let port = config.port.to_string();
        cmd.args(["-name", &config.name, "-bind", &config.bind, "-port", &port, "-config", config.preset]);
        cmd.args(["-retransmit-mult", &config.retransmit_mult.to_string()]);
        cmd.args(["-suspicion-mult", &config.suspicion_mult.to_string()]);
        cmd.args(["-protocol", &config.protocol.to_string(), &format!("-compress={}", config.compress)]);
        if !config.label.is_empty() {
            cmd.args(["-label", &config.label]);
        }
        if let Some(key) = &config.key {
            cmd.args(["-key", &hex(key)]);
        }
        if !config.seeds.is_empty() {
            cmd.args(["-seeds", &config.seeds.join(",")]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
        let output = Arc::new(Output::default());
        let stdout = child.stdout.take().expect("stdout is piped");
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out.lines.lock().unwrap().push(line);
                out.grew.notify_all();
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let out = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                out.stderr.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut peer = GoPeer { name: config.name.clone(), addr: String::new(), child, stdin: None, output };
        peer.stdin = peer.child.stdin.take();
        let ready = peer.wait_line(&format!("{} to listen", config.name), START, |l| l.starts_with("ready "));
        peer.addr = ready["ready ".len()..].to_string();
        peer
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.lines.lock().unwrap().clone()
    }

    /// Send one command line.
    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| panic!("{} was killed", self.name));
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write {line:?} to {}: {e}; its stderr:\n{}", self.name, self.stderr_tail()));
    }

    /// Wait until some line printed since the start matches, and return the first that does;
    /// panic (with the lines so far and memberlist's log) after `within`.
    pub fn wait_line(&self, what: &str, within: Duration, matches: impl Fn(&str) -> bool) -> String {
        self.wait_from(0, what, within, matches)
    }

    /// Send `line` and wait for the first answer after it that starts with `prefix` or
    /// with "error"; panic if the answer is an error.
    pub fn ask(&mut self, line: &str, prefix: &str, within: Duration) -> String {
        let from = self.output.lines.lock().unwrap().len();
        self.command(line);
        let cmd = line.split_whitespace().next().unwrap_or_default();
        let answer = self.wait_from(from, &format!("{}'s answer to {line:?}", self.name), within, |l| {
            l.starts_with(prefix) || l.starts_with(&format!("error {cmd}"))
        });
        assert!(
            !answer.starts_with("error"),
            "{} answered {line:?} with {answer:?}; its log (tail):\n{}",
            self.name,
            self.stderr_tail()
        );
        answer
    }

    /// The names of the members this member lists as alive, sorted.
    pub fn members(&mut self) -> Vec<String> {
        let answer = self.ask("members", "members", START);
        let list = answer.strip_prefix("members").unwrap_or_default().trim();
        list.split(',').filter(|m| !m.is_empty()).map(|m| m.split('@').next().unwrap_or(m).to_string()).collect()
    }

    /// The process id (to stop and continue it with signals).
    #[allow(dead_code)] // not every test binary that includes this module signals its peers
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill the process (SIGKILL: no leave) and reap it.
    pub fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_from(&self, from: usize, what: &str, within: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        let mut lines = self.output.lines.lock().unwrap();
        loop {
            if let Some(found) = lines[from.min(lines.len())..].iter().find(|l| matches(l)) {
                return found.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen = lines.join("\n");
                drop(lines);
                panic!(
                    "timed out after {within:?} waiting for {what}; {} printed:\n{seen}\nits log (tail):\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            lines = self.output.grew.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    /// Whether memberlist's log (its stderr) so far contains `needle`.
    #[allow(dead_code)] // not every test binary that includes this module reads the log
    pub fn log_contains(&self, needle: &str) -> bool {
        self.output.stderr.lock().unwrap().contains(needle)
    }

    fn stderr_tail(&self) -> String {
        let log = self.output.stderr.lock().unwrap();
        let mut start = log.len().saturating_sub(4000);
        // Never cut a multi-byte character (memberlist logs names as they are).
        while !log.is_char_boundary(start) {
            start += 1;
        }
        log[start..].to_string()
    }
}

impl Drop for GoPeer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Lowercase hex, as the go-peer's commands take bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
