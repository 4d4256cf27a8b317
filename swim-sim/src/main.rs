//! `swim-sim`: run simulated swim clusters and report how they detect failures.
//!
//! ```text
//! swim-sim list                          # the built-in scenarios
//! swim-sim show lifeguard                # a built-in scenario's TOML (a template for your own)
//! swim-sim run lifeguard                 # run a built-in scenario (or a .toml file)
//! swim-sim run my.toml --seed 7 --set network.loss=0.05 --variant swim
//! swim-sim swarm --seeds 0..1000         # swarm testing
//! swim-sim swarm --seed 42               # replay one swarm seed, verbosely
//! ```

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use swim_sim::metrics::RunReport;
use swim_sim::report::{self, ScenarioReport};
use swim_sim::runner::{self, PlanOptions, RunPlan};
use swim_sim::scenario::{BUILTINS, Scenario, Setting};
use swim_sim::{plot, swarm};

#[derive(Parser)]
#[command(name = "swim-sim", version, about = "Deterministic simulator for swim (SWIM + Lifeguard) clusters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in scenario or a scenario file (TOML).
    Run(RunArgs),
    /// List the built-in scenarios.
    List,
    /// Print a built-in scenario's TOML.
    Show {
        /// Scenario name.
        scenario: String,
    },
    /// Swarm testing: each seed draws a cluster, configuration and faults, and checks the
    /// invariants.
    Swarm(SwarmArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// A built-in scenario name (see `swim-sim list`) or a path to a TOML file.
    scenario: String,
    /// First master seed (runs use seed, seed+1, ...).
    #[arg(long)]
    seed: Option<u64>,
    /// Runs per variant.
    #[arg(long)]
    repeat: Option<u32>,
    /// Only the variant with this name (or, if none, those containing it).
    #[arg(long)]
    variant: Option<String>,
    /// Override a scenario field: `--set network.loss=0.05 --set nodes=200`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Output directory (default: target/swim-sim/<scenario>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (each run is single-threaded).
    #[arg(long)]
    jobs: Option<usize>,
    /// Memory the runs in flight may hold together, in GiB, by their estimate (about 100 bytes
    /// per pair of members); a run waits for others to finish rather than go past it. Default:
    /// 80 % of the available memory.
    #[arg(long, value_name = "GIB")]
    memory_budget: Option<f64>,
    /// Skip the SVG plots.
    #[arg(long)]
    no_plots: bool,
    /// Run every run twice and compare the trace digests.
    #[arg(long)]
    check_determinism: bool,
    /// Print every run's seed and derived parameters.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(clap::Args)]
struct SwarmArgs {
    /// Seeds to run: `A..B` (B excluded) or `A..=B`.
    #[arg(long, default_value = "0..100")]
    seeds: String,
    /// One seed, described verbosely (a replay).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads.
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop at the first failure.
    #[arg(long)]
    fail_fast: bool,
}

fn jobs(j: Option<usize>) -> usize {
    j.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

fn load(name: &str, sets: &[Setting]) -> Result<Scenario, String> {
    if let Some(s) = Scenario::builtin_with(name, sets) {
        return s;
    }
    let text = std::fs::read_to_string(name).map_err(|e| {
        let names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
        format!("`{name}` is neither a built-in scenario ({}) nor a readable file: {e}", names.join(", "))
    })?;
    Scenario::parse_source(&text, name, sets)
}

/// Run plans with a progress bar that appears after two seconds of wall time.
fn run_with_progress(plans: &[RunPlan], jobs: usize, memory_budget: u64, label: &str) -> Vec<RunReport> {
    let total = runner::total_virtual_nanos(plans);
    let progress = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let bar = ProgressBar::with_draw_target(Some(total / 1_000_000_000), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} virtual s, {elapsed} elapsed, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = std::time::Instant::now();
    let results = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = runner::run_all(plans, jobs, memory_budget, &progress, &|_| {
                finished.fetch_add(1, Ordering::Relaxed);
            });
            done.store(true, Ordering::Release);
            r
        });
        let mut shown = false;
        while !done.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(100));
            if !shown && start.elapsed() > Duration::from_secs(2) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
            bar.set_message(format!("{label}: {}/{} runs", finished.load(Ordering::Relaxed), plans.len()));
            bar.set_position(progress.load(Ordering::Relaxed) / 1_000_000_000);
        }
        worker.join().unwrap_or_default()
    });
    bar.finish_and_clear();
    results
}

fn cmd_run(a: RunArgs) -> Result<bool, String> {
    let sets: Vec<Setting> = a.sets.iter().map(|s| Setting::parse(s)).collect::<Result<_, _>>()?;
    let sc = load(&a.scenario, &sets)?;
    let opts = PlanOptions {
        source: a.scenario.clone(),
        sets: a.sets.clone(),
        seed: a.seed,
        repeat: a.repeat,
        variant: a.variant.clone(),
    };
    let plans = runner::plan(&sc, &opts)?;
    let jobs = jobs(a.jobs);
    let memory_budget = match a.memory_budget {
        Some(gib) if gib.is_finite() && gib > 0.0 => (gib * (1u64 << 30) as f64) as u64,
        Some(gib) => return Err(format!("--memory-budget must be a positive number of GiB, not {gib}")),
        None => runner::default_memory_budget(),
    };
    println!("{} runs of `{}` on {jobs} thread(s)", plans.len(), sc.name);
    if jobs > 1 && plans.iter().any(|p| runner::estimated_memory(p).saturating_mul(2) > memory_budget) {
        println!(
            "runs of this size are estimated at up to {:.1} GiB each; they run one at a time within the {:.1} GiB budget (--memory-budget)",
            plans.iter().map(runner::estimated_memory).max().unwrap_or(0) as f64 / (1u64 << 30) as f64,
            memory_budget as f64 / (1u64 << 30) as f64
        );
    }
    for (k, p) in plans.iter().enumerate() {
        if k == 0 || a.verbose {
            println!("{}", runner::describe(p)?);
        } else {
            let v = if p.variant.is_empty() { String::new() } else { format!(" / {}", p.variant) };
            println!("scenario {}{v}, seed {}", p.scenario, p.sim.seed);
        }
    }
    let wall = std::time::Instant::now();
    let runs = run_with_progress(&plans, jobs, memory_budget, &sc.name);
    let elapsed = wall.elapsed();
    let mut ok = true;
    if a.check_determinism {
        let again = run_with_progress(&plans, jobs, memory_budget, "determinism check");
        for (x, y) in runs.iter().zip(&again) {
            if x.digest != y.digest {
                ok = false;
                eprintln!(
                    "NOT DETERMINISTIC: {} seed {}: {} vs {}\n    replay: {}",
                    x.variant, x.seed, x.digest, y.digest, x.replay
                );
            }
        }
        if ok {
            println!("determinism: {} runs repeated, every trace digest identical", runs.len());
        }
    }
    let rep = ScenarioReport::new(&sc, runs);
    print!("{}", report::render(&rep));
    let out = a.out.unwrap_or_else(|| PathBuf::from("target/swim-sim").join(&sc.name));
    report::write_files(&rep, &out)?;
    if !a.no_plots {
        // Group false positives by the first axis when there are several axes.
        let groups: Vec<(String, Vec<String>)> = if sc.axes.len() > 1 {
            let mut g: Vec<(String, Vec<String>)> = Vec::new();
            for v in &sc.variants {
                let head = v.parts[0].clone();
                match g.iter_mut().find(|(n, _)| *n == head) {
                    Some((_, m)) => m.push(v.name.clone()),
                    None => g.push((head, vec![v.name.clone()])),
                }
            }
            g
        } else {
            rep.variants.iter().map(|v| (v.variant.clone(), vec![v.variant.clone()])).collect()
        };
        plot::all(&rep, &out, &groups)?;
    }
    let delivered: u64 = rep.runs.iter().map(|r| r.sim.delivered).sum();
    let run_wall: f64 = rep.runs.iter().map(|r| r.speed.wall_secs).sum();
    let cpu: f64 = rep.runs.iter().map(|r| r.speed.cpu_secs).sum();
    println!(
        "\nwall {} on {jobs} thread(s): runs took {:.1}s of wall time and {:.1}s of CPU; {:.2}M messages delivered, {:.2}M per CPU second; peak memory {}",
        report::wall(elapsed),
        run_wall,
        cpu,
        delivered as f64 / 1e6,
        delivered as f64 / if cpu >= 0.05 { cpu } else { run_wall.max(1e-3) } / 1e6,
        report::peak_rss().map_or("unknown".into(), report::bytes)
    );
    let digests: Vec<String> = rep.runs.iter().take(4).map(|r| r.digest.clone()).collect();
    println!("trace digests: {}{}", digests.join(" "), if rep.runs.len() > 4 { " ..." } else { "" });
    println!("written to {}", out.display());
    let failed = rep.failures().count();
    if failed > 0 {
        println!("{failed} run(s) failed; replay with the commands above");
        ok = false;
    }
    Ok(ok)
}

fn parse_seeds(s: &str) -> Result<std::ops::Range<u64>, String> {
    let bad = || format!("--seeds {s}: expected A..B or A..=B");
    if let Some((a, b)) = s.split_once("..=") {
        let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        return Ok(a..b + 1);
    }
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    Ok(a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?)
}

fn cmd_swarm(a: SwarmArgs) -> Result<bool, String> {
    if let Some(seed) = a.seed {
        let plan = swarm::draw(seed);
        println!("{}", runner::describe(&plan)?);
        let r = runner::run(&plan, &AtomicU64::new(0));
        println!(
            "{} members, {:.1} virtual s, {} messages, FP {}, crashes {}, converged at end {}, digest {}",
            r.nodes,
            r.duration,
            r.sim.delivered,
            r.false_positives.events,
            r.detection.crashes,
            r.convergence.at_end,
            r.digest
        );
        return match r.violation {
            Some(v) => {
                println!("FAILED: {v}");
                Ok(false)
            }
            None => {
                println!("ok");
                Ok(true)
            }
        };
    }
    let seeds = parse_seeds(&a.seeds)?;
    let jobs = jobs(a.jobs);
    let n = seeds.end.saturating_sub(seeds.start);
    println!("swarm: seeds {}..{} ({n}) on {jobs} thread(s)", seeds.start, seeds.end);
    let next = AtomicU64::new(seeds.start);
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    let done = AtomicU64::new(0);
    let bar = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("swarm [{bar:40}] {pos}/{len} seeds, {msg}, {elapsed} elapsed, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    let plan = swarm::draw(seed);
                    let r = runner::run(&plan, &AtomicU64::new(0));
                    if let Some(v) = r.violation {
                        let desc = runner::describe(&plan).unwrap_or_default();
                        bar.suspend(|| println!("seed {seed} FAILED:\n{desc}\n{v}\n"));
                        failures.lock().unwrap_or_else(|e| e.into_inner()).push((seed, v));
                        if a.fail_fast {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if start.elapsed() > Duration::from_secs(2) {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                    }
                    bar.set_position(d);
                    bar.set_message(format!("{} failed", failures.lock().map_or(0, |f| f.len())));
                }
            });
        }
    });
    bar.finish_and_clear();
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "swarm: {} seeds run in {}, {} failed",
        done.load(Ordering::Relaxed),
        report::wall(start.elapsed()),
        failures.len()
    );
    for (seed, _) in &failures {
        println!("  replay: swim-sim swarm --seed {seed}");
    }
    Ok(failures.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::List => {
            for (name, text) in BUILTINS {
                let desc = Scenario::parse(text, &[]).map(|s| s.description).unwrap_or_default();
                let first = desc.trim().lines().next().unwrap_or_default().to_string();
                println!("{name:<16} {first}");
            }
            Ok(true)
        }
        Command::Show { scenario } => match BUILTINS.iter().find(|(n, _)| *n == scenario) {
            Some((_, text)) => {
                print!("{text}");
                Ok(true)
            }
            None => Err(format!("no built-in scenario `{scenario}`")),
        },
        Command::Run(a) => cmd_run(a),
        Command::Swarm(a) => cmd_swarm(a),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
