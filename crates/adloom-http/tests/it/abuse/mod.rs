//! The threat model, read from the test list: one module per attack an
//! outside review made on adloom (issue 13), each showing the attack and
//! what stops it. An advertiser is semi-trusted: it may see what its own
//! data did in aggregate, never whether one person is on the platform,
//! and never another advertiser's data.

mod another_accounts_audience_in_targeting;
mod another_accounts_ids_in_reports;
mod averaging_noise_with_many_lists;
mod averaging_noise_with_reworded_targeting;
mod clicks_without_impressions;
mod order_id_squatting;
mod pixels_poured_into_anothers_audiences;
mod plain_identifiers_in_order_ids_and_urls;
mod sessions_and_sign_in_links;
mod small_ones;
mod tokens_that_live_forever;
mod whether_one_email_is_on_the_platform;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{App, Browser};

/// An advertiser with its own ad account and token.
pub struct Advertiser {
    pub account: String,
    pub token: String,
}

impl Advertiser {
    pub async fn new(app: &App, name: &str) -> Advertiser {
        let account = app.ad_account(name).await;
        let token = app.token(&[&account]).await;
        Advertiser { account, token }
    }

    pub async fn call(
        &self,
        app: &App,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::Reply {
        let uri = format!("/v5/ad_accounts/{}{path}", self.account);
        app.call(method, &uri, Some(&self.token), body).await
    }

    /// Creates one object through a batch endpoint and returns its id.
    pub async fn create(&self, app: &App, path: &str, item: Value) -> String {
        let r = self
            .call(app, Method::POST, path, Some(json!([item])))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let exceptions = &r.body["items"][0]["exceptions"];
        assert!(
            *exceptions == json!([]) || exceptions.is_null(),
            "{:?}",
            r.body
        );
        r.body["items"][0]["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A conversion tag of its account; returns its id.
    pub async fn tag(&self, app: &App) -> String {
        let r = self
            .call(
                app,
                Method::POST,
                "/conversion_tags",
                Some(json!({"name": "site"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// A customer list of these emails and an audience over it; returns the
    /// audience's id.
    pub async fn list_audience(&self, app: &App, emails: &[String]) -> String {
        let r = self
            .call(
                app,
                Method::POST,
                "/customer_lists",
                Some(json!({"name": "Buyers", "records": emails.join(","), "list_type": "EMAIL"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let list = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .call(
                app,
                Method::POST,
                "/audiences",
                Some(json!({"name": "Buyers", "audience_type": "CUSTOMER_LIST",
                            "rule": {"customer_list_id": list}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

/// A browser signed in to the console with `token`, and the page it lands
/// on (its first account's).
pub async fn console<'a>(app: &'a App, token: &str) -> (Browser<'a>, String) {
    let mut browser = Browser::new(app);
    browser.get("/console").await;
    let csrf = browser.csrf();
    let r = browser
        .post_form("/console/sign_in", &[("csrf", &csrf), ("token", token)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
    let home = r.headers[axum::http::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(browser.get(&home).await.status, StatusCode::OK);
    (browser, home)
}

/// The console's page for `token`'s first account.
pub async fn console_page(app: &App, token: &str) -> String {
    let (mut browser, home) = console(app, token).await;
    let r = browser.get(&home).await;
    r.body.as_str().unwrap().to_owned()
}
