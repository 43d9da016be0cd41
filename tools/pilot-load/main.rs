//! pilot-load: opens N ADS connections to a pilot-discovery, each as a distinct sidecar, and
//! measures how long until every connection holds a full config (CDS, EDS, LDS, RDS all
//! received and ACKed), the bytes received, and the server's CPU time and peak RSS (when its
//! pid is given or it is started by this tool). Prints one summary line.
//!
//! Also writes benchmark meshes: `pilot-load gen-config --services 1000 --endpoints 10 --out DIR`
//! writes ServiceEntries that `pilot-discovery discovery --registries= --configDir DIR` serves.
#![forbid(unsafe_code)]

mod client;
mod genconfig;
mod procstat;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use client::{ClientConfig, Outcome, XdsVersion};

#[derive(Parser, Debug)]
#[command(
    name = "pilot-load",
    about = "Load generator for pilot-discovery (simulated sidecars over ADS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Connect N simulated sidecars and measure time to full config.
    Run(RunArgs),
    /// Write a benchmark mesh of ServiceEntries for --configDir.
    GenConfig(genconfig::Args),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// pilot's ADS address.
    #[arg(long, default_value = "127.0.0.1:15010")]
    addr: String,
    /// Number of simulated sidecars.
    #[arg(long, short = 'n', default_value_t = 100)]
    clients: usize,
    /// xDS API version the sidecars speak (Istio 1.4's Envoy speaks v2).
    #[arg(long, value_enum, default_value_t = XdsVersion::V2)]
    xds: XdsVersion,
    /// Namespaces the sidecars are spread over (ns-0 .. ns-<k-1>), matching gen-config.
    #[arg(long, default_value_t = 10)]
    namespaces: usize,
    /// New connections opened per second (0: all at once).
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Give up on a client after this long.
    #[arg(long, default_value = "120", value_parser = parse_secs)]
    timeout: Duration,
    /// Keep the connections open (ACKing pushes) this long after convergence.
    #[arg(long, default_value = "0", value_parser = parse_secs)]
    hold: Duration,
    /// pid of the pilot-discovery process, for CPU and peak RSS figures.
    #[arg(long)]
    pilot_pid: Option<u32>,
    /// Start this command (pilot-discovery and its flags, after `--`) and measure it; it is
    /// stopped with SIGTERM at the end. Waits for the ADS port before connecting.
    #[arg(last = true, value_name = "CMD")]
    spawn: Vec<String>,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("expected seconds, got {s:?}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pilot-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run(args) => rt.block_on(run(args)),
        Command::GenConfig(args) => genconfig::write(&args).map(|summary| {
            println!("{summary}");
            true
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pilot-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let mut child = None;
    let mut pid = args.pilot_pid;
    if !args.spawn.is_empty() {
        let c = tokio::process::Command::new(&args.spawn[0])
            .args(&args.spawn[1..])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {:?}: {e}", args.spawn[0]))?;
        pid = c.id();
        let mut c = c;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = c.try_wait()? {
                anyhow::bail!("{:?} exited before serving: {status}", args.spawn[0]);
            }
            if tokio::net::TcpStream::connect(&args.addr).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("{} did not accept connections within 60s", args.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child = Some(c);
    }
    let sampler = pid.map(procstat::Sampler::start);
    let cpu_before = pid.and_then(procstat::cpu_seconds);

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    let gap = if args.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / args.rate
    };
    for i in 0..args.clients {
        let cfg = ClientConfig {
            addr: args.addr.clone(),
            index: i,
            namespace: format!("ns-{}", i % args.namespaces.max(1)),
            version: args.xds,
            timeout: args.timeout,
            hold: args.hold,
        };
        tasks.push(tokio::spawn(client::run(cfg)));
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(o) => outcomes.push(o),
            Err(e) => outcomes.push(Outcome::failed(format!("client task failed: {e}"))),
        }
    }
    let wall = started.elapsed();

    let cpu = match (pid.and_then(procstat::cpu_seconds), cpu_before) {
        (Some(after), Some(before)) => Some(after - before),
        _ => None,
    };
    let peak_rss = match sampler {
        Some(s) => s.stop().await,
        None => None,
    };
    if let Some(mut c) = child {
        procstat::terminate(&mut c).await;
    }

    let summary = client::summarize(&outcomes, wall, cpu, peak_rss, args.xds);
    println!("{summary}");
    for o in outcomes.iter().filter(|o| o.error.is_some()).take(5) {
        eprintln!(
            "pilot-load: client error: {}",
            o.error.as_deref().unwrap_or_default()
        );
    }
    Ok(outcomes.iter().all(|o| o.error.is_none()))
}
