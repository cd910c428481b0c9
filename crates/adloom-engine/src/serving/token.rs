//! What a beacon token carries, before it is sealed: a [`Beacon`] packed
//! small, since every decision seals two tokens an ad and sends them in
//! its answer (`serving::tokens`).
//!
//! Two payloads open:
//! - **packed** (served since 2026-12-07): a version byte, then postcard
//!   (varints, no field names). Ids that are decimal numbers, as adloom's
//!   are, travel as integers, the decision id as its 16 bytes, and only
//!   the click's token carries the landing page. On the bench world an
//!   impression's token is 136 characters and a click's 178, where both
//!   were 299.
//! - **JSON**: an array of the fields in order, what tokens carried
//!   before. A click token never expires as a way to the landing page, so
//!   these keep opening.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Beacon;

/// The packed payload's first byte. A JSON payload starts with `[`.
const PACKED_V1: u8 = 1;

/// A beacon as packed. `Cow`s let a token be written from the beacon's
/// strings without copying them.
#[derive(Serialize, Deserialize)]
struct Packed<'a> {
    decision: Id<'a>,
    ad: Id<'a>,
    ad_group: Id<'a>,
    campaign: Id<'a>,
    ad_account: Id<'a>,
    person: Option<Cow<'a, str>>,
    price_micros: u64,
    per_click: bool,
    click_id_allowed: bool,
    issued_at: i64,
    /// The click's token only: an impression leads nowhere.
    landing: Option<Cow<'a, str>>,
}

/// An id, in the fewest bytes that give back the same text.
#[derive(Serialize, Deserialize)]
enum Id<'a> {
    /// A decimal number without leading zeros (adloom's object ids).
    Number(u64),
    /// URL-safe unpadded base64 of 16 bytes (decision ids).
    Random([u8; 16]),
    Text(Cow<'a, str>),
}

impl<'a> Id<'a> {
    fn of(text: &'a str) -> Id<'a> {
        if let Some(n) = decimal(text) {
            return Id::Number(n);
        }
        if text.len() == 22 {
            // 22 characters hold 16 bytes and 4 bits, which decoding
            // checks are zero; room for 18 is what it asks for.
            let mut bytes = [0u8; 18];
            let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            if let Ok(16) = base64.decode_slice(text, &mut bytes) {
                let mut random = [0u8; 16];
                random.copy_from_slice(&bytes[..16]);
                return Id::Random(random);
            }
        }
        Id::Text(Cow::Borrowed(text))
    }

    fn text(self) -> String {
        match self {
            Id::Number(n) => n.to_string(),
            Id::Random(bytes) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            Id::Text(text) => text.into_owned(),
        }
    }
}

/// The number `text` writes in decimal, when it is one written the
/// only way a number is ("007" and "+7" would not come back as they were).
fn decimal(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1);
    well_formed.then(|| text.parse().ok()).flatten()
}

/// The payloads to seal in the impression's token and in the click's.
pub(super) fn pack<S: AsRef<str>>(beacon: &Beacon<S>) -> (Vec<u8>, Vec<u8>) {
    let mut packed = Packed {
        decision: Id::of(beacon.d.as_ref()),
        ad: Id::of(beacon.a.as_ref()),
        ad_group: Id::of(beacon.g.as_ref()),
        campaign: Id::of(beacon.c.as_ref()),
        ad_account: Id::of(beacon.acc.as_ref()),
        person: beacon.u.as_ref().map(|u| Cow::Borrowed(u.as_ref())),
        price_micros: beacon.p,
        per_click: beacon.cpc,
        click_id_allowed: beacon.e,
        issued_at: beacon.t,
        landing: None,
    };
    let impression = write(&packed);
    packed.landing = Some(Cow::Borrowed(beacon.l.as_ref()));
    (impression, write(&packed))
}

fn write(packed: &Packed<'_>) -> Vec<u8> {
    // Room for adloom's own ids, the other fields and the strings.
    let strings = packed.person.as_deref().map_or(0, str::len)
        + packed.landing.as_deref().map_or(0, str::len);
    let mut payload = Vec::with_capacity(128 + strings);
    payload.push(PACKED_V1);
    postcard::to_extend(packed, payload).unwrap_or_default()
}

/// The beacon an opened payload holds, packed or JSON; `None` for neither.
pub(super) fn unpack(payload: &[u8]) -> Option<Beacon> {
    match payload.split_first()? {
        (&PACKED_V1, packed) => {
            let p: Packed = postcard::from_bytes(packed).ok()?;
            Some(Beacon {
                d: p.decision.text(),
                a: p.ad.text(),
                g: p.ad_group.text(),
                c: p.campaign.text(),
                acc: p.ad_account.text(),
                u: p.person.map(Cow::into_owned),
                p: p.price_micros,
                cpc: p.per_click,
                l: p.landing.map(Cow::into_owned).unwrap_or_default(),
                e: p.click_id_allowed,
                t: p.issued_at,
            })
        }
        _ => serde_json::from_slice(payload).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beacon(ids: [&str; 5], person: Option<&str>) -> Beacon {
        Beacon {
            d: ids[0].into(),
            a: ids[1].into(),
            g: ids[2].into(),
            c: ids[3].into(),
            acc: ids[4].into(),
            u: person.map(Into::into),
            p: 2_999_355,
            cpc: true,
            l: "https://shop.example/shoes?size=42".into(),
            e: true,
            t: 1_765_130_000,
        }
    }

    /// Every field, as text, to compare beacons.
    fn fields(b: &Beacon) -> String {
        format!(
            "{} {} {} {} {} {:?} {} {} {} {} {}",
            b.d, b.a, b.g, b.c, b.acc, b.u, b.p, b.cpc, b.l, b.e, b.t
        )
    }

    /// A beacon with ids as adloom makes them (a decision id of 16 random
    /// bytes, numeric object ids).
    fn adlooms_own(person: &str) -> Beacon {
        beacon(
            [
                "0ca16khUl4Kr9qlw2rTEnQ",
                "717707839372607428",
                "675419666735694659",
                "513917426636669025",
                "969784403007866620",
            ],
            Some(person),
        )
    }

    /// The payload as tokens carried it before they were packed.
    fn as_json(b: &Beacon) -> Vec<u8> {
        serde_json::to_vec(&(
            &b.d, &b.a, &b.g, &b.c, &b.acc, &b.u, b.p, b.cpc, &b.l, b.e, b.t,
        ))
        .unwrap()
    }

    #[test]
    fn a_packed_click_gives_back_every_field_and_an_impression_all_but_the_landing_page() {
        let cases = [
            adlooms_own("u7"),
            // ids that only text keeps as they are
            beacon(["d-1", "007", "+7", "", "18446744073709551616"], None),
            beacon(["a".repeat(22).as_str(), "0", "-1", "1e3", "ünï"], Some("")),
            // the largest numbers, at 19 digits and at 20
            beacon(
                [
                    "0",
                    "9999999999999999999",
                    "18446744073709551615",
                    "1",
                    "10",
                ],
                Some("u1"),
            ),
        ];
        for b in &cases {
            let (impression, click) = pack(b);
            let click = unpack(&click).expect("a click token opens");
            assert_eq!(fields(&click), fields(b));
            let impression = unpack(&impression).expect("an impression token opens");
            assert_eq!(impression.l, "");
            assert_eq!(
                fields(&Beacon {
                    l: b.l.clone(),
                    ..impression
                }),
                fields(b)
            );
        }
    }

    #[test]
    fn payloads_written_as_json_before_still_open() {
        let b = adlooms_own("u7");
        let json = as_json(&b);
        assert_eq!(fields(&unpack(&json).unwrap()), fields(&b));
        assert!(unpack(b"").is_none());
        assert!(unpack(&[PACKED_V1, 0xff]).is_none());
        assert!(unpack(&[7, 1, 2]).is_none());
    }

    #[test]
    fn packed_payloads_are_well_under_the_json_ones() {
        let b = adlooms_own("u123456");
        let json = as_json(&b);
        let (impression, click) = pack(&b);
        assert!(
            impression.len() * 2 < json.len(),
            "{} of {}",
            impression.len(),
            json.len()
        );
        assert!(
            click.len() * 3 < json.len() * 2,
            "{} of {}",
            click.len(),
            json.len()
        );
    }
}
