//! `adloom import people FILE`: the operator's bulk sync of people, from a
//! CSV file or NDJSON, to a running adloom (the admin API) or straight into
//! a data dir (the same API, in-process).
//!
//! The file is read as a stream and sent in batches; each batch is applied
//! whole or not at all. A checkpoint beside the file (`FILE.adloom-import`)
//! records the lines already acknowledged, so a run that was interrupted
//! goes on where it stopped; upserts are idempotent anyway.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

use crate::remote::Target;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A CSV file with a header row (user_id, email, phone, maid, country,
    /// region, locale, interests separated by `;`, age, gender), or NDJSON
    /// (one person per line, the API's fields), by its extension.
    pub file: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// People per request.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
}

/// Where a run stands: lines of the file already acknowledged.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Checkpoint {
    file_len: u64,
    lines_done: u64,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    crate::serve::runtime()?.block_on(import(args))
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let file_len = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let checkpoint_path = checkpoint_path(&args.file, "adloom-import");
    let skip = read_checkpoint(&checkpoint_path)
        .filter(|c: &Checkpoint| c.file_len == file_len)
        .map_or(0, |c| c.lines_done);
    if skip > 0 {
        eprintln!(
            "resuming after line {skip} (from {})",
            checkpoint_path.display()
        );
    }
    let client = args.target.connect().await?;
    let csv = !is_ndjson(&args.file);
    let reader = BufReader::new(std::fs::File::open(&args.file)?);
    let bar = bytes_bar(file_len);
    let mut rows = Rows::new(reader, csv)?;
    let (mut read, mut sent, mut rejected) = (0u64, 0u64, Vec::<String>::new());
    let mut batch: Vec<u8> = Vec::new();
    let mut in_batch = 0usize;
    while let Some(row) = rows.next_row()? {
        let line_no = row.line;
        bar.set_position(row.offset);
        read += 1;
        if row.line <= skip {
            continue;
        }
        match row.person {
            Ok(person) => {
                serde_json::to_writer(&mut batch, &person)?;
                batch.push(b'\n');
                in_batch += 1;
            }
            Err(reason) => rejected.push(format!("line {}: {reason}", row.line)),
        }
        if in_batch == args.batch {
            sent += send(&client, &mut batch, &mut in_batch).await?;
            write_checkpoint(&checkpoint_path, file_len, line_no)?;
        }
    }
    sent += send(&client, &mut batch, &mut in_batch).await?;
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&checkpoint_path);
    println!(
        "{read} rows read, {} rejected, {sent} people sent{}",
        rejected.len(),
        if skip > 0 {
            format!(" ({skip} lines skipped: sent by an earlier run)")
        } else {
            String::new()
        }
    );
    for r in rejected.iter().take(20) {
        println!("  rejected {r}");
    }
    if rejected.len() > 20 {
        println!("  ... and {} more", rejected.len() - 20);
    }
    Ok(())
}

async fn send(
    client: &crate::remote::Client,
    batch: &mut Vec<u8>,
    in_batch: &mut usize,
) -> anyhow::Result<u64> {
    if *in_batch == 0 {
        return Ok(0);
    }
    let answer = client
        .ndjson("/v1/admin/people", std::mem::take(batch))
        .await?;
    *in_batch = 0;
    Ok(answer["upserted"].as_u64().unwrap_or(0))
}

pub fn is_ndjson(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ndjson" | "jsonl" | "json")
    )
}

pub fn bytes_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn checkpoint_path(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

pub fn read_checkpoint<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Written to a temporary file and renamed, so a crash leaves the old or
/// the new checkpoint, never half of one.
pub fn write_checkpoint_value<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = checkpoint_path(path, "tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(value)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn write_checkpoint(path: &Path, file_len: u64, lines_done: u64) -> anyhow::Result<()> {
    write_checkpoint_value(
        path,
        &Checkpoint {
            file_len,
            lines_done,
        },
    )
}

/// One row of the file: the person it describes, or why it cannot be one.
struct Row {
    line: u64,
    offset: u64,
    person: Result<Value, String>,
}

/// Rows of a CSV file (with its header) or of NDJSON, one at a time.
enum Rows<R: BufRead> {
    Csv {
        reader: csv::Reader<R>,
        header: csv::StringRecord,
    },
    Ndjson {
        reader: R,
        line: u64,
        offset: u64,
    },
}

impl<R: BufRead> Rows<R> {
    fn new(reader: R, csv: bool) -> anyhow::Result<Rows<R>> {
        if csv {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
            let header = reader
                .headers()
                .context("the CSV file has no header row")?
                .clone();
            if !header.iter().any(|h| h.trim() == "user_id") {
                bail!("the CSV header has no user_id column");
            }
            Ok(Rows::Csv { reader, header })
        } else {
            Ok(Rows::Ndjson {
                reader,
                line: 0,
                offset: 0,
            })
        }
    }

    fn next_row(&mut self) -> anyhow::Result<Option<Row>> {
        match self {
            Rows::Csv { reader, header } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        let pos = record.position();
                        Ok(Some(Row {
                            line: pos.map_or(0, |p| p.line()),
                            offset: pos.map_or(0, |p| p.byte()),
                            person: person_of_csv(header, &record),
                        }))
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        Ok(Some(Row {
                            line,
                            offset: e.position().map_or(0, |p| p.byte()),
                            person: Err(format!("not CSV: {e}")),
                        }))
                    }
                }
            }
            Rows::Ndjson {
                reader,
                line,
                offset,
            } => loop {
                let mut text = String::new();
                let n = reader.read_line(&mut text)?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                *offset += n as u64;
                if text.trim().is_empty() {
                    continue;
                }
                let person = serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| {
                        if v.get("user_id").and_then(Value::as_str).is_some() {
                            Ok(v)
                        } else {
                            Err("no user_id".to_owned())
                        }
                    });
                return Ok(Some(Row {
                    line: *line,
                    offset: *offset,
                    person,
                }));
            },
        }
    }
}

/// A CSV row as the API's person: known columns only, empty cells left out.
fn person_of_csv(header: &csv::StringRecord, record: &csv::StringRecord) -> Result<Value, String> {
    let mut person = Map::new();
    for (name, cell) in header.iter().zip(record.iter()) {
        let (name, cell) = (name.trim(), cell.trim());
        if cell.is_empty() {
            continue;
        }
        let value = match name {
            "user_id" | "email" | "phone" | "country" | "region" | "locale" | "gender" => {
                json!(cell)
            }
            "interests" => json!(cell
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()),
            "age" => json!(cell
                .parse::<u64>()
                .map_err(|_| format!("age {cell:?} is not a number"))?),
            "maid" => json!([{"id": cell}]),
            _ => continue,
        };
        person.insert(name.to_owned(), value);
    }
    if !person.contains_key("user_id") {
        return Err("no user_id".to_owned());
    }
    Ok(Value::Object(person))
}
