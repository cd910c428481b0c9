//! Where the command-line tools send their work: a running adloom over
//! HTTP, or a data dir through the same API in-process.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;

use crate::api::Api;

#[derive(Args, Debug)]
pub struct Target {
    /// The adloom to send to [default: http://127.0.0.1:8080].
    #[arg(long, env = "ADLOOM_URL", conflicts_with = "data_dir")]
    pub url: Option<String>,
    /// Write straight into this data dir instead (no server may be running
    /// on it).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The bearer token: the operator's (ADLOOM_ADMIN_TOKEN) for people, an
    /// ad account's for lists. With --data-dir, the data dir's admin token.
    #[arg(long, env = "ADLOOM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub enum Client {
    Http {
        base: String,
        token: String,
        http: reqwest::Client,
    },
    InProcess(Api),
}

impl Target {
    pub async fn connect(&self) -> anyhow::Result<Client> {
        if let Some(dir) = &self.data_dir {
            let store =
                adloom_store::open(&format!("sqlite://{}", dir.join("adloom.db").display()))
                    .context("cannot open the data dir's store")?;
            let token = crate::serve::stored_admin_token(dir)?;
            let config = adloom_http::Config {
                spool_dir: std::env::temp_dir(),
                ..adloom_http::Config::default()
            };
            let state = adloom_http::AppState::new(store, config, &token);
            return Ok(Client::InProcess(Api::new(
                adloom_http::router(state),
                token,
            )));
        }
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("ADLOOM_ADMIN_TOKEN").ok())
            .filter(|t| !t.is_empty())
            .context("give a token with --token (or ADLOOM_TOKEN)")?;
        let base = self
            .url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned())
            .trim_end_matches('/')
            .to_owned();
        Ok(Client::Http {
            base,
            token,
            http: reqwest::Client::new(),
        })
    }
}

impl Client {
    pub async fn ndjson(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        match self {
            Client::InProcess(api) => api.ndjson(path, body).await,
            Client::Http { base, token, http } => {
                let res = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(token)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {base}"))?;
                answer(path, res).await
            }
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        match self {
            Client::InProcess(api) => {
                let method = axum::http::Method::from_bytes(method.as_str().as_bytes())?;
                api.call(method, path, body).await
            }
            Client::Http { base, token, http } => {
                let mut req = http
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(token);
                if let Some(b) = body {
                    req = req.json(&b);
                }
                let res = req
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {base}"))?;
                answer(path, res).await
            }
        }
    }
}

/// The answer's JSON, or the API's error message.
async fn answer(path: &str, res: reqwest::Response) -> anyhow::Result<Value> {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("no message");
        bail!("{path}: {status}: {message}");
    }
    Ok(body)
}
