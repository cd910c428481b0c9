//! `adloom pair`: the advertiser's side of a PAIR match. It reads a CSV of
//! emails (or their SHA-256), keeps the advertiser's secret key in a file
//! of its own, and runs the whole exchange against adloom: only group
//! elements encrypted with that key leave this machine, never an email or
//! a hash of one. It ends with a customer list of the matched people and
//! prints the match's size as adloom shows list sizes (two significant
//! digits, "fewer than 100").

use std::collections::HashSet;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use adloom_core::disclosure;
use adloom_core::pair::{PairId, PairKey, Salt};
use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::lists::{hash, Kind};
use crate::remote::{Client, Target};

/// The most ids one request carries (the API's limit).
const BATCH: usize = 10_000;

#[derive(Args, Debug)]
pub struct PairArgs {
    /// A CSV file: the first column holds emails, or their SHA-256 hex (a
    /// header row is skipped).
    pub file: PathBuf,
    #[arg(long)]
    pub ad_account: String,
    /// The customer list's name [default: the file's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The advertiser's secret key: made on first use (readable by this
    /// user only) and used again after; keep it as you keep your list.
    #[arg(long, default_value = "adloom-pair.key")]
    pub key_file: PathBuf,
    #[command(flatten)]
    pub target: Target,
}

pub fn run(args: PairArgs) -> anyhow::Result<()> {
    crate::serve::runtime()?.block_on(pair(args))
}

/// The key in `path`, or a new one written there.
fn key(path: &Path) -> anyhow::Result<PairKey> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{} does not hold a PAIR key", path.display()))?;
        return PairKey::from_bytes(bytes)
            .map_err(|_| anyhow::anyhow!("{} does not hold a PAIR key", path.display()));
    }
    let mut seed = [0u8; 64];
    rand::rng().fill(&mut seed[..]);
    let key = PairKey::from_wide_bytes(&seed);
    let mut file = new_private_file(path)
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))?;
    eprintln!("made a new PAIR key in {}", path.display());
    Ok(key)
}

#[cfg(unix)]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// The file's emails as the identifiers PAIR encrypts (SHA-256 hex), each
/// once; and how many cells were not an email.
fn identifiers(file: &Path) -> anyhow::Result<(Vec<String>, u64)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
        ));
    let (mut seen, mut out, mut rejected) = (HashSet::new(), Vec::new(), 0u64);
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        let cell = record.get(0).unwrap_or_default();
        match hash(Kind::Email, cell) {
            Ok(x) => {
                if seen.insert(x.clone()) {
                    out.push(x);
                }
            }
            // A header row ("email"): not a record.
            Err(_) if record.position().is_some_and(|p| p.line() == 1) && !cell.contains('@') => {}
            Err(_) => rejected += 1,
        }
    }
    Ok((out, rejected))
}

/// `f` over `items` on every core: one scalar multiplication each.
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(cores).max(256);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a PAIR worker panicked"))
            .collect()
    })
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>22} {{bar:40}} {{pos}}/{{len}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn ids(answer: &Value, field: &str) -> anyhow::Result<Vec<String>> {
    answer[field]
        .as_array()
        .context("the server's answer has no ids")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .context("an id is not a string")
        })
        .collect()
}

async fn pair(args: PairArgs) -> anyhow::Result<()> {
    let key = key(&args.key_file)?;
    let (customers, rejected) = identifiers(&args.file)?;
    if customers.is_empty() {
        bail!("{} holds no email", args.file.display());
    }
    let name = args.name.clone().unwrap_or_else(|| {
        args.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "PAIR match".to_owned())
    });
    let client: Client = args.target.connect().await?;
    let base = format!("/v5/ad_accounts/{}/pair_matches", args.ad_account);
    let started = client
        .call(
            Method::POST,
            &base,
            Some(json!({"name": name, "list_type": "EMAIL"})),
        )
        .await?;
    let id = started["id"]
        .as_str()
        .context("the server gave no match id")?;
    let salt = Salt::parse(started["salt"].as_str().unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("the server's salt {}", e.reason))?;
    let base = format!("{base}/{id}");

    // Ours, encrypted with our key, then with the platform's.
    let encrypting = bar(customers.len() as u64, "encrypting and sending");
    let mut doubly: HashSet<String> = HashSet::with_capacity(customers.len());
    for batch in customers.chunks(BATCH) {
        let mine = on_every_core(batch, |x| key.encrypt(&salt, x).to_base64());
        let answer = client
            .call(
                Method::POST,
                &format!("{base}/advertiser_ids"),
                Some(json!({ "ids": mine })),
            )
            .await?;
        doubly.extend(ids(&answer, "ids")?);
        encrypting.inc(batch.len() as u64);
    }
    encrypting.finish_and_clear();

    // Theirs, page by page, encrypted with our key: a match is in both.
    let reading = ProgressBar::new_spinner();
    reading.set_message("reading the platform's ids");
    let (mut found, mut read) = (Vec::new(), 0u64);
    let mut bookmark: Option<String> = None;
    loop {
        let path = match &bookmark {
            None => format!("{base}/publisher_ids?page_size={BATCH}"),
            Some(b) => format!("{base}/publisher_ids?page_size={BATCH}&bookmark={b}"),
        };
        let page = client.call(Method::GET, &path, None).await?;
        let theirs = ids(&page, "items")?;
        read += theirs.len() as u64;
        let ours = on_every_core(&theirs, |p| {
            PairId::parse("id", p)
                .map(|id| key.reencrypt(&id).to_base64())
                .ok()
        });
        for (p, doubled) in theirs.into_iter().zip(ours) {
            if doubled.is_some_and(|d| doubly.contains(&d)) {
                found.push(p);
            }
        }
        reading.set_message(format!("read {read} of the platform's ids"));
        reading.tick();
        match page["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_owned()),
            None => break,
        }
    }
    reading.finish_and_clear();

    let closed = client
        .call(
            Method::POST,
            &format!("{base}/matched"),
            Some(json!({ "ids": found })),
        )
        .await?;
    let list = closed["customer_list_id"]
        .as_str()
        .context("the server gave no customer list")?;
    let size = disclosure::audience_size(found.len() as u64, 0);
    println!(
        "customer list {list} ({name}): {} emails sent encrypted{}; matched {}",
        customers.len(),
        if rejected > 0 {
            format!(" ({rejected} cells were not an email)")
        } else {
            String::new()
        },
        match size.size {
            Some(n) => format!("about {n} people"),
            None => "fewer than 100 people (too few to use)".to_owned(),
        }
    );
    Ok(())
}
