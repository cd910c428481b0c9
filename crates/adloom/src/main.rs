//! The `adloom` binary: `serve` runs the server on the embedded default;
//! `hash` is the operator's tool to hash a list the way adloom does.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

mod api;
mod backup;
mod config;
mod demo;
mod image_fetch;
mod import;
mod lists;
mod load;
mod pair;
mod purge;
mod remote;
mod serve;
mod transport;
mod world;

#[derive(Parser)]
#[command(
    name = "adloom",
    version,
    about = "A self-hostable ads platform that honours people's choices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(config::ServeArgs),
    /// Run the server with a demo world (built once per data dir): a feed,
    /// a shoe shop with the tag, three advertisers, a few thousand people.
    Demo(config::ServeArgs),
    /// Fill the data dir with a generated world (people, advertisers,
    /// audiences, campaigns), through the API in-process, for benchmarks
    /// and trying adloom out. Deterministic for a seed; a data dir that
    /// already has ad accounts is left alone.
    World(world::WorldArgs),
    /// Bulk tools: `adloom import people FILE`.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Customer lists: `adloom lists upload --ad-account ID FILE`.
    #[command(subcommand)]
    Lists(lists::ListsCommand),
    /// The advertiser's side of a PAIR match: encrypt a CSV of emails with
    /// a key kept here, run the exchange with adloom, and end with a
    /// customer list of the matched people; no email or hash of one leaves
    /// this machine.
    Pair(pair::PairArgs),
    /// Drive a running adloom on loopback with a mixed load at a fixed rate
    /// (decisions, impression beacons, tag pixels, conversion batches) and
    /// report throughput, latency percentiles, errors and memory.
    Load(load::LoadArgs),
    /// Copy the embedded store's data dir into one checked file, while
    /// `serve` may be running on it.
    Backup(backup::BackupArgs),
    /// Make a new data dir from a file `adloom backup` made.
    Restore(backup::RestoreArgs),
    /// Purge now what is older than its retention (the server does it every
    /// hour) and give the embedded store's free space back; run it with no
    /// server on the store, since giving the space back holds its writes.
    Purge(purge::PurgeArgs),
    /// Normalize and hash identifiers read from standard input, one a line,
    /// and print their hex SHA-256 (the form to upload in a customer list).
    Hash {
        #[arg(long, value_enum)]
        kind: IdentifierKind,
        /// Print SHA-256, SHA-1 and MD5, tab-separated.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Upsert people from a CSV or NDJSON file, in batches, to a running
    /// adloom or straight into a data dir; resumes after an interruption.
    People(import::ImportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum IdentifierKind {
    Email,
    Phone,
    Maid,
}

/// jemalloc rather than the system's allocator: the serving state is
/// millions of small allocations made on several threads at once, which
/// glibc's per-thread arenas keep resident long after they are freed
/// (`serve` also has it purge freed pages from a background thread).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration
/// (clap uses 2 for usage errors too), 3 a store written by a newer build
/// (left untouched).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match config::Settings::resolve(args)
            .and_then(|settings| serve::init_logs().map(|()| settings))
        {
            Ok(settings) => serve::run(settings),
            Err(e) => {
                eprintln!("adloom: configuration error: {e:#}");
                return ExitCode::from(2);
            }
        },
        Command::Demo(args) => demo::run(args),
        Command::World(args) => world::run(args),
        Command::Import(ImportCommand::People(args)) => import::run(args),
        Command::Lists(command) => lists::run(command),
        Command::Load(args) => load::run(args),
        Command::Pair(args) => pair::run(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Purge(args) => purge::run(args),
        Command::Hash { kind, all } => hash(kind, all),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("adloom: {e:#}");
            let newer_schema = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<adloom_store::StoreError>(),
                    Some(adloom_store::StoreError::SchemaTooNew { .. })
                )
            });
            if newer_schema {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn hash(kind: IdentifierKind, all: bool) -> anyhow::Result<()> {
    use adloom_core::identifier::{hash_email, hash_maid, hash_phone, Digests};
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("cannot read standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let digests: Vec<Digests> = match kind {
            IdentifierKind::Email => vec![hash_email(&line)?],
            IdentifierKind::Phone => vec![hash_phone(&line)?],
            // Both letter cases, as adloom matches either.
            IdentifierKind::Maid => hash_maid(&line)?
                .map(|m| vec![m.upper, m.lower])
                .unwrap_or_default(),
        }
        .into_iter()
        .collect();
        if digests.is_empty() {
            eprintln!("adloom: line {}: all-zero ad id skipped", i + 1);
        }
        for d in digests {
            if all {
                writeln!(out, "{}\t{}\t{}", d.sha256, d.sha1, d.md5)?;
            } else {
                writeln!(out, "{}", d.sha256)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Where `serve` keeps its data when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./adloom-data";
