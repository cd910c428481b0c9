//! adloom's own API, called in-process (the router `serve` runs, without a
//! socket) with the operator's token: how `world` and `demo` build what
//! they need, exactly as a client could have.

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The API, called in-process with the operator's token.
pub struct Api {
    router: Router,
    token: String,
}

impl Api {
    pub fn new(router: Router, token: String) -> Api {
        Api { router, token }
    }

    pub async fn send(&self, req: Request<Body>) -> anyhow::Result<Value> {
        let what = format!("{} {}", req.method(), req.uri().path());
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(status.is_success() || status.is_redirection()) {
            bail!("{what}: {status}: {body}");
        }
        Ok(body)
    }

    fn request(&self, method: Method, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let req = match body {
            Some(b) => self
                .request(method, uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&b)?))?,
            None => self.request(method, uri).body(Body::empty())?,
        };
        self.send(req).await
    }

    pub async fn ndjson(&self, uri: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        let req = self
            .request(Method::POST, uri)
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .body(Body::from(body))?;
        self.send(req).await
    }

    /// Creates a batch of campaigns, ad groups or ads; returns their ids.
    pub async fn batch(
        &self,
        account: &str,
        kind: &str,
        items: Vec<Value>,
    ) -> anyhow::Result<Vec<String>> {
        let answer = self
            .call(
                Method::POST,
                &format!("/v5/ad_accounts/{account}/{kind}"),
                Some(Value::Array(items)),
            )
            .await?;
        answer["items"]
            .as_array()
            .context("a batch answer without items")?
            .iter()
            .map(|item| match item["data"]["id"].as_str() {
                Some(id) => Ok(id.to_owned()),
                None => bail!("{kind}: {}", item["exceptions"]),
            })
            .collect()
    }
}
