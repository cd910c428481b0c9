//! `adloom serve`: open the store, bind, serve until SIGTERM or SIGINT,
//! finish in-flight requests, flush the store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;

/// Serves; logging is set up (`init_logs`) by then.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    // The allocator gives freed memory back to the system from a thread of
    // its own, after about ten seconds, rather than only when the process
    // allocates again: the start-up's passing allocations (a page of people,
    // an audience's members before they are shared) would otherwise stay
    // resident in an idle server.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "the allocator's background purging is off");
    }
    runtime()?.block_on(serve(settings))
}

/// Logs with tracing, on standard error: lines of text, or one JSON object
/// a line with `ADLOOM_LOG_FORMAT=json` (for log shippers).
pub(crate) fn init_logs() -> anyhow::Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("ADLOOM_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().flatten_event(true).init(),
        Ok("text") | Err(std::env::VarError::NotPresent) => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Ok(other) => anyhow::bail!("ADLOOM_LOG_FORMAT is `text` or `json`, not `{other}`"),
        Err(e) => anyhow::bail!("ADLOOM_LOG_FORMAT: {e}"),
    }
    Ok(())
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    let listener = bind(&mut settings).await?;
    serve_on(listener, settings).await
}

/// Binds the listening socket. With port 0 (any free port) and no public
/// URL given, the public URL becomes the address actually bound, so that
/// beacon and tag URLs reach this server.
pub(crate) async fn bind(settings: &mut Settings) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    if settings.http.public_url.ends_with(":0") {
        settings.http.public_url = format!("http://{}", listener.local_addr()?);
        // Links to adloom itself follow the address it got.
        settings.http.engine.review.own_origin = Some(settings.http.public_url.clone());
    }
    Ok(listener)
}

/// Serves on a bound socket until SIGTERM or SIGINT.
pub(crate) async fn serve_on(listener: TcpListener, settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    std::fs::create_dir_all(&settings.http.spool_dir).with_context(|| {
        format!(
            "cannot create spool dir {}",
            settings.http.spool_dir.display()
        )
    })?;
    let admin_token = match settings.admin_token.clone() {
        Some(token) => token,
        None => stored_admin_token(&settings.data_dir)?,
    };
    let store = adloom_store::open(&settings.store).context("cannot open the store")?;
    store.ready().await.context("cannot open the store")?;
    let engine = adloom_engine::Engine::new(store.clone(), settings.http.engine.clone());
    let engine = match &settings.counters {
        None => engine,
        Some(url) => {
            let prefix = engine
                .shared_counters_prefix()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read the store's secret: {e:?}"))?;
            let shared = adloom_store::counters::connect(url, &prefix)
                .await
                .context("cannot reach the shared counters")?;
            engine.with_shared_counters(shared)
        }
    };
    let engine = match &settings.bus {
        None => engine,
        Some(url) => {
            let name = engine
                .bus_stream_name()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read the store's secret: {e:?}"))?;
            let bus = adloom_store::bus::connect(url, &name)
                .await
                .context("cannot reach the event bus")?;
            engine.with_bus(bus)
        }
    };
    // Without a bus, pixels are answered from a journal of this node's
    // (with one, the bus is the log).
    let engine = if settings.bus.is_none() {
        let path = settings.data_dir.join("pixels.journal");
        engine
            .with_pixel_journal(&path)
            .with_context(|| format!("cannot open the pixel journal {}", path.display()))?
    } else {
        engine
    };
    let engine = if settings.fetch_pin_images {
        engine.with_image_fetcher(Arc::new(crate::image_fetch::PublicImageFetcher::new()?))
    } else {
        engine
    };
    // Other nodes sharing the store: follow their changes before loading
    // anything, so that nothing committed meanwhile is missed.
    adloom_engine::changes::start(&engine)
        .await
        .map_err(|e| anyhow::anyhow!("cannot follow other nodes' changes: {e:?}"))?;
    // Purge what is older than its retention now, then every hour.
    engine.start_retention();
    // Load people and the catalog into memory before the first decision
    // needs them; the server answers meanwhile.
    let warming = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = warming.warm_up().await {
            tracing::warn!(error = ?e, "serving state not loaded yet");
        }
    });
    let state = adloom_http::AppState::over(engine.clone(), settings.http.clone(), &admin_token);
    let app = adloom_http::router(state);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %settings.data_dir.display(), "adloom is listening");

    let grace = settings.shutdown_grace;
    crate::transport::serve(listener, app, settings.transport, shutdown_signal()).await;
    tracing::info!("no more requests in flight; flushing storage");
    tokio::time::timeout(grace, async {
        // What is left in the pixel journal would be applied at the next
        // start anyway; applied now, the store is whole when stopped.
        engine.pixels_applied().await;
        engine.give_back_leases().await;
        store.close().await
    })
    .await
    .context("storage did not flush in time")?
    .context("cannot flush storage")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("can listen for SIGTERM");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}

/// The admin token kept in the data dir; generated, saved (readable by the
/// owner only) and printed on the first start.
pub(crate) fn stored_admin_token(data_dir: &Path) -> anyhow::Result<String> {
    if let Some(token) = kept_admin_token(data_dir) {
        return Ok(token);
    }
    let token = adloom_http::auth::new_token("adm_");
    let path = keep_admin_token(data_dir, &token)?;
    // Printed once, on stdout rather than in the log, so it does not end up
    // in log collectors.
    println!(
        "admin token (shown once; kept in {}): {token}",
        path.display()
    );
    Ok(token)
}

/// The admin token the data dir keeps, if it keeps one.
pub(crate) fn kept_admin_token(data_dir: &Path) -> Option<String> {
    let token = std::fs::read_to_string(data_dir.join("admin-token")).ok()?;
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Keeps `token` as the data dir's admin token, readable by the owner only;
/// returns the file's path.
pub(crate) fn keep_admin_token(data_dir: &Path, token: &str) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("admin-token");
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?
    };
    writeln!(file, "{token}")?;
    file.sync_all()?;
    Ok(path)
}
