//! `/v1/admin/people`: the operator syncs the platform's people.

use std::io::{BufRead, Seek};

use adloom_core::person::{validate_user_id, PersonInput, PersonRecord};
use adloom_store::PersonBatch;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

use crate::error::ApiError;
use crate::extract::{Admin, ApiPath};
use crate::AppState;

/// Longest accepted NDJSON line: one person is far smaller.
const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Upserted {
    upserted: u64,
}

/// `POST /v1/admin/people`: a JSON array, or NDJSON streamed through a
/// spool file so that any number of people fits in bounded memory. Either
/// way the batch is validated whole before anything is stored, and applied
/// in one transaction.
#[utoipa::path(
    post,
    path = "/v1/admin/people",
    operation_id = "people/upsert",
    tag = "people",
    description = "Upserts the platform's people: a JSON array, or NDJSON (`Content-Type: application/x-ndjson`, streamed). Plain identifiers are hashed on arrival; a batch is validated whole and applied in one transaction.",
    request_body(content = Vec<adloom_core::person::PersonInput>, description = "The people, as a JSON array (or the same objects as NDJSON)."),
    responses(
        (status = 200, description = "How many people were written.", body = Upserted),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 413, description = "The body is too large.", body = crate::error::ErrorBody),
    )
)]
pub async fn upsert(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Upserted>, ApiError> {
    let started = std::time::Instant::now();
    let now = state.engine.clock.now();
    let batch = if is_ndjson(&headers) {
        spool_ndjson(&state, body, now).await?
    } else {
        let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| ApiError::too_large(state.config.max_body_bytes as u64))?;
        let inputs: Vec<PersonInput> = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
        let records = inputs
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                p.normalize(now)
                    .map_err(|e| ApiError::invalid(format!("[{i}].{e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Box::new(records.into_iter().map(Ok)) as PersonBatch
    };
    let parsed = started.elapsed();
    let upserted = state.engine.upsert_people(batch).await?;
    tracing::info!(
        upserted,
        parse_ms = parsed.as_millis() as u64,
        store_ms = (started.elapsed() - parsed).as_millis() as u64,
        "people upserted"
    );
    Ok(Json(Upserted { upserted }))
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/x-ndjson")
                || ct.starts_with("application/ndjson")
                || ct.starts_with("application/jsonl")
        })
}

/// Reads NDJSON line by line, normalizes and hashes each person at once
/// (plain identifiers go no further than this function), and writes the
/// hashed records to an anonymous spool file that disappears with the
/// process. Returns a batch that reads them back.
async fn spool_ndjson(state: &AppState, body: Body, now: i64) -> Result<PersonBatch, ApiError> {
    let limit = state.config.max_import_bytes;
    let limited = http_body_util::Limited::new(body, limit as usize);
    let stream = Body::new(limited)
        .into_data_stream()
        .map_err(std::io::Error::other);
    let mut lines = FramedRead::new(
        StreamReader::new(stream),
        LinesCodec::new_with_max_length(MAX_LINE_BYTES),
    );
    let spool = tempfile::tempfile_in(&state.config.spool_dir).map_err(|e| {
        tracing::error!(error = %e, dir = %state.config.spool_dir.display(), "cannot create spool file");
        ApiError::internal()
    })?;
    let mut writer = tokio::io::BufWriter::new(tokio::fs::File::from_std(spool));
    let mut line_no = 0u64;
    while let Some(line) = lines.next().await {
        line_no += 1;
        let line = line.map_err(|e| line_error(e, line_no, limit))?;
        if line.trim().is_empty() {
            continue;
        }
        let input: PersonInput = serde_json::from_str(&line)
            .map_err(|e| ApiError::invalid(format!("line {line_no}: invalid json: {e}")))?;
        let record = input
            .normalize(now)
            .map_err(|e| ApiError::invalid(format!("line {line_no}: {e}")))?;
        let mut encoded = serde_json::to_vec(&record).map_err(|_| ApiError::internal())?;
        encoded.push(b'\n');
        writer.write_all(&encoded).await.map_err(spool_error)?;
    }
    writer.flush().await.map_err(spool_error)?;
    let mut file = writer.into_inner().into_std().await;
    file.rewind().map_err(spool_error)?;
    Ok(read_apart(file))
}

/// Records read back from the spool in a chunk of this many at a time.
const READ_BACK_CHUNK: usize = 1_024;
/// Chunks read back ahead of the store.
const CHUNKS_AHEAD: usize = 4;

/// The spooled records, read back and parsed on a thread of their own: the
/// store applies a batch under its one writer, and parsing there kept that
/// writer from the next insert (a tenth of its time in a people import).
/// The thread stops once the batch is dropped.
fn read_apart(spool: std::fs::File) -> PersonBatch {
    let (chunks, received) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(spool).lines();
        loop {
            let chunk: Vec<std::io::Result<PersonRecord>> = lines
                .by_ref()
                .take(READ_BACK_CHUNK)
                .map(|line| {
                    serde_json::from_str::<PersonRecord>(&line?).map_err(std::io::Error::other)
                })
                .collect();
            let last = chunk.len() < READ_BACK_CHUNK || chunk.iter().any(|r| r.is_err());
            if chunks.send(chunk).is_err() || last {
                return;
            }
        }
    });
    Box::new(received.into_iter().flatten())
}

fn line_error(e: LinesCodecError, line_no: u64, limit: u64) -> ApiError {
    match e {
        LinesCodecError::MaxLineLengthExceeded => ApiError::invalid(format!(
            "line {line_no}: longer than {MAX_LINE_BYTES} bytes"
        )),
        LinesCodecError::Io(io) => {
            let too_large = io.get_ref().is_some_and(|e| is_length_limit(e));
            if too_large {
                ApiError::too_large(limit)
            } else if io.kind() == std::io::ErrorKind::InvalidData {
                ApiError::invalid(format!("line {line_no}: not utf-8"))
            } else {
                ApiError::invalid(format!("line {line_no}: the body could not be read"))
            }
        }
    }
}

/// Whether an error, or one it wraps, is the body-size limit.
pub(crate) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = err.source();
    }
    false
}

fn spool_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "people spool failed");
    ApiError::internal()
}

/// `GET /v1/admin/people/{user_id}`: the person as stored, identifiers as
/// digests only.
#[utoipa::path(
    get,
    path = "/v1/admin/people/{user_id}",
    operation_id = "people/get",
    tag = "people",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    responses(
        (status = 200, description = "The person as stored: identifiers as digests only.", body = adloom_core::person::PersonRecord),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "Not found.", body = crate::error::ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<PersonRecord>, ApiError> {
    validate_user_id(&user_id)?;
    match state.engine.store.get_person(&user_id).await? {
        Some(person) => Ok(Json(person)),
        None => Err(ApiError::not_found("person")),
    }
}

/// `DELETE /v1/admin/people/{user_id}`: erases the person and everything
/// linked to them but the anonymous history of their setting.
#[utoipa::path(
    delete,
    path = "/v1/admin/people/{user_id}",
    operation_id = "people/delete",
    tag = "people",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    responses(
        (status = 204, description = "Erased, with their identifiers and setting; the history of their choices stays."),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "Not found.", body = crate::error::ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    validate_user_id(&user_id)?;
    let deleted = state.engine.delete_person(&user_id).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("person"))
    }
}
