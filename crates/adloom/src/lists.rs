//! `adloom lists upload`: the advertiser's customer-list upload. Every
//! record is normalized and hashed (SHA-256) here, on the advertiser's own
//! machine, before anything is sent: plain identifiers never leave it. The
//! hashes go up in batches through the customer-lists API: the first batch
//! creates the list, the others add to it.
//!
//! A checkpoint beside the file (`FILE.adloom-list`) records the list and
//! the rows already added, so an interrupted upload goes on where it
//! stopped instead of sending rows twice.

use std::io::BufReader;
use std::path::PathBuf;

use adloom_core::identifier::{hash_email, hash_maid, parse_sha256_hex};
use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;

use crate::import::{bytes_bar, checkpoint_path, read_checkpoint, write_checkpoint_value};
use crate::remote::Target;

#[derive(Subcommand, Debug)]
pub enum ListsCommand {
    /// Hash a CSV of emails or mobile ad IDs here and upload it as a
    /// customer list (or add to the list an earlier, interrupted run made).
    Upload(UploadArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    Email,
    Maid,
    Idfa,
}

#[derive(Args, Debug)]
pub struct UploadArgs {
    /// A CSV file: the first column holds the identifiers (a header row is
    /// skipped when its first cell is not an identifier), or SHA-256 hex.
    pub file: PathBuf,
    #[arg(long)]
    pub ad_account: String,
    /// The list's name [default: the file's name].
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_enum, default_value = "email")]
    pub r#type: Kind,
    /// Records per request.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    #[command(flatten)]
    pub target: Target,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    file_len: u64,
    list_id: String,
    rows_done: u64,
}

pub fn run(command: ListsCommand) -> anyhow::Result<()> {
    match command {
        ListsCommand::Upload(args) => crate::serve::runtime()?.block_on(upload(args)),
    }
}

/// The SHA-256 hex the API matches, or why the record cannot be one.
pub fn hash(kind: Kind, record: &str) -> Result<String, String> {
    let record = record.trim();
    if parse_sha256_hex(record).is_some() {
        return Ok(record.to_ascii_lowercase());
    }
    match kind {
        Kind::Email => hash_email(record)
            .map(|d| d.sha256)
            .map_err(|e| e.to_string()),
        Kind::Maid | Kind::Idfa => match hash_maid(record) {
            Ok(Some(m)) => Ok(m.lower.sha256),
            Ok(None) => Err("an all-zero ad ID (tracking limited)".to_owned()),
            Err(e) => Err(e.to_string()),
        },
    }
}

async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let file_len = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let checkpoint_path = checkpoint_path(&args.file, "adloom-list");
    let resume: Option<Checkpoint> =
        read_checkpoint(&checkpoint_path).filter(|c: &Checkpoint| c.file_len == file_len);
    let name = args.name.clone().unwrap_or_else(|| {
        args.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "customer list".to_owned())
    });
    let list_type = match args.r#type {
        Kind::Email => "EMAIL",
        Kind::Maid => "MAID",
        Kind::Idfa => "IDFA",
    };
    let client = args.target.connect().await?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(std::fs::File::open(&args.file)?));
    let bar = bytes_bar(file_len);
    let mut list_id = resume.as_ref().map(|c| c.list_id.clone());
    let skip = resume.as_ref().map_or(0, |c| c.rows_done);
    if let Some(id) = &list_id {
        eprintln!("resuming list {id} after row {skip}");
    }
    let (mut rows, mut uploaded) = (0u64, 0u64);
    let mut rejected: std::collections::BTreeMap<String, u64> = Default::default();
    let mut batch: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        let pos = record.position().map_or(0, |p| p.byte());
        bar.set_position(pos);
        rows += 1;
        let cell = record.get(0).unwrap_or_default();
        let hashed = hash(args.r#type, cell);
        let first = record.position().is_some_and(|p| p.line() == 1);
        if first && hashed.is_err() && !cell.contains('@') && !cell.is_empty() {
            // A header row ("email", "idfa", ...): not a record.
            rows = 0;
            continue;
        }
        if rows <= skip {
            continue;
        }
        match hashed {
            Ok(h) => batch.push(h),
            Err(reason) => *rejected.entry(reason).or_default() += 1,
        }
        if batch.len() == args.batch {
            uploaded += batch.len() as u64;
            list_id = Some(send(&client, &args, &name, list_type, list_id, &mut batch).await?);
            write_checkpoint_value(
                &checkpoint_path,
                &Checkpoint {
                    file_len,
                    list_id: list_id.clone().unwrap_or_default(),
                    rows_done: rows,
                },
            )?;
        }
    }
    if !batch.is_empty() || list_id.is_none() {
        uploaded += batch.len() as u64;
        list_id = Some(send(&client, &args, &name, list_type, list_id, &mut batch).await?);
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&checkpoint_path);
    let list_id = list_id.unwrap_or_default();
    let list = client
        .call(
            Method::GET,
            &format!(
                "/v5/ad_accounts/{}/customer_lists/{list_id}",
                args.ad_account
            ),
            None,
        )
        .await?;
    println!(
        "list {list_id} ({name}): {rows} rows read, {} rejected, {uploaded} hashed records uploaded{}",
        rejected.values().sum::<u64>(),
        if skip > 0 {
            format!(" ({skip} rows skipped: uploaded by an earlier run)")
        } else {
            String::new()
        }
    );
    for (reason, n) in &rejected {
        println!("  rejected {n}: {reason}");
    }
    // Matches are not counted one by one, so that no upload can tell
    // whether one given person is on the platform: the list says whether
    // it is large enough to use.
    println!(
        "  status {}: {} records on the list in all",
        list["status"].as_str().unwrap_or("?"),
        list["num_uploaded_user_records"]
    );
    Ok(())
}

/// Creates the list with the first batch, or adds a batch to it; returns
/// the list's id.
async fn send(
    client: &crate::remote::Client,
    args: &UploadArgs,
    name: &str,
    list_type: &str,
    list_id: Option<String>,
    batch: &mut Vec<String>,
) -> anyhow::Result<String> {
    let records = std::mem::take(batch).join(",");
    let account = &args.ad_account;
    match list_id {
        None => {
            let list = client
                .call(
                    Method::POST,
                    &format!("/v5/ad_accounts/{account}/customer_lists"),
                    Some(json!({"name": name, "records": records, "list_type": list_type})),
                )
                .await?;
            Ok(list["id"].as_str().context("a list without id")?.to_owned())
        }
        Some(id) => {
            client
                .call(
                    Method::PATCH,
                    &format!("/v5/ad_accounts/{account}/customer_lists/{id}"),
                    Some(json!({"operation_type": "ADD", "records": records})),
                )
                .await?;
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_hashed_here_and_bad_ones_say_why() {
        let h = hash(Kind::Email, " Alice@Example.com ").unwrap();
        assert_eq!(h, hash_email("alice@example.com").unwrap().sha256);
        assert_eq!(hash(Kind::Email, &h).unwrap(), h, "already hashed");
        assert!(hash(Kind::Email, "not an email").is_err());
        assert!(hash(Kind::Maid, "00000000-0000-0000-0000-000000000000").is_err());
        assert!(hash(Kind::Idfa, "6D92078A-8246-4BA4-AE5B-76104861E7DC").is_ok());
    }
}
