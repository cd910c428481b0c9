//! `adloom backup` and `adloom restore`: the embedded store's data dir as
//! one file and back, while `serve` runs (adloom_store::sqlite::backup).
//! PostgreSQL stores are backed up with PostgreSQL's own tools (README,
//! "Backups").

use std::path::PathBuf;
use std::time::Instant;

use adloom_store::sqlite::backup::{self, Summary};
use anyhow::{bail, Context};
use clap::Args;

use crate::import::bytes_bar;
use crate::serve::{keep_admin_token, kept_admin_token};

#[derive(Args)]
pub struct BackupArgs {
    /// The data dir of the embedded store (serve may be running on it).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The backup file to make; never overwritten.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file `adloom backup` made.
    #[arg(long)]
    pub input: PathBuf,
    /// A new data dir (or one without a database) for `serve` to start on.
    #[arg(long)]
    pub data_dir: PathBuf,
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let db = args.data_dir.join("adloom.db");
    if !db.exists() {
        bail!(
            "{} has no embedded store (adloom.db); a PostgreSQL store is backed up with pg_dump (README, \"Backups\")",
            args.data_dir.display()
        );
    }
    let token = kept_admin_token(&args.data_dir);
    let started = Instant::now();
    let bar = bytes_bar(0);
    let summary = backup::backup(&db, &args.output, token.as_deref(), &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("backup of {} failed", args.data_dir.display()))?;
    bar.finish_and_clear();
    println!(
        "backup {} ({}): {}, checked in {:.1} s; keep it as safe as the data dir: it holds the installation secret{}",
        args.output.display(),
        held(&summary),
        size(summary.bytes),
        started.elapsed().as_secs_f64(),
        if token.is_some() {
            " and the admin token"
        } else {
            " (the admin token was given to serve, not kept in the data dir: it is not in the backup)"
        }
    );
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = backup::restore(&args.input, &args.data_dir)
        .with_context(|| format!("restore of {} failed", args.input.display()))?;
    if let Some(token) = &summary.admin_token {
        keep_admin_token(&args.data_dir, token)?;
    }
    println!(
        "restored {} into {} ({}) in {:.1} s{}; start it with: adloom serve --data-dir {}",
        args.input.display(),
        args.data_dir.display(),
        held(&summary),
        started.elapsed().as_secs_f64(),
        if summary.admin_token.is_some() {
            ", with its admin token"
        } else {
            ""
        },
        args.data_dir.display(),
    );
    Ok(())
}

fn held(s: &Summary) -> String {
    format!(
        "schema {}, {} people, {} ad accounts, {} events",
        s.schema_version, s.people, s.ad_accounts, s.events
    )
}

fn size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
