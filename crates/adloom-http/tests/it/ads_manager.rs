//! Ads Manager in `/console`: an advertiser makes and changes campaigns,
//! ad groups and ads with forms, through the API's rules.

use std::io::Cursor;

use adloom_core::review::{ReviewMode, ReviewPolicy};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::decisions::{decide, groups};
use crate::{App, Browser, Reply};

fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_default()
}

/// A browser signed in to the console with a token for `account`.
pub(crate) async fn signed_in<'a>(app: &'a App, account: &str) -> Browser<'a> {
    let token = app.token(&[account]).await;
    let mut browser = Browser::new(app);
    browser.get("/console").await;
    let csrf = browser.csrf();
    let r = browser
        .post_form("/console/sign_in", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    browser
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_pixel(width, height, image::Rgba([10, 120, 200, 255]));
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// Posts a multipart form: its text fields, and one file.
async fn post_multipart(
    browser: &mut Browser<'_>,
    uri: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Reply {
    const BOUNDARY: &str = "adloom-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"pin.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    browser
        .send(
            Request::post(uri).header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            Body::from(body),
        )
        .await
}

async fn api_list(app: &App, account: &str, kinds: &str) -> Vec<Value> {
    let r = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/{kinds}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn saved_to(r: &Reply, account: &str, kinds: &str) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(r));
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/console/accounts/{account}?saved={kinds}#{kinds}").as_str()
    );
}

#[tokio::test]
async fn an_advertiser_goes_from_an_empty_account_to_a_serving_ad_in_the_console() {
    let app = App::new();
    app.upsert(json!([{"user_id": "p1", "country": "US", "interests": ["running"]}]))
        .await;
    let account = app.ad_account("Shoes Inc.").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let home = format!("/console/accounts/{account}");

    let page = browser.get(&home).await;
    assert!(html(&page).contains("No campaigns yet"));
    let r = browser.get(&format!("{home}/campaigns/new")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(html(&r).contains("name=\"objective_type\""));

    // A refusal shows the API's message next to its field, and stores
    // nothing.
    let r = browser
        .post_form(
            &format!("{home}/campaigns"),
            &[
                ("csrf", &csrf),
                ("name", "Spring"),
                ("objective_type", "AWARENESS"),
                ("daily_spend_cap", "a lot"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-daily_spend_cap-error\""));
    assert!(html(&r).contains("must be an amount such as 12.50"));
    assert!(html(&r).contains("value=\"a lot\""), "what was typed stays");
    assert!(api_list(&app, &account, "campaigns").await.is_empty());

    let r = browser
        .post_form(
            &format!("{home}/campaigns"),
            &[
                ("csrf", &csrf),
                ("name", "Spring"),
                ("objective_type", "AWARENESS"),
                ("daily_spend_cap", "50"),
                ("start_time", ""),
                ("end_time", ""),
            ],
        )
        .await;
    saved_to(&r, &account, "campaigns");
    let campaigns = api_list(&app, &account, "campaigns").await;
    assert_eq!(campaigns[0]["daily_spend_cap"], 50_000_000);
    let campaign = campaigns[0]["id"].as_str().unwrap().to_owned();

    let r = browser
        .post_form(
            &format!("{home}/ad_groups"),
            &[
                ("csrf", &csrf),
                ("name", "Runners"),
                ("campaign_id", &campaign),
                ("budget_type", "DAILY"),
                ("budget_in_micro_currency", "20"),
                ("billable_event", "IMPRESSION"),
                ("bid_in_micro_currency", "3.50"),
                ("pacing_delivery_type", "ACCELERATED"),
                ("placement_group", "ALL"),
                ("targeting_spec.GEO", "US"),
                ("targeting_spec.INTEREST", "running"),
                ("targeting_spec.APPTYPE", "web"),
                ("targeting_spec.APPTYPE", "iphone"),
            ],
        )
        .await;
    saved_to(&r, &account, "ad_groups");
    let group = &api_list(&app, &account, "ad_groups").await[0];
    assert_eq!(group["bid_in_micro_currency"], 3_500_000);
    assert_eq!(
        group["targeting_spec"],
        json!({"GEO": ["US"], "INTEREST": ["running"], "APPTYPE": ["web", "iphone"]})
    );
    let group = group["id"].as_str().unwrap().to_owned();

    // The ad, with its pin and an uploaded image.
    let r = post_multipart(
        &mut browser,
        &format!("{home}/ads"),
        &[
            ("csrf", &csrf),
            ("name", "Trail shoe"),
            ("ad_group_id", &group),
            ("pin.title", "The trail shoe"),
            ("pin.description", "Grip on wet rock"),
            ("pin.link", "https://shoes.example/trail"),
            ("pin.image_url", ""),
            ("pin.alt_text", "A blue shoe"),
            ("destination_url", ""),
        ],
        Some(("pin.image", &png(60, 90))),
    )
    .await;
    saved_to(&r, &account, "ads");
    let ad = &api_list(&app, &account, "ads").await[0];
    assert_eq!(ad["review_status"], "APPROVED");
    let pin = app
        .admin(
            Method::GET,
            &format!("/v5/pins/{}", ad["pin_id"].as_str().unwrap()),
            None,
        )
        .await;
    let image_url = pin.body["media"]["images"]["originals"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let image_path = image_url
        .split_once("/media/")
        .map(|(_, id)| format!("/media/{id}"))
        .expect("served by adloom");
    let image = app.call(Method::GET, &image_path, None, None).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
    let decoded = image::load_from_memory(&image.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (60, 90));

    let d = decide(
        &app,
        json!({"user_id": "p1", "placement": "home_feed", "count": 3, "explain": true}),
    )
    .await;
    assert_eq!(groups(&d), [group.as_str()], "{d}");
    assert_eq!(d["ads"][0]["pin"]["image_url"], image_url.as_str());

    let page = browser.get(&home).await;
    for shown in ["Spring", "Runners", "Trail shoe", "Approved"] {
        assert!(html(&page).contains(shown), "{shown}");
    }

    // Pause from the list; the ad group stops serving.
    let r = browser
        .post_form(
            &format!("{home}/ad_groups/{group}/status"),
            &[("csrf", &csrf), ("status", "PAUSED")],
        )
        .await;
    saved_to(&r, &account, "ad_groups");
    assert_eq!(
        api_list(&app, &account, "ad_groups").await[0]["status"],
        "PAUSED"
    );
    let d = decide(
        &app,
        json!({"user_id": "p1", "placement": "home_feed", "count": 3}),
    )
    .await;
    assert!(groups(&d).is_empty());
}

#[tokio::test]
async fn uploads_that_are_not_images_are_refused_next_to_the_field() {
    let app = App::new();
    let account = app.ad_account("Shoes Inc.").await;
    let (_, group) = campaign_and_group(&app, &account, "C").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Ad"),
        ("ad_group_id", group.as_str()),
        ("pin.title", "Shoe"),
        ("pin.link", "https://shoes.example"),
    ];
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>";
    let r = post_multipart(
        &mut browser,
        &format!("/console/accounts/{account}/ads"),
        &fields,
        Some(("pin.image", svg)),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-pin-image-error\""));
    assert!(html(&r).contains("must be a PNG, JPEG or WebP image"));
    // Neither an image, nor a pin, nor an ad.
    assert!(api_list(&app, &account, "ads").await.is_empty());

    // No image at all: the API's own refusal, next to the address field.
    let r = post_multipart(
        &mut browser,
        &format!("/console/accounts/{account}/ads"),
        &fields,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        html(&r).contains("id=\"f-pin-image_url-error\""),
        "{}",
        html(&r)
    );
}

#[tokio::test]
async fn forms_keep_to_the_signed_in_account_and_need_the_csrf_token() {
    let app = App::new();
    let mine = app.ad_account("Mine").await;
    let theirs = app.ad_account("Theirs").await;
    let their_campaign = crate::decisions::create(
        &app,
        &theirs,
        "campaigns",
        json!({"name": "Theirs", "objective_type": "AWARENESS"}),
    )
    .await;
    let mut browser = signed_in(&app, &mine).await;
    let csrf = browser.csrf();
    // Another account's campaign is refused as if it did not exist.
    let r = browser
        .post_form(
            &format!("/console/accounts/{mine}/ad_groups"),
            &[
                ("csrf", &csrf),
                ("name", "G"),
                ("campaign_id", &their_campaign),
                ("billable_event", "IMPRESSION"),
                ("bid_in_micro_currency", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-campaign_id-error\""));

    // Another account's forms, and its objects, are out of reach.
    for uri in [
        format!("/console/accounts/{theirs}/campaigns/new"),
        format!("/console/accounts/{theirs}/campaigns/{their_campaign}"),
        format!("/console/accounts/{mine}/campaigns/{their_campaign}"),
    ] {
        let r = browser.get(&uri).await;
        assert!(
            matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{uri}: {}",
            r.status
        );
    }
    let r = browser
        .post_form(
            &format!("/console/accounts/{mine}/campaigns/{their_campaign}/status"),
            &[("csrf", &csrf), ("status", "PAUSED")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = browser
        .post_form(
            &format!("/console/accounts/{theirs}/campaigns/{their_campaign}/status"),
            &[("csrf", &csrf), ("status", "PAUSED")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api_list(&app, &theirs, "campaigns").await[0]["status"],
        "ACTIVE"
    );

    // A form without this browser's token changes nothing.
    let r = browser
        .post_form(
            &format!("/console/accounts/{mine}/campaigns"),
            &[
                ("csrf", "forged-forged-forged"),
                ("name", "Forged"),
                ("objective_type", "AWARENESS"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(api_list(&app, &mine, "campaigns").await.is_empty());

    // Signed out, a form leads to the sign-in page.
    let mut stranger = Browser::new(&app);
    stranger.get("/console").await;
    let their_csrf = stranger.csrf();
    let r = stranger
        .post_form(
            &format!("/console/accounts/{mine}/campaigns"),
            &[
                ("csrf", &their_csrf),
                ("name", "Sneaky"),
                ("objective_type", "AWARENESS"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(api_list(&app, &mine, "campaigns").await.is_empty());
}

#[tokio::test]
async fn a_changed_pin_is_a_new_pin_that_waits_for_review_in_manual_mode() {
    let app = App::with_config(|c| {
        c.engine.review = ReviewPolicy::new(ReviewMode::Manual, &[], &[], 5).unwrap();
    });
    let account = app.ad_account("Shoes Inc.").await;
    let (_, group) = campaign_and_group(&app, &account, "C").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Ad"),
        ("ad_group_id", group.as_str()),
        ("pin.title", "Shoe"),
        ("pin.link", "https://shoes.example"),
        ("pin.image_url", "https://shoes.example/shoe.png"),
    ];
    let r = post_multipart(
        &mut browser,
        &format!("/console/accounts/{account}/ads"),
        &fields,
        None,
    )
    .await;
    saved_to(&r, &account, "ads");
    let ad = api_list(&app, &account, "ads").await[0].clone();
    assert_eq!(ad["review_status"], "PENDING");
    let id = ad["id"].as_str().unwrap();
    app.admin(
        Method::POST,
        &format!("/v1/admin/ad_reviews/{id}"),
        Some(json!({"decision": "APPROVED"})),
    )
    .await;

    // The edit form shows the ad's review and its pin's fields.
    let r = browser
        .get(&format!("/console/accounts/{account}/ads/{id}"))
        .await;
    assert!(html(&r).contains("Approved"));
    assert!(html(&r).contains("value=\"https://shoes.example/shoe.png\""));

    // A new name keeps the pin and the review.
    fields[1] = ("name", "Renamed");
    fields.push(("status", "ACTIVE"));
    let uri = format!("/console/accounts/{account}/ads/{id}");
    let r = post_multipart(&mut browser, &uri, &fields, None).await;
    saved_to(&r, &account, "ads");
    let renamed = api_list(&app, &account, "ads").await[0].clone();
    assert_eq!(renamed["review_status"], "APPROVED");
    assert_eq!(renamed["pin_id"], ad["pin_id"]);

    // New words are a new pin, which waits for the operator.
    fields[3] = ("pin.title", "Miracle shoe");
    let r = post_multipart(&mut browser, &uri, &fields, None).await;
    saved_to(&r, &account, "ads");
    let changed = api_list(&app, &account, "ads").await[0].clone();
    assert_eq!(changed["review_status"], "PENDING");
    assert_ne!(changed["pin_id"], ad["pin_id"]);
}

/// The console's script normalizes every identifier as `adloom hash` does
/// (the core's `normalize_*`), run by Node.js over the same table.
#[test]
fn the_browser_normalizes_identifiers_as_adloom_hash_does() {
    use adloom_core::identifier::{normalize_email, normalize_maid, normalize_phone};
    let inputs = [
        " Alice@Example.COM ",
        "alice@example.com.",
        "@example.com",
        "a@b@c",
        "ÉLODIE@exemple.fr",
        "tab\t@x.com",
        "+1 (555) 010-9999",
        "0049 30 1234567",
        "1-800-FLOWERS",
        "12345",
        "{6D92078A-8246-4BA4-AE5B-76104861E7DC}",
        "6d92078a82464ba4ae5b76104861e7dc",
        "6d92078a-8246-4ba4-ae5b-76104861e7d",
        "00000000-0000-0000-0000-000000000000",
        "email",
    ];
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/console.js");
    let program = format!(
        "const m = await import({:?}); const inputs = {}; \
         console.log(JSON.stringify(inputs.map((i) => [m.normalizeEmail(i), m.normalizePhone(i), m.normalizeMaid(i)])));",
        format!("file://{}", script.display()),
        serde_json::to_string(&inputs).unwrap()
    );
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &program])
        .output()
        .expect("Node.js runs the console's script (install nodejs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let browser: Vec<(Option<String>, Option<String>, Option<String>)> =
        serde_json::from_slice(&out.stdout).unwrap();
    for (input, (email, phone, maid)) in inputs.iter().zip(browser) {
        assert_eq!(email, normalize_email(input).ok(), "email {input:?}");
        assert_eq!(phone, normalize_phone(input).ok(), "phone {input:?}");
        let rust_maid = match normalize_maid(input) {
            Ok(Some(m)) => Some(m.upper),
            Ok(None) => Some(String::new()),
            Err(_) => None,
        };
        assert_eq!(maid, rust_maid, "ad id {input:?}");
    }
}

/// The list page's script sends digests to the console with the session
/// and the page's CSRF token; the list matches people as the API's does,
/// and an audience made from it on the audience form reaches them.
#[tokio::test]
async fn a_customer_list_of_digests_becomes_an_audience_in_the_console() {
    use adloom_core::identifier::hash_email;
    let app = App::new();
    let people: Vec<Value> = (0..140)
        .map(|i| json!({"user_id": format!("p{i}"), "email": format!("person{i}@example.com"), "country": "US"}))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Garden Co.").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let r = browser
        .get(&format!("/console/accounts/{account}/customer_lists/new"))
        .await;
    assert!(html(&r).contains("/assets/console.js"));
    let script = browser.get("/assets/console.js").await;
    assert!(script.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let digests: Vec<String> = (0..140)
        .map(|i| {
            hash_email(&format!("person{i}@example.com"))
                .unwrap()
                .sha256
        })
        .collect();
    let first = json!({"name": "Buyers", "list_type": "EMAIL", "records": digests[..60].join(",")});
    let lists = format!("/console/accounts/{account}/customer_lists");
    // Without the page's token, nothing is made.
    let r = post_json(&mut browser, lists.clone(), first.clone(), None).await;
    crate::assert_error(&r, StatusCode::FORBIDDEN, 29);
    let r = post_json(&mut browser, lists.clone(), first, Some(&csrf)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let list = r.body["id"].as_str().unwrap().to_owned();
    let rest = json!({"records": digests[60..].join(",")});
    let r = post_json(
        &mut browser,
        format!("{lists}/{list}/records"),
        rest,
        Some(&csrf),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_uploaded_user_records"], 140);
    assert_eq!(r.body["num_batches"], 2);

    // The audience form: a refusal next to its field, then the audience.
    let audiences = format!("/console/accounts/{account}/audiences");
    let r = browser
        .post_form(
            &audiences,
            &[
                ("csrf", &csrf),
                ("name", ""),
                ("audience_type", "CUSTOMER_LIST"),
                ("rule.customer_list_id", &list),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-name-error\""), "{}", html(&r));
    let r = browser
        .post_form(
            &audiences,
            &[
                ("csrf", &csrf),
                ("name", "Buyers"),
                ("audience_type", "CUSTOMER_LIST"),
                ("rule.customer_list_id", &list),
                ("rule.event", ""),
                ("rule.url", ""),
                ("rule.retention_days", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let listed = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/audiences"),
            None,
        )
        .await;
    let audience = &listed.body["items"][0];
    assert_eq!(audience["audience_type"], "CUSTOMER_LIST");
    assert_eq!(audience["status"], "READY", "{audience}");

    // A visitor audience with a URL rule, from the same form.
    let tag = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "shop"})),
        )
        .await;
    let tag = tag.body["id"].as_str().unwrap().to_owned();
    let r = browser
        .post_form(
            &audiences,
            &[
                ("csrf", &csrf),
                ("name", "Shoe browsers"),
                ("audience_type", "VISITOR"),
                ("rule.visitor_source_id", &tag),
                ("rule.event", "page_visit"),
                ("rule.url", "/shoes"),
                ("rule.retention_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let listed = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/audiences"),
            None,
        )
        .await;
    let visitor = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["audience_type"] == "VISITOR")
        .unwrap()
        .clone();
    assert_eq!(visitor["rule"]["url"], json!(["contains:/shoes"]));
    assert_eq!(visitor["rule"]["retention_days"], 30);

    // Another account's lists are out of the script's reach.
    let theirs = app.ad_account("Other").await;
    let r = post_json(
        &mut browser,
        format!("/console/accounts/{theirs}/customer_lists"),
        json!({"name": "x", "records": digests[0]}),
        Some(&csrf),
    )
    .await;
    crate::assert_error(&r, StatusCode::FORBIDDEN, 29);
}

/// Posts JSON as the list page's script does, with the page's CSRF token.
async fn post_json(
    browser: &mut Browser<'_>,
    uri: String,
    body: Value,
    token: Option<&str>,
) -> Reply {
    let mut req = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header("x-csrf-token", t);
    }
    browser.send(req, Body::from(body.to_string())).await
}

/// The reach of the figure between `<strong>` and `</strong>`, if shown.
fn reach_shown(page: &str) -> Option<u64> {
    let (_, rest) = page.split_once("About <strong>")?;
    rest.split_once("</strong>")?.0.parse().ok()
}

#[tokio::test]
async fn the_reach_estimate_is_coarse_steady_and_never_under_100() {
    let app = App::new();
    let people: Vec<Value> = (0..250)
        .map(|i| json!({"user_id": format!("us{i}"), "country": "US"}))
        .chain((0..30).map(|i| json!({"user_id": format!("gb{i}"), "country": "GB"})))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Shoes Inc.").await;
    let campaign = crate::decisions::create(
        &app,
        &account,
        "campaigns",
        json!({"name": "C", "objective_type": "AWARENESS"}),
    )
    .await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let uri = format!("/console/accounts/{account}/ad_groups");
    let ask = |geo: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "G".to_owned()),
            ("campaign_id", campaign.clone()),
            ("billable_event", "IMPRESSION".to_owned()),
            ("bid_in_micro_currency", "1".to_owned()),
            ("targeting_spec.GEO", geo.to_owned()),
            ("action", "estimate".to_owned()),
        ]
    };
    let mut shown = Vec::new();
    for geo in ["US", "US", "GB"] {
        let fields = ask(geo);
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = browser.post_form(&uri, &refs).await;
        assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
        shown.push((
            reach_shown(html(&r)),
            html(&r).contains("Fewer than 100 people"),
        ));
    }
    let us = shown[0].0.expect("a figure for 250 people");
    assert!((200..=300).contains(&us), "{us}");
    assert_eq!(us % 10, 0, "two significant digits: {us}");
    assert_eq!(shown[1].0, Some(us), "asking again draws no new noise");
    assert_eq!(shown[2], (None, true), "30 people show as fewer than 100");
    // Estimating saves nothing.
    assert!(api_list(&app, &account, "ad_groups").await.is_empty());

    // A mistake in the targeting shows next to its field.
    let mut fields = ask("Atlantis");
    fields[5].1 = "Atlantis".to_owned();
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post_form(&uri, &refs).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-targeting_spec-GEO-error\""));
}

/// Pinterest's audience sizing over the API answers as Ads Manager's reach
/// estimate does: the same coarsened figure, as the range it stands for.
#[tokio::test]
async fn audience_sizing_over_the_api_is_the_reach_estimate_as_a_range() {
    let app = App::new();
    let people: Vec<Value> = (0..250)
        .map(|i| json!({"user_id": format!("us{i}"), "country": "US"}))
        .chain((0..30).map(|i| json!({"user_id": format!("gb{i}"), "country": "GB"})))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Shoes Inc.").await;
    let other = app.ad_account("Other").await;
    let token = app.token(&[&account]).await;
    let size = |spec: Value| {
        let (app, token, account) = (&app, &token, &account);
        async move {
            app.call(
                Method::POST,
                &format!("/v5/ad_accounts/{account}/ad_groups/audience_sizing"),
                Some(token),
                Some(json!({"targeting_spec": spec, "auto_targeting_enabled": false})),
            )
            .await
        }
    };
    let us = size(json!({"GEO": ["US"]})).await;
    assert_eq!(us.status, StatusCode::OK, "{:?}", us.body);
    let lower = us.body["audience_size_lower_bound"].as_u64().unwrap();
    let upper = us.body["audience_size_upper_bound"].as_u64().unwrap();
    assert!((200..=300).contains(&lower) && lower % 10 == 0, "{lower}");
    assert_eq!(upper, lower + 10, "the range of two significant digits");
    // The console shows the same figure for the same people.
    let mut browser = signed_in(&app, &account).await;
    let campaign = crate::decisions::create(
        &app,
        &account,
        "campaigns",
        json!({"name": "C", "objective_type": "AWARENESS"}),
    )
    .await;
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            &format!("/console/accounts/{account}/ad_groups"),
            &[
                ("csrf", &csrf),
                ("name", "G"),
                ("campaign_id", &campaign),
                ("billable_event", "IMPRESSION"),
                ("bid_in_micro_currency", "1"),
                ("targeting_spec.GEO", "US"),
                ("action", "estimate"),
            ],
        )
        .await;
    assert_eq!(reach_shown(html(&r)), Some(lower));
    // Too few people: the range up to the floor, whoever they are.
    let gb = size(json!({"GEO": ["GB"]})).await;
    assert_eq!(
        (
            &gb.body["audience_size_lower_bound"],
            &gb.body["audience_size_upper_bound"]
        ),
        (&json!(0), &json!(100))
    );
    // Another account's audience, or a malformed targeting: refused.
    let theirs = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{other}/audiences"),
            Some(json!({"name": "Theirs", "audience_type": "ENGAGEMENT", "rule": {"engagement_domain": ["shoes.example"]}})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{:?}", theirs.body);
    let theirs = theirs.body["id"].as_str().unwrap();
    let r = size(json!({"AUDIENCE_EXCLUDE": [theirs]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("no audience"),
        "{:?}",
        r.body
    );
    let r = size(json!({"GEO": "US"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // Only with a token for the account.
    let r = app
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{other}/ad_groups/audience_sizing"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_advertiser_sees_hides_and_reports_only_as_coarse_counts() {
    let app = App::new();
    let people: Vec<Value> = (0..14)
        .map(|i| json!({"user_id": format!("p{i}"), "country": "US"}))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Shoes Inc.").await;
    let (_, _, ad) = shoe_ad(&app, &account, "C").await;
    for i in 0..13 {
        let r = app
            .admin(
                Method::POST,
                &format!("/v1/people/p{i}/hidden_ads"),
                Some(json!({"ad_id": ad, "scope": "ad"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for i in 0..3 {
        app.admin(
            Method::POST,
            &format!("/v1/people/p{i}/ad_reports"),
            Some(json!({"ad_id": ad, "reason": "spam"})),
        )
        .await;
    }
    let mut browser = signed_in(&app, &account).await;
    let page = browser.get(&format!("/console/accounts/{account}")).await;
    let row = html(&page)
        .split("<tr>")
        .find(|row| row.contains("Shoe ad"))
        .and_then(|row| row.split("<a href").next())
        .unwrap()
        .to_owned();
    assert!(row.contains("<td>10+ people</td>"), "{row}");
    assert!(row.contains("<td>fewer than 10</td>"), "{row}");
    for exact in ["13", "p0", "p1"] {
        assert!(!row.contains(exact), "{exact} in {row}");
    }
}

#[tokio::test]
async fn a_tag_is_made_installed_and_its_test_events_show_as_they_arrive() {
    let app = App::new();
    let account = app.ad_account("Shoes Inc.").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let tags = format!("/console/accounts/{account}/tags");
    let r = browser
        .post_form(
            &tags,
            &[
                ("csrf", &csrf),
                ("name", "Shop"),
                ("adloom_allowed_domains", "not a host!"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("adloom_allowed_domains"), "{}", html(&r));
    let r = browser
        .post_form(
            &tags,
            &[
                ("csrf", &csrf),
                ("name", "Shop"),
                ("adloom_allowed_domains", "shop.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let page_path = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let tag = page_path.rsplit('/').next().unwrap().to_owned();
    let page = browser.get(&page_path).await;
    assert!(html(&page).contains("/tag/core.js"), "the snippet");
    assert!(html(&page).contains("No events yet"));

    // A page visit from the shop arrives in the test events.
    let pixel = Request::get(format!(
        "/v3/?tid={tag}&event=pagevisit&ad%5Bloc%5D=https%3A%2F%2Fshop.example%2Fshoes"
    ))
    .header("origin", "https://shop.example")
    .body(Body::empty())
    .unwrap();
    assert_eq!(app.send(pixel).await.status, StatusCode::OK);
    let rows = browser.get(&format!("{page_path}/events")).await;
    assert_eq!(rows.status, StatusCode::OK);
    assert!(
        html(&rows).contains("https://shop.example/shoes"),
        "{}",
        html(&rows)
    );

    // The allowed sites change from the page, through the API's code.
    let r = browser
        .post_form(
            &page_path,
            &[
                ("csrf", &csrf),
                ("adloom_allowed_domains", "shop.example, shoes.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let api = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/conversion_tags/{tag}"),
            None,
        )
        .await;
    assert_eq!(
        api.body["adloom_allowed_domains"],
        json!(["shop.example", "shoes.example"])
    );

    // Another account's tag is out of reach.
    let theirs = app.ad_account("Other").await;
    let mut other = signed_in(&app, &theirs).await;
    let r = other
        .get(&format!("/console/accounts/{theirs}/tags/{tag}/events"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reports_take_a_range_and_columns_and_download_as_csv() {
    let app = App::new();
    app.upsert(json!([{"user_id": "p1", "country": "US"}]))
        .await;
    let account = app.ad_account("Shoes Inc.").await;
    let (campaign, _, _) = shoe_ad(&app, &account, "Spring, \"new\"").await;
    let d = decide(&app, json!({"user_id": "p1", "placement": "home_feed"})).await;
    crate::decisions::fire(&app, &d["ads"][0]["impression_url"]).await;

    let mut browser = signed_in(&app, &account).await;
    let base = format!("/console/accounts/{account}/reports");
    let r = browser.get(&base).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert!(page.contains("Spring, &quot;new&quot;"), "{page}");
    assert!(page.contains("<svg"), "a chart of the range");

    let today = adloom_core::report::format_date(app.now().div_euclid(86_400));
    let csv_path = format!(
        "{base}.csv?from={today}&to={today}&level=campaign&columns=IMPRESSION_1&columns=SPEND_IN_DOLLAR"
    );
    let r = browser.get(&csv_path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(r.bytes.to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Name,Id,Impressions,Spend"));
    // Alone in the auction, the impression pays the reserve: 0.50 CPM.
    assert_eq!(
        lines.next(),
        Some(format!("\"Spring, \"\"new\"\"\",{campaign},1,0.0005").as_str())
    );

    let r = browser
        .get(&format!("{base}?from=2026-12-31&to=2026-01-01"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("must not be before the start"));

    let theirs = app.ad_account("Other").await;
    let r = browser
        .get(&format!("/console/accounts/{theirs}/reports.csv"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_ad_groups_keywords_are_a_list_on_its_form() {
    let app = App::new();
    let account = app.ad_account("Shoes Inc.").await;
    let campaign = crate::decisions::create(
        &app,
        &account,
        "campaigns",
        json!({"name": "C", "objective_type": "AWARENESS"}),
    )
    .await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let group = |keywords: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Search".to_owned()),
            ("campaign_id", campaign.clone()),
            ("billable_event", "CLICKTHROUGH".to_owned()),
            ("bid_in_micro_currency", "1".to_owned()),
            ("placement_group", "SEARCH".to_owned()),
            ("keywords", keywords.to_owned()),
        ]
    };
    let uri = format!("/console/accounts/{account}/ad_groups");

    // A bad line is refused next to the list; nothing is stored.
    let fields = group("running shoes\n-free");
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post_form(&uri, &refs).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("id=\"f-keywords-error\""), "{}", html(&r));
    assert!(api_list(&app, &account, "ad_groups").await.is_empty());

    let fields = group("running shoes\n\"trail shoes\"\n[red runner]\n-[free shoes]");
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post_form(&uri, &refs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let id = api_list(&app, &account, "ad_groups").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        active_keywords(&app, &account, &id).await,
        [
            "BROAD running shoes",
            "EXACT red runner",
            "EXACT_NEGATIVE free shoes",
            "PHRASE trail shoes"
        ]
    );
    let form = browser
        .get(&format!("/console/accounts/{account}/ad_groups/{id}"))
        .await;
    assert!(html(&form).contains("[red runner]"), "the list on the form");

    // A line taken out archives its keyword.
    let mut fields = group("running shoes\n[red runner]");
    fields.push(("status", "ACTIVE".to_owned()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.post_form(&format!("{uri}/{id}"), &refs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    assert_eq!(
        active_keywords(&app, &account, &id).await,
        ["BROAD running shoes", "EXACT red runner"]
    );
}

/// The ad group's keywords in use, as "MATCH_TYPE value", sorted.
async fn active_keywords(app: &App, account: &str, group: &str) -> Vec<String> {
    let r = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/keywords?ad_group_id={group}"),
            None,
        )
        .await;
    let mut active: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["archived"] != true)
        .map(|k| {
            format!(
                "{} {}",
                k["match_type"].as_str().unwrap(),
                k["value"].as_str().unwrap()
            )
        })
        .collect();
    active.sort();
    active
}

/// A campaign of `account` named `name`, with one ad group bidding 1.00 CPM.
pub(crate) async fn campaign_and_group(app: &App, account: &str, name: &str) -> (String, String) {
    let campaign = crate::decisions::create(
        app,
        account,
        "campaigns",
        json!({"name": name, "objective_type": "AWARENESS"}),
    )
    .await;
    let group = crate::decisions::create(
        app,
        account,
        "ad_groups",
        json!({"name": "G", "campaign_id": campaign, "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000}),
    )
    .await;
    (campaign, group)
}

/// [`campaign_and_group`] with a pin and an ad, "Shoe ad", made through the
/// API: (campaign, ad group, ad).
pub(crate) async fn shoe_ad(app: &App, account: &str, campaign: &str) -> (String, String, String) {
    let (campaign, group) = campaign_and_group(app, account, campaign).await;
    let pin = app
        .admin(
            Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            Some(json!({"title": "Shoe", "link": "https://shoes.example", "media_source": {"source_type": "image_url", "url": "https://shoes.example/s.png"}})),
        )
        .await;
    let ad = crate::decisions::create(
        app,
        account,
        "ads",
        json!({"ad_group_id": group, "pin_id": pin.body["id"], "name": "Shoe ad"}),
    )
    .await;
    (campaign, group, ad)
}

/// The advertiser's host, as the operator's image fetcher would reach it:
/// one image, one page that is not an image, and nothing else.
struct AdvertiserHost;

#[async_trait::async_trait]
impl adloom_engine::media::ImageFetcher for AdvertiserHost {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        match url {
            "https://shoes.example/shoe.png" => Ok(png(30, 20)),
            "https://shoes.example/index.html" => Ok(b"<html>".to_vec()),
            _ => Err("the host answered 404 Not Found".into()),
        }
    }
}

#[tokio::test]
async fn with_fetch_pin_images_a_pins_image_is_fetched_checked_and_served_by_adloom() {
    let app =
        App::with_engine(|engine| engine.with_image_fetcher(std::sync::Arc::new(AdvertiserHost)));
    let account = app.ad_account("Shoes Inc.").await;
    let token = app.token(&[&account]).await;
    let pin = |url: &str| {
        json!({"title": "Shoe", "link": "https://shoes.example",
               "media_source": {"source_type": "image_url", "url": url}})
    };
    let uri = format!("/v5/pins?ad_account_id={account}");

    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&token),
            Some(pin("https://shoes.example/shoe.png")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let served = r.body["media"]["images"]["originals"]["url"]
        .as_str()
        .unwrap();
    let (_, id) = served.split_once("/media/").expect("adloom's own copy");
    let image = app
        .call(Method::GET, &format!("/media/{id}"), None, None)
        .await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
    let decoded = image::load_from_memory(&image.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (30, 20));

    // A pin that names adloom's copy keeps it, without fetching again.
    let again = app
        .call(Method::POST, &uri, Some(&token), Some(pin(served)))
        .await;
    assert_eq!(again.body["media"]["images"]["originals"]["url"], served);

    // What cannot be fetched, or is not an image, is refused with why,
    // and no pin is made.
    let pins_before = app
        .store
        .list_objects(adloom_core::object::ObjectKind::Pin, &account)
        .await
        .unwrap()
        .len();
    for (url, message) in [
        (
            "https://shoes.example/gone.png",
            "media_source.url: could not be fetched: the host answered 404 Not Found",
        ),
        (
            "https://shoes.example/index.html",
            "media_source.url: the image must be a PNG, JPEG or WebP image",
        ),
    ] {
        let r = app
            .call(Method::POST, &uri, Some(&token), Some(pin(url)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(r.body["message"], message, "{url}");
    }
    let pins_after = app
        .store
        .list_objects(adloom_core::object::ObjectKind::Pin, &account)
        .await
        .unwrap()
        .len();
    assert_eq!(pins_before, pins_after);

    // In Ads Manager, the refusal shows next to the image's field.
    let (_, group) = campaign_and_group(&app, &account, "C").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let r = post_multipart(
        &mut browser,
        &format!("/console/accounts/{account}/ads"),
        &[
            ("csrf", csrf.as_str()),
            ("name", "Ad"),
            ("ad_group_id", group.as_str()),
            ("pin.title", "Shoe"),
            ("pin.link", "https://shoes.example"),
            ("pin.image_url", "https://shoes.example/gone.png"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("could not be fetched: the host answered 404 Not Found"));
}

#[tokio::test]
async fn audiences_and_lists_are_edited_in_the_console_changing_only_what_was_changed() {
    use adloom_core::identifier::hash_email;
    let app = App::new();
    let account = app.ad_account("Garden Co.").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let tag = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "shop"})),
        )
        .await;
    let tag = tag.body["id"].as_str().unwrap().to_owned();
    // Made through the API, with a rule part the form does not show.
    let made = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(json!({"name": "Shoe browsers", "audience_type": "VISITOR", "description": "From the shop",
                        "rule": {"visitor_source_id": tag, "event": "pagevisit", "retention_days": 30,
                                 "url": {"contains": ["/shoes"]}, "ingestion_source": {"=": "tag"}}})),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let edit = format!("/console/accounts/{account}/audiences/{id}");
    let api = format!("/v5/ad_accounts/{account}/audiences/{id}");

    let r = browser.get(&edit).await;
    assert_eq!(r.status, StatusCode::OK);
    for shown in [
        "value=\"Shoe browsers\"",
        "value=\"/shoes\"",
        "value=\"30\"",
        "Remove audience",
    ] {
        assert!(html(&r).contains(shown), "{shown}");
    }
    assert!(
        !html(&r).contains("f-audience_type"),
        "the type cannot change"
    );

    let form = |name: &'static str, url: &'static str, days: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", name.to_owned()),
            ("description", "From the shop".to_owned()),
            ("rule.visitor_source_id", tag.clone()),
            ("rule.event", "page_visit".to_owned()),
            ("rule.url", url.to_owned()),
            ("rule.retention_days", days.to_owned()),
        ]
    };
    let before = app.admin(Method::GET, &api, None).await.body;

    // A rename keeps the rule as it was, parts the form does not show too.
    let r = post_pairs(&mut browser, &edit, form("Shoe lovers", "/shoes", "30")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let renamed = app.admin(Method::GET, &api, None).await.body;
    assert_eq!(renamed["name"], "Shoe lovers");
    assert_eq!(renamed["rule"], before["rule"]);

    // A new page rule changes that part only.
    let r = post_pairs(&mut browser, &edit, form("Shoe lovers", "/boots", "30")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let moved = app.admin(Method::GET, &api, None).await.body;
    assert_eq!(moved["rule"]["url"], json!(["contains:/boots"]));
    assert_eq!(
        moved["rule"]["ingestion_source"],
        before["rule"]["ingestion_source"]
    );
    assert_eq!(moved["rule"]["retention_days"], 30);

    // The API's refusal shows next to its field, and nothing changes.
    let r = post_pairs(&mut browser, &edit, form("Shoe lovers", "/boots", "9999")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        html(&r).contains("id=\"f-rule-retention_days-error\""),
        "{}",
        html(&r)
    );
    assert_eq!(app.admin(Method::GET, &api, None).await.body, moved);

    // Another account's audience is not this session's to see or change.
    let theirs = app.ad_account("Other").await;
    let r = browser
        .get(&format!("/console/accounts/{theirs}/audiences/{id}"))
        .await;
    assert_ne!(r.status, StatusCode::OK);

    // Removed, it is gone from the API's list.
    let r = browser
        .post_form(&format!("{edit}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let listed = app
        .admin(
            Method::GET,
            &format!("/v5/ad_accounts/{account}/audiences"),
            None,
        )
        .await;
    assert_eq!(listed.body["items"], json!([]));

    // A list's page takes people off it, as digests, with the page's token.
    let digests: Vec<String> = (0..20)
        .map(|i| {
            hash_email(&format!("person{i}@example.com"))
                .unwrap()
                .sha256
        })
        .collect();
    let lists = format!("/console/accounts/{account}/customer_lists");
    let r = post_json(
        &mut browser,
        lists.clone(),
        json!({"name": "Buyers", "list_type": "EMAIL", "records": digests.join(",")}),
        Some(&csrf),
    )
    .await;
    let list = r.body["id"].as_str().unwrap().to_owned();
    let r = browser.get(&format!("{lists}/{list}")).await;
    assert!(html(&r).contains("Take them off the list"));
    assert!(html(&r).contains(&format!("data-list=\"{list}\"")));
    let r = post_json(
        &mut browser,
        format!("{lists}/{list}/records"),
        json!({"records": digests[..5].join(","), "operation_type": "REMOVE"}),
        Some(&csrf),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_removed_user_records"], 5);
}

async fn post_pairs(browser: &mut Browser<'_>, uri: &str, fields: Vec<(&str, String)>) -> Reply {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post_form(uri, &pairs).await
}
