//! A customer-list request body (`POST` and `PATCH .../customer_lists`),
//! read as a stream: a list may carry hundreds of megabytes of records,
//! and holding the body would cost that much memory per request.
//!
//! The JSON is read with a streaming parser (struson) on a blocking thread.
//! Its small fields are kept; the records string is split as it arrives,
//! and every chunk of [`CHUNK`] records is sealed (`SealKey`: AES-256-GCM-SIV, with
//! a key made for this request and never stored) into an anonymous spool
//! file that disappears with the request. The records are read back chunk
//! by chunk once the whole body, and so the list type, is known (clients
//! send `records` before `list_type` as often as after). Plain emails are
//! never on disk in the clear, and memory stays at one chunk.

use std::io::{BufReader, Read, Seek, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use futures_util::TryStreamExt;
use struson::reader::{JsonReader, JsonStreamReader, ValueType};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::error::ApiError;
use crate::AppState;

/// Records per chunk, as they are matched against the identity index.
pub const CHUNK: usize = 10_000;
/// The most bytes a field other than `records` may have.
const SMALL_FIELD_BYTES: u64 = 4_096;

/// What the body said, its records spooled.
pub struct ListUpload {
    pub name: Option<String>,
    pub list_type: Option<String>,
    pub operation_type: Option<String>,
    /// `None` when the body had no `records`.
    pub records: Option<SpooledRecords>,
}

/// Records sealed in an anonymous file, read back a chunk at a time.
pub struct SpooledRecords {
    file: BufReader<std::fs::File>,
    key: adloom_engine::signed::SealKey,
    pub count: u64,
}

impl SpooledRecords {
    /// The next chunk of records, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<String>>, ApiError> {
        let mut len = [0u8; 4];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(spool_error(e)),
        }
        let mut sealed = vec![0u8; u32::from_le_bytes(len) as usize];
        self.file.read_exact(&mut sealed).map_err(spool_error)?;
        let sealed = String::from_utf8(sealed).map_err(|_| ApiError::internal())?;
        let plain = self
            .key
            .open(b"list-spool", &sealed)
            .ok_or_else(ApiError::internal)?;
        let text = String::from_utf8(plain).map_err(|_| ApiError::internal())?;
        Ok(Some(text.split(',').map(str::to_owned).collect()))
    }
}

/// The extractor: checks the content type like `JsonObject`, then streams.
pub struct ListBody(pub ListUpload);

impl FromRequest<AppState> for ListBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        crate::extract::check_json_content_type(req.headers())?;
        let limit = state.config.max_import_bytes;
        let too_large = Arc::new(AtomicBool::new(false));
        let limited = http_body_util::Limited::new(req.into_body(), limit as usize);
        let stream = Body::new(limited).into_data_stream().map_err({
            let too_large = Arc::clone(&too_large);
            move |e| {
                if crate::people::is_length_limit(&e) {
                    too_large.store(true, Ordering::Relaxed);
                }
                std::io::Error::other(e)
            }
        });
        let reader = SyncIoBridge::new(StreamReader::new(stream));
        let spool_dir = state.config.spool_dir.clone();
        let parsed = tokio::task::spawn_blocking(move || read(reader, &spool_dir))
            .await
            .map_err(|_| ApiError::internal())?;
        match parsed {
            Err(_) if too_large.load(Ordering::Relaxed) => Err(ApiError::too_large(limit)),
            other => other.map(ListBody),
        }
    }
}

fn invalid_json(e: struson::reader::ReaderError) -> ApiError {
    ApiError::invalid(format!("invalid json: {e}"))
}

fn spool_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "customer-list spool failed");
    ApiError::internal()
}

/// Parses the body from `reader`, spooling its records into `spool_dir`.
fn read(reader: impl Read, spool_dir: &std::path::Path) -> Result<ListUpload, ApiError> {
    let mut json = JsonStreamReader::new(reader);
    if json.peek().map_err(invalid_json)? != ValueType::Object {
        return Err(ApiError::invalid("invalid json: expected a json object"));
    }
    json.begin_object().map_err(invalid_json)?;
    let mut upload = ListUpload {
        name: None,
        list_type: None,
        operation_type: None,
        records: None,
    };
    while json.has_next().map_err(invalid_json)? {
        let name = json.next_name_owned().map_err(invalid_json)?;
        if json.peek().map_err(invalid_json)? == ValueType::Null {
            json.next_null().map_err(invalid_json)?;
            continue;
        }
        match name.as_str() {
            "name" => upload.name = Some(small_string(&mut json, "name")?),
            "list_type" => upload.list_type = Some(small_string(&mut json, "list_type")?),
            "operation_type" => {
                upload.operation_type = Some(small_string(&mut json, "operation_type")?)
            }
            "records" => upload.records = Some(spool_records(&mut json, spool_dir)?),
            _ => json.skip_value().map_err(invalid_json)?,
        }
    }
    json.end_object().map_err(invalid_json)?;
    json.consume_trailing_whitespace().map_err(invalid_json)?;
    Ok(upload)
}

/// A string field of at most `SMALL_FIELD_BYTES`, read without taking more.
fn small_string<R: Read>(json: &mut JsonStreamReader<R>, field: &str) -> Result<String, ApiError> {
    if json.peek().map_err(invalid_json)? != ValueType::String {
        return Err(ApiError::invalid(format!("{field}: must be a string")));
    }
    let mut value = String::new();
    let mut reader = json.next_string_reader().map_err(invalid_json)?;
    let read = reader
        .by_ref()
        .take(SMALL_FIELD_BYTES + 1)
        .read_to_string(&mut value)
        .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
    if read as u64 > SMALL_FIELD_BYTES {
        return Err(ApiError::invalid(format!(
            "{field}: at most {SMALL_FIELD_BYTES} bytes"
        )));
    }
    drop(reader);
    Ok(value)
}

/// Splits the records string as it arrives and seals each chunk into a
/// new anonymous spool file.
fn spool_records<R: Read>(
    json: &mut JsonStreamReader<R>,
    spool_dir: &std::path::Path,
) -> Result<SpooledRecords, ApiError> {
    if json.peek().map_err(invalid_json)? != ValueType::String {
        return Err(ApiError::invalid("records: must be a string"));
    }
    let secret: [u8; 32] = rand::RngExt::random(&mut rand::rng());
    let key = adloom_engine::signed::SealKey::new(&secret);
    let file = tempfile::tempfile_in(spool_dir).map_err(spool_error)?;
    let mut out = std::io::BufWriter::new(file);
    let mut chunk = String::new();
    let (mut in_chunk, mut count) = (0usize, 0u64);
    let mut flush = |chunk: &mut String, in_chunk: &mut usize| -> Result<(), ApiError> {
        if *in_chunk == 0 {
            return Ok(());
        }
        let sealed = key.seal(b"list-spool", chunk.as_bytes());
        out.write_all(&(sealed.len() as u32).to_le_bytes())
            .and_then(|()| out.write_all(sealed.as_bytes()))
            .map_err(spool_error)?;
        chunk.clear();
        *in_chunk = 0;
        Ok(())
    };
    let mut take =
        |record: &str, chunk: &mut String, in_chunk: &mut usize| -> Result<(), ApiError> {
            let record = record.trim();
            if record.is_empty() {
                return Ok(());
            }
            if *in_chunk > 0 {
                chunk.push(',');
            }
            chunk.push_str(record);
            *in_chunk += 1;
            count += 1;
            if *in_chunk == CHUNK {
                flush(chunk, in_chunk)?;
            }
            Ok(())
        };
    {
        let mut reader = json.next_string_reader().map_err(invalid_json)?;
        let mut block = vec![0u8; 64 * 1024];
        // The record cut by a block's end, carried to the next block.
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let n = reader
                .read(&mut block)
                .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
            if n == 0 {
                break;
            }
            partial.extend_from_slice(&block[..n]);
            // Separators are ASCII, so cutting at one never splits a
            // character.
            let Some(last) = partial.iter().rposition(|b| b",\n\r".contains(b)) else {
                if partial.len() > 64 * 1024 {
                    return Err(ApiError::invalid("records: a record longer than 64 KiB"));
                }
                continue;
            };
            let whole = std::str::from_utf8(&partial[..last])
                .map_err(|_| ApiError::invalid("records: not utf-8"))?;
            for record in whole.split([',', '\n', '\r']) {
                take(record, &mut chunk, &mut in_chunk)?;
            }
            partial.drain(..=last);
        }
        let rest =
            std::str::from_utf8(&partial).map_err(|_| ApiError::invalid("records: not utf-8"))?;
        take(rest, &mut chunk, &mut in_chunk)?;
    }
    flush(&mut chunk, &mut in_chunk)?;
    let mut file = out.into_inner().map_err(|e| spool_error(e.into_error()))?;
    file.rewind().map_err(spool_error)?;
    Ok(SpooledRecords {
        file: BufReader::new(file),
        key,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ListUpload, ApiError> {
        read(body.as_bytes(), &std::env::temp_dir())
    }

    #[test]
    fn records_stream_in_chunks_in_any_field_order() {
        let records: Vec<String> = (0..25_003).map(|i| format!("p{i}@example.com")).collect();
        let body = format!(
            r#"{{"records": "{}", "name": "Buyers", "list_type": "EMAIL", "extra": [1, {{"a": 2}}]}}"#,
            records.join(",\\n")
        );
        let mut upload = parse(&body).unwrap();
        assert_eq!(upload.name.as_deref(), Some("Buyers"));
        assert_eq!(upload.list_type.as_deref(), Some("EMAIL"));
        let spooled = upload.records.as_mut().unwrap();
        assert_eq!(spooled.count, 25_003);
        let mut back = Vec::new();
        while let Some(chunk) = spooled.next_chunk().unwrap() {
            assert!(chunk.len() <= CHUNK);
            back.extend(chunk);
        }
        assert_eq!(back, records);
    }

    #[test]
    fn bad_bodies_are_refused_in_the_api_shape() {
        for body in [
            "[]",
            r#"{"name": 5}"#,
            r#"{"records": ["a"]}"#,
            r#"{"records": "a,b""#,
            r#"{"records": "a"} trailing"#,
        ] {
            assert_eq!(parse(body).err().map(|e| e.code), Some(4196), "{body}");
        }
        let long = format!(r#"{{"name": "{}"}}"#, "x".repeat(5_000));
        assert!(parse(&long)
            .err()
            .unwrap()
            .message
            .starts_with("name: at most"));
        let upload = parse(r#"{"name": null, "records": ""}"#).unwrap();
        assert_eq!(upload.records.unwrap().count, 0);
    }
}
