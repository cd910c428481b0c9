//! `adloom purge`: retention once, now, with what it removed. The server
//! does the same every hour by itself; this is for a store no server is
//! using (after lowering a retention, or before a backup), and it also
//! gives the embedded store's free space back to the file system at once,
//! converting a data dir made before incremental vacuuming.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::config::{ServeArgs, Settings};

#[derive(Args)]
pub struct PurgeArgs {
    /// The config file whose retention keys apply (`event_retention_days`,
    /// ...) [default: the defaults].
    #[arg(long, env = "ADLOOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data dir [default: ./adloom-data].
    #[arg(long, env = "ADLOOM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage backend URL [default: sqlite://DATA_DIR/adloom.db].
    #[arg(long, env = "ADLOOM_STORE")]
    pub store: Option<String>,
}

pub fn run(args: PurgeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(ServeArgs {
        config: args.config,
        data_dir: args.data_dir,
        store: args.store,
        listen: None,
        admin_token: None,
        public_url: None,
        counters: None,
        bus: None,
        pixel_rate_limit_per_ip: None,
    })?;
    crate::serve::runtime()?.block_on(purge(settings))
}

async fn purge(settings: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = settings.data_dir.join("adloom.db");
    let embedded = settings.store.starts_with("sqlite://");
    let before = embedded.then(|| on_disk(&db));
    let store = adloom_store::open(&settings.store).context("cannot open the store")?;
    store.ready().await.context("cannot open the store")?;
    let engine = adloom_engine::Engine::new(store.clone(), settings.http.engine.clone());
    let retention = &settings.http.engine.retention;
    println!(
        "purging what is older than its retention: events {} days, impressions and clicks {} days (then kept as daily totals), Contact us requests {} days, settings history {}",
        retention.event_days,
        retention.engagement_days,
        retention.support_request_days,
        retention
            .settings_history_days
            .map_or("kept".to_owned(), |d| format!("{d} days"))
    );
    let purge = engine
        .purge_expired()
        .await
        .map_err(|e| anyhow::anyhow!("the purge failed: {e:?}"))?;
    println!(
        "  days of impressions and clicks rolled up into daily totals: {}",
        purge.days_rolled_up
    );
    for (kind, rows) in &purge.rows {
        println!("  {kind}: {rows} removed");
    }
    println!(
        "  browser links left without an event: {} removed",
        purge.cookie_links
    );
    store
        .compact()
        .await
        .context("cannot give the free space back")?;
    store.close().await.context("cannot flush the store")?;
    match before {
        Some(before) => println!(
            "done in {:.1} s; {}: {:.1} MB before, {:.1} MB after",
            started.elapsed().as_secs_f64(),
            db.display(),
            before as f64 / 1e6,
            on_disk(&db) as f64 / 1e6
        ),
        None => println!("done in {:.1} s", started.elapsed().as_secs_f64()),
    }
    Ok(())
}

/// The database's bytes on disk, with its write-ahead log.
fn on_disk(db: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    len(db) + len(&db.with_extension("db-wal"))
}
