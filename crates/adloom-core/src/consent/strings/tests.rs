//! Real-world strings: the IAB's examples, strings seen in publishers'
//! traffic, and what each must refuse.

use super::*;

/// A TC string from a large German publisher's traffic: consent for
/// purposes 1 to 10 and for vendors 2, 4, 6, 7, 8, ... (not 3).
const FULL_CONSENT: &str = "CPAy22zPAy22zAGABBENBLCoAP_AAEfAAAYgHDld5D7NTWFCUfx5SttgGYgV1tQUA2QCCACBAyAFAAGQ8IQCg2ASsASAhAACAQIAohIBAABEHAEEAAAAAAAEAAAAAAUEgAAIIAIEABEBAAIQAAoKAAAAAAAAgEAACAQAmECQAubmBGAAAIAwAAAAAAAACBwQFYAqTQ1BQlHYaUhpQAiIAFaQFABgAggQgQIgBAABEOCEAhNAErAEAIAAAgECAKISAQAAQAAJBAAAAAAARAAAIAAFAIAACAACBBARAQAAEAAIAgAAAAAAAAAAAQAEAJAAEAEGZgBgAAAAIAAAAAAAAQEREAkAFQAXABDAD8AQ2Ai8BOwCkQF0BIAQARQGnBQC4ABgAFQAnACgAFgAMgAhQBGAEcAKQAVwBFgDRAHAAPIAhABJgCVgFZAM4Af0BCQCQQEtAMZCAAQAWhoBYAKgAuACGAH4AWkBDYCLwE7AKRAXQAxgMABANkMgEgAqACGAEwALgAjoB9gH4ARwBMQC8xgAIA2QCThUAsAFQAQwAmABcAEcAPwAjgBaQEggJiAXmOgBgBFAGGA04eAZAAMAAqAE4AUAAsABlAEYARwAmgBSACuAIsAUgA4AB5AEmAJXAS0BLgCcAFZAM4Af0BCQCSAEtAMZgY4Bjo4ACAC0hABAH2RAGAAsACaAFcARYApABwAErAJcATgArIBnAEtEwCgABoATgBQACwAIQARwAmgBSACoAFcAN4ApACVgEtAKyAX4AzgCEgEggL2AYyUgBAAiACKVALQAnACgAFgAMgAfABCgCMAI4ATQAqABXADeAHcARYApACVgEtAKyAZwBCQCSAEtAMZAZAAA.YAAAAAAAAAAA";
/// The TCF specification's example: consent for purposes 1, 2 and 3 only.
const PURPOSES_1_TO_3: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";

fn gpp(s: &str, sid: &[u16]) -> Regs {
    Regs {
        gpp: Some(s.into()),
        gpp_sid: sid.to_vec(),
        ..Regs::default()
    }
}

fn gdpr(applies: u8, consent: Option<&str>) -> Regs {
    Regs {
        gdpr: Some(applies),
        consent: consent.map(str::to_owned),
        ..Regs::default()
    }
}

fn usp(s: &str) -> Regs {
    Regs {
        us_privacy: Some(s.into()),
        ..Regs::default()
    }
}

/// A case: what it is, the strings, the operator's TCF ids, and what
/// partner targeting and sharing must be refused for.
type Case = (
    &'static str,
    Regs,
    TcfPolicy,
    Option<Reason>,
    Option<Reason>,
);

#[test]
fn each_string_refuses_what_its_law_says() {
    use Reason::*;
    let none = TcfPolicy::default();
    let vendor = |id: u16, sharing: &[u16]| TcfPolicy {
        vendor_id: Some(id),
        sharing_vendor_ids: sharing.to_vec(),
    };
    // (what, the strings, the operator's TCF ids, partner targeting, sharing)
    let cases: Vec<Case> = vec![
        ("no strings", Regs::default(), none.clone(), None, None),
        (
            "US national: opted out of sale, sharing, targeted ads",
            gpp("DBABLA~BVVVVVVVVWA", &[]),
            none.clone(),
            Some(UsPrivacyOptOut),
            Some(UsPrivacyOptOut),
        ),
        (
            "US national: not applicable",
            gpp("DBABLA~BAAAAAAAAQA", &[]),
            none.clone(),
            None,
            None,
        ),
        (
            "US national: opted out, with GPC",
            gpp("DBABLA~BVVVVVVVVWA.YA", &[7]),
            none.clone(),
            Some(UsPrivacyOptOut),
            Some(UsPrivacyOptOut),
        ),
        (
            "California: opted out",
            gpp("DBABBg~BVVVVVVY", &[8]),
            none.clone(),
            Some(UsPrivacyOptOut),
            Some(UsPrivacyOptOut),
        ),
        (
            "Virginia: opted out",
            gpp("DBABRg~BVVVVWY", &[9]),
            none.clone(),
            Some(UsPrivacyOptOut),
            Some(UsPrivacyOptOut),
        ),
        (
            "a section that does not apply (gpp_sid)",
            gpp("DBABLA~BVVVVVVVVWA", &[8]),
            none.clone(),
            None,
            None,
        ),
        (
            "GPP: TCF without purposes, and US Privacy 1YNN",
            gpp(
                "DBACNY~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN",
                &[],
            ),
            none.clone(),
            Some(TcfNoConsent),
            Some(TcfNoConsent),
        ),
        (
            "GPP that does not decode",
            gpp("DBxx~!!", &[]),
            none.clone(),
            Some(ConsentStringUnreadable),
            Some(ConsentStringUnreadable),
        ),
        (
            "US Privacy: not opted out",
            usp("1YNN"),
            none.clone(),
            None,
            None,
        ),
        (
            "US Privacy: opted out of sale",
            usp("1YYN"),
            none.clone(),
            Some(UsPrivacyOptOut),
            Some(UsPrivacyOptOut),
        ),
        (
            "US Privacy: not applicable",
            usp("1---"),
            none.clone(),
            None,
            None,
        ),
        (
            "US Privacy that does not decode",
            usp("yes"),
            none.clone(),
            Some(ConsentStringUnreadable),
            Some(ConsentStringUnreadable),
        ),
        (
            "GDPR: purposes 1 to 10",
            gdpr(1, Some(FULL_CONSENT)),
            none.clone(),
            None,
            None,
        ),
        (
            "GDPR: purposes 1 to 10, adloom a consented vendor",
            gdpr(1, Some(FULL_CONSENT)),
            vendor(2, &[4]),
            None,
            None,
        ),
        (
            "GDPR: adloom not a consented vendor",
            gdpr(1, Some(FULL_CONSENT)),
            vendor(3, &[]),
            Some(TcfNoConsent),
            Some(TcfNoConsent),
        ),
        (
            "GDPR: a sharing partner without consent",
            gdpr(1, Some(FULL_CONSENT)),
            vendor(2, &[3]),
            None,
            Some(TcfNoConsent),
        ),
        (
            "GDPR: purposes 1 to 3 only",
            gdpr(1, Some(PURPOSES_1_TO_3)),
            none.clone(),
            Some(TcfNoConsent),
            Some(TcfNoConsent),
        ),
        (
            "GDPR: no string",
            gdpr(1, None),
            none.clone(),
            Some(TcfNoConsent),
            Some(TcfNoConsent),
        ),
        (
            "GDPR: a string that does not decode",
            gdpr(1, Some("not a TC string")),
            none.clone(),
            Some(ConsentStringUnreadable),
            Some(ConsentStringUnreadable),
        ),
        (
            "GDPR does not apply: the string is not read",
            gdpr(0, Some("not a TC string")),
            none.clone(),
            None,
            None,
        ),
    ];
    for (what, regs, tcf, targeting, sharing) in cases {
        let got = read(&regs, &tcf);
        assert_eq!(
            got.partner_targeting, targeting,
            "{what}: partner targeting"
        );
        assert_eq!(got.off_platform_sharing, sharing, "{what}: sharing");
    }
}
