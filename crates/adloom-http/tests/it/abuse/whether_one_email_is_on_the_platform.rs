//! Finding 2: the console's tag table had a "Matched a person" column,
//! exact and per event, that said yes even for a person who switched "Use
//! info from our ad partners" to No: one pixel with a target's email told
//! an advertiser whether the target is on the platform. Everything an
//! advertiser sees that depends on who is on the platform goes through the
//! disclosure policy (`adloom_core::disclosure`).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use super::{console_page, Advertiser};
use crate::App;

fn em(email: &str) -> String {
    adloom_core::identifier::hash_email(email).unwrap().sha256
}

async fn pixels(app: &App, tag: &str, email: &str, n: usize) {
    for i in 0..n {
        let uri = format!(
            "/v3/?tid={tag}&event=pagevisit&ed[event_id]={email}-{i}&pd[em]={}&ad[loc]=https%3A%2F%2Fshoes.example%2F",
            em(email)
        );
        let r = app
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

/// The match rate the console shows, in percent.
fn match_rate(page: &str) -> Option<u64> {
    let at = page.find("Matched to people on the platform: ")?;
    let rest = &page[at + "Matched to people on the platform: ".len()..];
    rest.split('–').next()?.parse().ok()
}

#[tokio::test]
async fn one_pixel_does_not_tell_whether_an_email_is_on_the_platform() {
    let app = App::new();
    let people = json!([
        {"user_id": "target", "email": "target@example.com", "country": "US"},
        {"user_id": "opted-out", "email": "no@example.com", "country": "US"}
    ]);
    assert_eq!(app.upsert(people).await.status, StatusCode::OK);
    let r = app
        .admin(
            Method::PUT,
            "/v1/people/opted-out/ads_settings",
            Some(json!({"use_partner_info": false, "source": "settings_page"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let a = Advertiser::new(&app, "Snoop").await;
    let tag = a.tag(&app).await;

    // The probe: one pixel with the target's email, one with a stranger's.
    pixels(&app, &tag, "target@example.com", 1).await;
    pixels(&app, &tag, "stranger@example.com", 1).await;
    let page = console_page(&app, &a.token).await;
    assert!(!page.contains("Matched a person"), "{page}");
    assert!(page.contains("The match rate shows once the tag has sent 100 events"));
    assert_eq!(match_rate(&page), None);
    // The two rows read alike: the event and the page, nothing of a person.
    assert_eq!(page.matches("<td>page_visit</td>").count(), 2, "{page}");
    assert!(!page.contains(">yes<") && !page.contains(">no<"));

    // Past 100 events, a coarse rate, in which a person whose partner
    // setting is off counts as no match at all.
    pixels(&app, &tag, "no@example.com", 120).await;
    let rate = match_rate(&console_page(&app, &a.token).await).unwrap();
    assert!(
        rate <= 20,
        "the opted-out person counts as unmatched: {rate}%"
    );
    assert_eq!(rate % 10, 0);
}
