use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::consent::{decide, ConsentInputs, OnPlatformSource};
use crate::region::RegionDefault;

const VISITORS: &str = "100";
const BUYERS: &str = "200";
const TAG: Provenance = Provenance::Partner(PartnerSource::Tag);

fn consent(use_partner_info: Option<bool>) -> ConsentDecision {
    decide(&ConsentInputs::person(use_partner_info, RegionDefault::On))
}

/// A `targeting_spec` as sent, written as JSON.
pub(crate) fn sent(v: serde_json::Value) -> AsSent {
    serde_json::from_value(v).unwrap()
}

fn spec(v: serde_json::Value) -> TargetingSpec {
    TargetingSpec::parse(&sent(v)).unwrap()
}

fn member_of<'a>(ids: &'a [&'a str]) -> impl Fn(&str) -> AudienceFact + 'a {
    move |id| {
        if ids.contains(&id) {
            AudienceFact::Member(TAG)
        } else {
            AudienceFact::NotMember
        }
    }
}

/// The help page's example, at the targeting level: shoe-page visitors who
/// did not buy.
#[test]
fn the_shoe_example() {
    let shoes = spec(json!({"AUDIENCE_INCLUDE": [VISITORS], "AUDIENCE_EXCLUDE": [BUYERS]}));
    let viewer = Viewer::default();
    let looked = shoes.evaluate(&viewer, &consent(None), member_of(&[VISITORS]));
    assert_eq!(looked, Ok(vec![WhyReason::Audience(TAG)]));
    assert_eq!(
        looked.unwrap()[0].text("Shoes Inc."),
        "Shoes Inc. wants to reach people who visited their website"
    );
    assert_eq!(
        shoes.evaluate(&viewer, &consent(None), member_of(&[VISITORS, BUYERS])),
        Err(Miss::Excluded)
    );
    assert_eq!(
        shoes.evaluate(&viewer, &consent(None), member_of(&[])),
        Err(Miss::NotTargeted)
    );
    // After "Use info from our ad partners" is switched to No: as if no
    // partner data existed.
    assert_eq!(
        shoes.evaluate(&viewer, &consent(Some(false)), member_of(&[VISITORS])),
        Err(Miss::Consent)
    );
    let exclude_only = spec(json!({"AUDIENCE_EXCLUDE": [BUYERS]}));
    assert_eq!(
        exclude_only.evaluate(&viewer, &consent(Some(false)), member_of(&[BUYERS])),
        Ok(vec![WhyReason::Everyone]),
        "a partner audience excludes no one who said No"
    );
}

#[test]
fn small_audiences_count_for_no_one() {
    let s = spec(json!({"AUDIENCE_INCLUDE": [VISITORS], "AUDIENCE_EXCLUDE": [BUYERS]}));
    let small = |_: &str| AudienceFact::TooSmall;
    assert_eq!(
        s.evaluate(&Viewer::default(), &consent(None), small),
        Err(Miss::AudienceTooSmall)
    );
    let exclude = spec(json!({"AUDIENCE_EXCLUDE": [BUYERS]}));
    assert!(exclude
        .evaluate(&Viewer::default(), &consent(None), small)
        .is_ok());
}

#[test]
fn on_platform_audiences_do_not_need_partner_consent() {
    let s = spec(json!({"AUDIENCE_INCLUDE": ["300"]}));
    let engaged =
        |_: &str| AudienceFact::Member(Provenance::OnPlatform(OnPlatformSource::Engagement));
    let why = s
        .evaluate(&Viewer::default(), &consent(Some(false)), engaged)
        .unwrap();
    assert_eq!(why[0].kind(), "engagement");
    assert!(!why[0].is_partner());
}

#[test]
fn demographic_criteria_and_their_reasons() {
    let s = spec(json!({
        "INTEREST": ["Running", "travel"], "LOCATION": ["us", "DE"], "GENDER": ["female"],
        "AGE_BUCKET": ["25-34"], "APPTYPE": ["iphone"], "LOCALE": ["en-US"], "unknown_key": ["1"]
    }));
    let viewer = Viewer {
        interests: vec!["running".into()],
        gender: Some(Gender::Female),
        age: Some(30),
        country: Country::parse("US"),
        app_type: Some("iphone".into()),
        locale: Some("en-GB".into()),
    };
    let why = s.evaluate(&viewer, &consent(None), member_of(&[])).unwrap();
    let texts: Vec<String> = why.iter().map(|w| w.text("Runners Co")).collect();
    assert_eq!(
        texts,
        [
            "Runners Co wants to reach people interested in Running",
            "Runners Co wants to reach people in the United States",
            "Runners Co wants to reach women",
            "Runners Co wants to reach people aged 25-34",
            "Runners Co wants to reach people using iphone",
            "Runners Co wants to reach people who use the language en",
        ]
    );
    for (patch, name) in [
        (
            Viewer {
                interests: vec!["cooking".into()],
                ..viewer.clone()
            },
            "interest",
        ),
        (
            Viewer {
                country: Country::parse("FR"),
                ..viewer.clone()
            },
            "country",
        ),
        (
            Viewer {
                country: None,
                ..viewer.clone()
            },
            "no country",
        ),
        (
            Viewer {
                gender: None,
                ..viewer.clone()
            },
            "gender unknown",
        ),
        (
            Viewer {
                age: Some(40),
                ..viewer.clone()
            },
            "age",
        ),
        (
            Viewer {
                age: None,
                ..viewer.clone()
            },
            "no age",
        ),
        (
            Viewer {
                app_type: None,
                ..viewer.clone()
            },
            "web",
        ),
        (
            Viewer {
                locale: Some("fr-FR".into()),
                ..viewer.clone()
            },
            "locale",
        ),
    ] {
        assert_eq!(
            s.evaluate(&patch, &consent(None), member_of(&[])),
            Err(Miss::NotTargeted),
            "{name}"
        );
    }
    assert_eq!(
        spec(json!({})).evaluate(&Viewer::default(), &consent(None), member_of(&[])),
        Ok(vec![WhyReason::Everyone])
    );
}

#[test]
fn parse_refuses_what_it_cannot_serve_by() {
    for (bad, field) in [
        (json!({"GENDER": ["robot"]}), "targeting_spec.GENDER"),
        (
            json!({"AGE_BUCKET": ["13-17"]}),
            "targeting_spec.AGE_BUCKET",
        ),
        (json!({"APPTYPE": ["fridge"]}), "targeting_spec.APPTYPE"),
        (json!({"LOCATION": ["ZZ"]}), "targeting_spec.LOCATION"),
        (
            json!({"AUDIENCE_INCLUDE": ["abc"]}),
            "targeting_spec.AUDIENCE_INCLUDE",
        ),
        (json!({"LOCALE": ["english"]}), "targeting_spec.LOCALE"),
    ] {
        assert_eq!(
            TargetingSpec::parse(&sent(bad.clone())).unwrap_err().field,
            field,
            "{bad}"
        );
    }
    let s = spec(
        json!({"AUDIENCE_INCLUDE": ["1"], "INTEREST": ["Shoes"], "GEO": [" US-94107", "BE-VOV"], "GENDER": ["MALE"], "LOCALE": ["en-US"], "TARGETING_STRATEGY": ["X"]}),
    );
    assert_eq!(
        s.countries,
        vec![Country::parse("US").unwrap(), Country::parse("BE").unwrap()]
    );
    assert_eq!(s.locales, vec!["en"]);
    assert_eq!(s.interests, vec!["shoes"]);
    assert_eq!(
        TargetingSpec::parse(&AsSent::new()).unwrap(),
        TargetingSpec::default()
    );
}

fn arb_fact() -> impl Strategy<Value = AudienceFact> {
    prop_oneof![
        Just(AudienceFact::NotMember),
        Just(AudienceFact::TooSmall),
        Just(AudienceFact::Member(TAG)),
        Just(AudienceFact::Member(Provenance::Partner(
            PartnerSource::CustomerList
        ))),
        Just(AudienceFact::Member(Provenance::OnPlatform(
            OnPlatformSource::Engagement
        ))),
    ]
}

proptest! {
    /// Invariant 1: with partner targeting off, the answer is exactly the
    /// one for a person about whom no partner data exists, and no partner
    /// reason is given.
    #[test]
    fn partner_data_is_invisible_without_consent(
        include in proptest::collection::vec(0u8..4, 0..3),
        exclude in proptest::collection::vec(0u8..4, 0..3),
        facts in proptest::collection::vec(arb_fact(), 4),
    ) {
        let s = TargetingSpec {
            audience_include: include.iter().map(|i| i.to_string()).collect(),
            audience_exclude: exclude.iter().map(|i| i.to_string()).collect(),
            ..TargetingSpec::default()
        };
        let fact = |id: &str| facts[id.parse::<usize>().unwrap()];
        let without_partner_data = |id: &str| match fact(id) {
            AudienceFact::Member(Provenance::Partner(_)) => AudienceFact::NotMember,
            other => other,
        };
        let no = consent(Some(false));
        let with_data = s.evaluate(&Viewer::default(), &no, fact);
        let without = s.evaluate(&Viewer::default(), &no, without_partner_data);
        // The same outcome (a Consent miss is the reason a partner member is
        // not targeted; for the person it is the same as not targeted).
        let norm = |r: Result<Vec<WhyReason>, Miss>| match r {
            Err(Miss::Consent) => Err(Miss::NotTargeted),
            other => other,
        };
        prop_assert_eq!(norm(with_data.clone()), norm(without));
        if let Ok(why) = with_data {
            prop_assert!(why.iter().all(|w| !w.is_partner()));
        }
    }
}
