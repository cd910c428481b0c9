use proptest::prelude::*;

use super::*;
use crate::region::RegionDefaults;

fn de() -> Country {
    Country::parse("DE").unwrap()
}

fn base(use_partner_info: Option<bool>, region_default: RegionDefault) -> ConsentInputs {
    ConsentInputs::person(use_partner_info, region_default)
}

fn with_ad_id(mut i: ConsentInputs) -> ConsentInputs {
    i.device.ad_id = AdIdState::Present;
    i
}

/// (partner_targeting, off_platform_sharing, device_id_use) with reasons.
type Expect = ((bool, Reason), (bool, Reason), (bool, Reason));

fn check(name: &str, inputs: ConsentInputs, expect: Expect) {
    let d = decide(&inputs);
    let got = (
        (d.partner_targeting.allowed, d.partner_targeting.reason),
        (
            d.off_platform_sharing.allowed,
            d.off_platform_sharing.reason,
        ),
        (d.device_id_use.allowed, d.device_id_use.reason),
    );
    assert_eq!(got, expect, "case {name}: {inputs:?}");
}

#[test]
fn table() {
    use Reason::*;
    let on = RegionDefault::On;
    let off = RegionDefault::OptIn(de());
    let no_ad_id = (false, NoAdId);
    let ad_id = (true, AdIdAllowed);

    check(
        "us, never set",
        base(None, on),
        ((true, RegionDefaultOn), (true, RegionDefaultOn), no_ad_id),
    );
    check(
        "de, never set",
        base(None, off),
        (
            (false, RegionDefaultOff(de())),
            (false, RegionDefaultOff(de())),
            no_ad_id,
        ),
    );
    check(
        "de, said yes",
        base(Some(true), off),
        ((true, PersonAllowed), (true, PersonAllowed), no_ad_id),
    );
    check(
        "us, said no",
        base(Some(false), on),
        ((false, PersonDeclined), (false, PersonDeclined), no_ad_id),
    );
    check(
        "everywhere opt-in, never set",
        base(None, RegionDefault::OptInEverywhere),
        (
            (false, DefaultOffEverywhere),
            (false, DefaultOffEverywhere),
            no_ad_id,
        ),
    );
    check(
        "us, yes, ad id",
        with_ad_id(base(Some(true), on)),
        ((true, PersonAllowed), (true, PersonAllowed), ad_id),
    );

    let mut lat = with_ad_id(base(Some(true), on));
    lat.device.limit_ad_tracking = true;
    check(
        "limit ad tracking keeps partner targeting, stops sharing and the ad id",
        lat,
        (
            (true, PersonAllowed),
            (false, LimitAdTracking),
            (false, LimitAdTracking),
        ),
    );

    let mut att = with_ad_id(base(None, on));
    att.device.att = Some(AttStatus::Denied);
    check(
        "att denied",
        att,
        (
            (true, RegionDefaultOn),
            (false, TrackingNotAuthorized),
            (false, TrackingNotAuthorized),
        ),
    );

    let mut att_ok = with_ad_id(base(None, on));
    att_ok.device.att = Some(AttStatus::Authorized);
    check(
        "att authorized",
        att_ok,
        ((true, RegionDefaultOn), (true, RegionDefaultOn), ad_id),
    );

    let mut zero = base(None, on);
    zero.device.ad_id = AdIdState::AllZero;
    check(
        "all-zero ad id",
        zero,
        (
            (true, RegionDefaultOn),
            (true, RegionDefaultOn),
            (false, ZeroAdId),
        ),
    );

    let mut gpc = with_ad_id(base(Some(true), on));
    gpc.browser.global_privacy_control = true;
    check(
        "gpc outranks a yes",
        gpc,
        (
            (false, GlobalPrivacyControl),
            (false, GlobalPrivacyControl),
            ad_id,
        ),
    );

    let mut cookie = base(None, on);
    cookie.browser.opt_out_cookie = true;
    check(
        "opt-out cookie",
        cookie,
        ((false, OptOutCookie), (false, OptOutCookie), no_ad_id),
    );

    let mut event = base(Some(true), on);
    event.event_opt_out = true;
    event.browser.global_privacy_control = true;
    check(
        "event flag reported before gpc",
        event,
        ((false, EventOptOut), (false, EventOptOut), no_ad_id),
    );

    let mut declined_and_gpc = base(Some(false), off);
    declined_and_gpc.browser.global_privacy_control = true;
    check(
        "the person's own no is the reason shown",
        declined_and_gpc,
        ((false, PersonDeclined), (false, PersonDeclined), no_ad_id),
    );

    let mut gpc_in_de = base(None, off);
    gpc_in_de.browser.global_privacy_control = true;
    check(
        "gpc before region default",
        gpc_in_de,
        (
            (false, GlobalPrivacyControl),
            (false, GlobalPrivacyControl),
            no_ad_id,
        ),
    );
}

#[test]
fn provenance_gates_partner_audiences_only() {
    let mut i = base(Some(false), RegionDefault::On);
    i.device.ad_id = AdIdState::Present;
    let d = decide(&i);
    for src in [
        PartnerSource::CustomerList,
        PartnerSource::Tag,
        PartnerSource::Conversions,
    ] {
        assert!(!d.allows_audience(Provenance::Partner(src)));
    }
    for src in [
        OnPlatformSource::Engagement,
        OnPlatformSource::Interests,
        OnPlatformSource::Lookalike,
    ] {
        assert!(d.allows_audience(Provenance::OnPlatform(src)));
    }
    let yes = decide(&base(Some(true), RegionDefault::On));
    assert!(yes.allows_audience(Provenance::Partner(PartnerSource::Tag)));
}

#[test]
fn explanations_name_the_country() {
    let text = Reason::RegionDefaultOff(de()).explanation();
    assert!(text.contains("DE"), "{text}");
    assert_eq!(Reason::PersonDeclined.code(), "person_declined");
}

fn arb_region_default() -> impl Strategy<Value = RegionDefault> {
    prop_oneof![
        Just(RegionDefault::On),
        Just(RegionDefault::OptInEverywhere),
        proptest::sample::select(
            RegionDefaults::default()
                .opt_in_countries
                .into_iter()
                .collect::<Vec<_>>()
        )
        .prop_map(RegionDefault::OptIn),
    ]
}

fn arb_device() -> impl Strategy<Value = DeviceSignals> {
    (
        prop_oneof![
            Just(AdIdState::Absent),
            Just(AdIdState::AllZero),
            Just(AdIdState::Present)
        ],
        any::<bool>(),
        proptest::option::of((0u8..4).prop_map(|c| AttStatus::from_code(c).unwrap())),
    )
        .prop_map(|(ad_id, limit_ad_tracking, att)| DeviceSignals {
            ad_id,
            limit_ad_tracking,
            att,
        })
}

prop_compose! {
    fn arb_inputs()(
        use_partner_info in proptest::option::of(any::<bool>()),
        region_default in arb_region_default(),
        device in arb_device(),
        gpc in any::<bool>(),
        cookie in any::<bool>(),
        event_opt_out in any::<bool>(),
        strings in arb_strings(),
    ) -> ConsentInputs {
        ConsentInputs {
            use_partner_info,
            region_default,
            device,
            browser: BrowserSignals { global_privacy_control: gpc, opt_out_cookie: cookie },
            event_opt_out,
            strings,
        }
    }
}

/// What consent strings may refuse: nothing, or either permission or both,
/// for any of their reasons.
fn arb_strings() -> impl Strategy<Value = StringRefusals> {
    let reason = proptest::option::of(proptest::sample::select(vec![
        Reason::UsPrivacyOptOut,
        Reason::TcfNoConsent,
        Reason::ConsentStringUnreadable,
        Reason::GlobalPrivacyControl,
    ]));
    (reason.clone(), reason).prop_map(|(partner_targeting, off_platform_sharing)| StringRefusals {
        partner_targeting,
        off_platform_sharing,
    })
}

/// One way of taking permission away.
#[derive(Debug, Clone, Copy)]
enum Restriction {
    SayNo,
    EventOptOut,
    Gpc,
    Cookie,
    LimitAdTracking,
    AttDenied,
    ZeroAdId,
    DropAdId,
    /// A consent string that refuses both.
    StringOptOut,
    /// A consent string that refuses sharing only (a TCF partner without
    /// consent).
    StringRefusesSharing,
}

fn restrict(mut i: ConsentInputs, r: Restriction) -> ConsentInputs {
    match r {
        Restriction::SayNo => i.use_partner_info = Some(false),
        Restriction::EventOptOut => i.event_opt_out = true,
        Restriction::Gpc => i.browser.global_privacy_control = true,
        Restriction::Cookie => i.browser.opt_out_cookie = true,
        Restriction::LimitAdTracking => i.device.limit_ad_tracking = true,
        Restriction::AttDenied => i.device.att = Some(AttStatus::Denied),
        Restriction::ZeroAdId => i.device.ad_id = AdIdState::AllZero,
        Restriction::DropAdId => i.device.ad_id = AdIdState::Absent,
        Restriction::StringOptOut => {
            i.strings.partner_targeting = Some(Reason::UsPrivacyOptOut);
            i.strings.off_platform_sharing = Some(Reason::UsPrivacyOptOut);
        }
        Restriction::StringRefusesSharing => {
            i.strings.off_platform_sharing = Some(Reason::TcfNoConsent);
        }
    }
    i
}

fn arb_restriction() -> impl Strategy<Value = Restriction> {
    use Restriction::*;
    proptest::sample::select(vec![
        SayNo,
        EventOptOut,
        Gpc,
        Cookie,
        LimitAdTracking,
        AttDenied,
        ZeroAdId,
        DropAdId,
        StringOptOut,
        StringRefusesSharing,
    ])
}

fn allowed(d: &ConsentDecision) -> [bool; 3] {
    [
        d.partner_targeting.allowed,
        d.off_platform_sharing.allowed,
        d.device_id_use.allowed,
    ]
}

proptest! {
    /// No opt-out signal ever gives back a permission.
    #[test]
    fn every_signal_only_takes_permission_away(i in arb_inputs(), r in arb_restriction()) {
        let before = allowed(&decide(&i));
        let after = allowed(&decide(&restrict(i, r)));
        for k in 0..3 {
            prop_assert!(!after[k] || before[k], "output {k} went from refused to allowed");
        }
    }

    /// A verdict's reason always agrees with it.
    #[test]
    fn reasons_agree_with_verdicts(i in arb_inputs()) {
        let d = decide(&i);
        for v in [d.partner_targeting, d.off_platform_sharing, d.device_id_use] {
            prop_assert_eq!(v.allowed, v.reason.allows());
        }
    }

    /// Invariants 1 and 2: a No stops partner targeting and sharing, and the
    /// person's own choice is the reason given.
    #[test]
    fn no_stops_partner_targeting_and_sharing(i in arb_inputs()) {
        let d = decide(&ConsentInputs { use_partner_info: Some(false), ..i });
        prop_assert_eq!(d.partner_targeting, Verdict { allowed: false, reason: Reason::PersonDeclined });
        prop_assert_eq!(d.off_platform_sharing, Verdict { allowed: false, reason: Reason::PersonDeclined });
        prop_assert!(!d.allows_audience(Provenance::Partner(PartnerSource::CustomerList)));
    }

    /// Invariant 4 and the browser signals: opted-out activity never feeds
    /// partner targeting and is never shared.
    #[test]
    fn opted_out_activity_is_never_used(i in arb_inputs(), which in 0..3usize) {
        let mut i = i;
        match which {
            0 => i.event_opt_out = true,
            1 => i.browser.global_privacy_control = true,
            _ => i.browser.opt_out_cookie = true,
        }
        let d = decide(&i);
        prop_assert!(!d.partner_targeting.allowed);
        prop_assert!(!d.off_platform_sharing.allowed);
    }

    /// A consent string's refusal holds whatever else says yes; the
    /// person's own No is still the reason given before it.
    #[test]
    fn a_consent_strings_refusal_holds(i in arb_inputs(), reason in proptest::sample::select(vec![Reason::UsPrivacyOptOut, Reason::TcfNoConsent, Reason::ConsentStringUnreadable])) {
        let mut i = i;
        i.strings = StringRefusals { partner_targeting: Some(reason), off_platform_sharing: Some(reason) };
        let d = decide(&i);
        prop_assert!(!d.partner_targeting.allowed);
        prop_assert!(!d.off_platform_sharing.allowed);
        if i.use_partner_info != Some(false) && !i.event_opt_out && !i.browser.global_privacy_control && !i.browser.opt_out_cookie {
            prop_assert_eq!(d.partner_targeting.reason, reason);
        }
    }

    /// Invariant 3: the ad ID is used only when present, non-zero and not
    /// limited by the device.
    #[test]
    fn device_id_use_needs_a_usable_ad_id(i in arb_inputs()) {
        let d = decide(&i);
        let usable = i.device.ad_id == AdIdState::Present
            && !i.device.limit_ad_tracking
            && matches!(i.device.att, None | Some(AttStatus::Authorized));
        prop_assert_eq!(d.device_id_use.allowed, usable);
    }

    /// Device signals are about the device: they never change whether a
    /// person's partner data may pick their ads.
    #[test]
    fn device_signals_do_not_decide_partner_targeting(i in arb_inputs(), device in arb_device()) {
        let a = decide(&i).partner_targeting;
        let b = decide(&ConsentInputs { device, ..i }).partner_targeting;
        prop_assert_eq!(a, b);
    }

    /// With no other signals, the person's Yes wins over any region
    /// default, and an unset setting follows the region default.
    #[test]
    fn the_setting_and_region_default_decide_alone(region in arb_region_default(), setting in proptest::option::of(any::<bool>())) {
        let d = decide(&base(setting, region));
        let expected = setting.unwrap_or(region.allows());
        prop_assert_eq!(d.partner_targeting.allowed, expected);
        prop_assert_eq!(d.off_platform_sharing.allowed, expected);
    }
}
