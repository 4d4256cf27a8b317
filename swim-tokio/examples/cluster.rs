//! N members on loopback in one process: watch them join, crash one, watch it get
//! suspected and then declared failed.
//!
//! ```sh
//! cargo run -p swim-tokio --example cluster              # 5 members, memberlist's local preset
//! cargo run -p swim-tokio --example cluster -- --nodes 20 --preset lan
//! ```
//!
//! The member table printed is the view of `node-0`; it is reprinted whenever that view
//! changes (changes arriving within 100 ms are shown together).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::Parser;
use swim_tokio::{Event, Events, Node, State};
use tokio::sync::mpsc;

#[path = "common/cli.rs"]
mod cli;

use cli::Preset;

/// Start a loopback cluster, crash a member and watch the others detect it.
#[derive(Parser, Debug)]
struct Args {
    /// Members to start.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=1000))]
    nodes: u16,
    /// Timing preset.
    #[arg(long, value_enum, default_value = "local")]
    preset: Preset,
    /// Give up if the crash is not detected by everyone within this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

#[tokio::main]
pub async fn main() {
    // Errors are printed with their message (Display), not their Debug form.
    if let Err(e) = run().await {
        eprintln!("cluster: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    cli::init_logging();
    let args = Args::parse();
    let n = usize::from(args.nodes);
    let start = Instant::now();
    let say = |line: String| println!("[{:>7.3}s] {line}", start.elapsed().as_secs_f64());

    // Start every member on its own loopback port.
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("node-{i}");
        let config =
            args.preset.config(&name).with_bind_addr("127.0.0.1:0".parse()?).with_meta(format!("role=demo,id={i}"));
        nodes.push(Node::start(config).await?);
    }
    say(format!("started {n} members on 127.0.0.1, preset {:?}", args.preset));

    // Everyone reports failures of the victim to one channel; node-0's events drive the table.
    let victim = n - 1;
    let victim_name = nodes[victim].name().to_string();
    let (failed_tx, mut failed_rx) = mpsc::unbounded_channel();
    let crash_time: Arc<OnceLock<Instant>> = Arc::default();
    for node in nodes.iter().take(victim) {
        let mut events = node.events();
        let (tx, name, victim_name) = (failed_tx.clone(), node.name().to_string(), victim_name.clone());
        let crash_time = crash_time.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let Event::MemberFailed(m) = event
                    && m.name == victim_name.as_str()
                {
                    let _ = tx.send((name.clone(), crashed_at(&crash_time)));
                }
            }
        });
    }
    let mut table = Table { node: nodes[0].clone(), events: nodes[0].events(), last: String::new() };

    // Everyone joins through node-0.
    let seed = nodes[0].local_addr();
    let joined = Instant::now();
    for node in &nodes[1..] {
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = node.join([seed]).await {
                eprintln!("{} could not join: {e}", node.name());
            }
        });
    }
    loop {
        table.show_changes(&say, Duration::from_millis(200)).await?;
        let mut converged = true;
        for node in &nodes {
            converged &= node.num_members().await? == n;
        }
        if converged {
            break;
        }
    }
    say(format!("converged: every member sees all {n} (took {:.3}s)", joined.elapsed().as_secs_f64()));

    // Crash the victim: shut it down without leaving, as a killed process would.
    nodes[victim].shutdown().await;
    let _ = crash_time.set(Instant::now());
    say(format!("crashed {victim_name} (no leave notice); waiting for the others to notice"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut seen = HashSet::new();
    let mut first = None;
    let mut all = Duration::ZERO;
    while seen.len() < n - 1 {
        table.show_changes(&say, Duration::from_millis(200)).await?;
        while let Ok((who, at)) = failed_rx.try_recv() {
            first.get_or_insert(at);
            all = all.max(at);
            seen.insert(who);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(
                format!("only {} of {} members saw the crash within {}s", seen.len(), n - 1, args.timeout).into()
            );
        }
    }
    let first = first.unwrap_or_default();
    say(format!(
        "{victim_name} declared failed by the first member after {:.3}s, by all {} after {:.3}s",
        first.as_secs_f64(),
        n - 1,
        all.as_secs_f64()
    ));
    for node in &nodes[..victim] {
        node.shutdown().await;
    }
    Ok(())
}

/// Time since the crash (zero if it has not happened yet).
fn crashed_at(crash_time: &OnceLock<Instant>) -> Duration {
    crash_time.get().map_or(Duration::ZERO, |t| t.elapsed())
}

/// node-0's view, reprinted when it changes.
struct Table {
    node: Node,
    events: Events,
    last: String,
}

impl Table {
    /// Wait for node-0's next membership change (and any that follow within 100 ms), print
    /// the events and the table.
    async fn show_changes(&mut self, say: &impl Fn(String), wait: Duration) -> Result<(), swim_tokio::Closed> {
        let mut lines = Vec::new();
        match tokio::time::timeout(wait, self.events.recv()).await {
            Ok(Some(event)) => lines.extend(describe(&event)),
            Ok(None) | Err(_) => return Ok(()),
        }
        let more = tokio::time::sleep(Duration::from_millis(100));
        tokio::pin!(more);
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => lines.extend(describe(&event)),
                    None => break,
                },
                () = &mut more => break,
            }
        }
        for line in lines {
            say(format!("node-0 sees: {line}"));
        }
        let mut members = self.node.all_members().await?;
        members[1..].sort_by(|a, b| a.name.cmp(&b.name));
        let mut table = format!("{:<10} {:<22} {:<8} {:<12} {}\n", "MEMBER", "ADDRESS", "STATE", "INCARNATION", "META");
        for m in &members {
            let state = match m.state {
                State::Alive => "alive",
                State::Suspect => "suspect",
                State::Dead => "failed",
                State::Left => "left",
            };
            table += &format!(
                "{:<10} {:<22} {:<8} {:<12} {}\n",
                m.name.as_str(),
                m.addr.to_string(),
                state,
                m.incarnation,
                String::from_utf8_lossy(&m.meta)
            );
        }
        if table != self.last {
            println!("{table}");
            self.last = table;
        }
        Ok(())
    }
}

fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::MemberJoined(m) => format!("{} joined", m.name),
        Event::MemberSuspected { member, accuser } => format!("{} SUSPECTED by {accuser}", member.name),
        Event::MemberFailed(m) => format!("{} FAILED", m.name),
        Event::MemberLeft(m) => format!("{} left", m.name),
        Event::MemberAlive(m) => format!("{} alive again", m.name),
        Event::MemberUpdated(m) => format!("{} updated", m.name),
        Event::MemberRemoved(m) => format!("{} removed", m.name),
        _ => return None,
    })
}
