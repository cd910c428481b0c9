//! The consent policy: the one function that decides what may be used about
//! a person for one request or event. Every place that uses partner data asks
//! [`decide`]; nothing else decides.
//!
//! ```
//! use adloom_core::consent::{decide, ConsentInputs, Reason};
//! use adloom_core::region::{Country, RegionDefaults};
//!
//! let defaults = RegionDefaults::default();
//! // A person in Germany who never touched the setting: off until they say Yes.
//! let inputs = ConsentInputs::person(None, defaults.default_for(Country::parse("DE")));
//! let decision = decide(&inputs);
//! assert!(!decision.partner_targeting.allowed);
//! assert_eq!(decision.partner_targeting.reason, Reason::RegionDefaultOff(Country::parse("DE").unwrap()));
//! ```

use serde::{Deserialize, Serialize};

use crate::region::{Country, RegionDefault, RegionDefaults};

pub mod strings;
pub use strings::StringRefusals;

/// Everything the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentInputs {
    /// "Use info from our ad partners": `None` if the person never set it.
    pub use_partner_info: Option<bool>,
    /// Where the setting starts for this person's region.
    pub region_default: RegionDefault,
    pub device: DeviceSignals,
    pub browser: BrowserSignals,
    /// The event's own opt-out flag (tag and conversion events).
    pub event_opt_out: bool,
    /// What the IAB consent strings sent with the request or event refuse
    /// ([`strings::read`]).
    pub strings: StringRefusals,
}

impl ConsentInputs {
    /// The person-level view: their setting and region, with no device,
    /// browser or event signals. What the settings page shows.
    pub fn person(use_partner_info: Option<bool>, region_default: RegionDefault) -> Self {
        ConsentInputs {
            use_partner_info,
            region_default,
            device: DeviceSignals::default(),
            browser: BrowserSignals::default(),
            event_opt_out: false,
            strings: StringRefusals::default(),
        }
    }
}

/// What the device said about its advertising identifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceSignals {
    pub ad_id: AdIdState,
    /// iOS Limit Ad Tracking, or Android "Opt out of Ads Personalization".
    pub limit_ad_tracking: bool,
    /// iOS App Tracking Transparency status, where the device reported one.
    pub att: Option<AttStatus>,
}

/// Whether the request carried an ad ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdIdState {
    #[default]
    Absent,
    /// The all-zero ID a device reports when tracking is limited: no ID.
    AllZero,
    Present,
}

/// iOS App Tracking Transparency status, numbered as OpenRTB's `atts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttStatus {
    NotDetermined = 0,
    Restricted = 1,
    Denied = 2,
    Authorized = 3,
}

impl AttStatus {
    pub fn from_code(code: u8) -> Option<AttStatus> {
        match code {
            0 => Some(AttStatus::NotDetermined),
            1 => Some(AttStatus::Restricted),
            2 => Some(AttStatus::Denied),
            3 => Some(AttStatus::Authorized),
            _ => None,
        }
    }
}

/// What the browser said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrowserSignals {
    /// `Sec-GPC: 1`.
    pub global_privacy_control: bool,
    /// The industry opt-out cookie set on `/choices`.
    pub opt_out_cookie: bool,
}

/// The policy's answer: three permissions, each with the reason that decided
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentDecision {
    /// May partner-sourced data (customer lists, tag and conversion events,
    /// anything derived from them) pick or exclude ads?
    pub partner_targeting: Verdict,
    /// May engagement be passed to partners (third-party trackers, click IDs
    /// on landing pages, partner exports)?
    pub off_platform_sharing: Verdict,
    /// May this device's ad ID link data to the person?
    pub device_id_use: Verdict,
}

impl ConsentDecision {
    /// Whether an audience of this provenance may include or exclude the
    /// person (invariant 1: partner audiences only with partner targeting).
    pub fn allows_audience(&self, provenance: Provenance) -> bool {
        !provenance.needs_consent() || self.partner_targeting.allowed
    }
}

/// One permission and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub reason: Reason,
}

/// Why a permission was given or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The person switched "Use info from our ad partners" to Yes.
    PersonAllowed,
    /// The person switched it to No.
    PersonDeclined,
    /// Never set; it starts at Yes where the person is.
    RegionDefaultOn,
    /// Never set; it starts at No in this country until the person says Yes.
    RegionDefaultOff(Country),
    /// Never set; the operator made it start at No everywhere.
    DefaultOffEverywhere,
    /// The event itself was flagged opt-out.
    EventOptOut,
    /// The browser sent `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// The browser carries the opt-out cookie.
    OptOutCookie,
    /// The device has Limit Ad Tracking (iOS) or Opt out of Ads
    /// Personalization (Android) on.
    LimitAdTracking,
    /// iOS App Tracking Transparency is not authorized for this app.
    TrackingNotAuthorized,
    /// The device sent the all-zero ad ID.
    ZeroAdId,
    /// The request carried no ad ID.
    NoAdId,
    /// The device's ad ID may be used.
    AdIdAllowed,
    /// A US privacy string (GPP's national or state section, or US
    /// Privacy) says the person opted out of sale, sharing or targeted ads.
    UsPrivacyOptOut,
    /// Where GDPR applies, the TCF string does not consent to personalised
    /// ads (purposes 3 and 4) for adloom or the vendors it shares with.
    TcfNoConsent,
    /// A consent string was sent but could not be read: no consent.
    ConsentStringUnreadable,
}

impl Reason {
    /// Whether this reason gives permission (the others refuse it).
    pub fn allows(self) -> bool {
        matches!(
            self,
            Reason::PersonAllowed | Reason::RegionDefaultOn | Reason::AdIdAllowed
        )
    }

    /// Whether an IAB consent string sent with the request or event gave
    /// this reason ([`strings::read`]).
    pub fn is_from_consent_strings(self) -> bool {
        matches!(
            self,
            Reason::UsPrivacyOptOut | Reason::TcfNoConsent | Reason::ConsentStringUnreadable
        )
    }

    /// A stable machine-readable name, as the APIs report it.
    pub fn code(self) -> &'static str {
        match self {
            Reason::PersonAllowed => "person_allowed",
            Reason::PersonDeclined => "person_declined",
            Reason::RegionDefaultOn => "region_default_on",
            Reason::RegionDefaultOff(_) => "region_default_off",
            Reason::DefaultOffEverywhere => "default_off",
            Reason::EventOptOut => "event_opt_out",
            Reason::GlobalPrivacyControl => "global_privacy_control",
            Reason::OptOutCookie => "opt_out_cookie",
            Reason::LimitAdTracking => "limit_ad_tracking",
            Reason::TrackingNotAuthorized => "tracking_not_authorized",
            Reason::ZeroAdId => "zero_ad_id",
            Reason::NoAdId => "no_ad_id",
            Reason::AdIdAllowed => "ad_id_allowed",
            Reason::UsPrivacyOptOut => "us_privacy_opt_out",
            Reason::TcfNoConsent => "tcf_no_consent",
            Reason::ConsentStringUnreadable => "consent_string_unreadable",
        }
    }

    /// The reason in plain words, for the person.
    pub fn explanation(self) -> String {
        match self {
            Reason::PersonAllowed => {
                "you switched \"Use info from our ad partners\" to Yes".to_owned()
            }
            Reason::PersonDeclined => {
                "you switched \"Use info from our ad partners\" to No".to_owned()
            }
            Reason::RegionDefaultOn => {
                "you have not changed the setting, and it starts at Yes where you are".to_owned()
            }
            Reason::RegionDefaultOff(c) => {
                format!("you are in {c}, where it is off until you switch it on")
            }
            Reason::DefaultOffEverywhere => "it is off until you switch it on".to_owned(),
            Reason::EventOptOut => "the activity was marked as opted out".to_owned(),
            Reason::GlobalPrivacyControl => {
                "your browser sends the Global Privacy Control signal".to_owned()
            }
            Reason::OptOutCookie => "this browser is opted out on the choices page".to_owned(),
            Reason::LimitAdTracking => {
                "this device has Limit Ad Tracking (or Opt out of Ads Personalization) on"
                    .to_owned()
            }
            Reason::TrackingNotAuthorized => {
                "this app is not allowed to track you on this device".to_owned()
            }
            Reason::ZeroAdId => "this device hides its advertising identifier".to_owned(),
            Reason::NoAdId => "no advertising identifier was sent".to_owned(),
            Reason::AdIdAllowed => "this device's advertising identifier may be used".to_owned(),
            Reason::UsPrivacyOptOut => {
                "the privacy choices your consent tool passed on say you opted out of the sale or sharing of your data, or of targeted ads".to_owned()
            }
            Reason::TcfNoConsent => {
                "in this site's or app's consent tool you did not agree to personalised ads from this platform".to_owned()
            }
            Reason::ConsentStringUnreadable => {
                "the consent choices your consent tool passed on could not be read, so they count as no".to_owned()
            }
        }
    }
}

/// Where an audience's data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    Partner(PartnerSource),
    OnPlatform(OnPlatformSource),
}

impl Provenance {
    /// Whether a person's consent decides if data of this provenance may
    /// place them in an audience: partner data's does; the person's own
    /// activity on the platform needs none.
    pub fn needs_consent(self) -> bool {
        matches!(self, Provenance::Partner(_))
    }
}

/// Data an advertiser brought.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerSource {
    CustomerList,
    Tag,
    Conversions,
}

/// Data from the person's own activity on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnPlatformSource {
    Engagement,
    Interests,
    Lookalike,
}

/// Decides what may be used about a person for one request or event.
///
/// Every signal can only take permission away: when several refuse, the
/// reason reported is the first in this order: the person's own choice, the
/// event's flag, the browser's signals, the IAB consent strings, the region
/// default (for partner data and sharing); the device's signals (for the ad
/// ID, and for sharing).
pub fn decide(inputs: &ConsentInputs) -> ConsentDecision {
    let setting = setting_verdict(inputs.use_partner_info, inputs.region_default);
    let refusal_by_activity = if inputs.event_opt_out {
        Some(Reason::EventOptOut)
    } else if inputs.browser.global_privacy_control {
        Some(Reason::GlobalPrivacyControl)
    } else if inputs.browser.opt_out_cookie {
        Some(Reason::OptOutCookie)
    } else {
        None
    };
    let device_refusal = device_refusal(&inputs.device);

    let partner_targeting = first_refusal(
        setting,
        [refusal_by_activity, inputs.strings.partner_targeting],
    );
    // Sharing engagement with partners is tracking across apps and sites, so
    // the device's opt-outs refuse it too; a missing ad ID does not.
    let device_tracking_refusal = device_refusal
        .filter(|r| matches!(r, Reason::LimitAdTracking | Reason::TrackingNotAuthorized));
    let off_platform_sharing = first_refusal(
        setting,
        [
            refusal_by_activity,
            inputs.strings.off_platform_sharing,
            device_tracking_refusal,
        ],
    );
    let device_id_use = match device_refusal {
        Some(reason) => Verdict {
            allowed: false,
            reason,
        },
        None => Verdict {
            allowed: true,
            reason: Reason::AdIdAllowed,
        },
    };
    ConsentDecision {
        partner_targeting,
        off_platform_sharing,
        device_id_use,
    }
}

/// The person-level view, as the settings page shows it: their setting, the
/// default of their country and what their last known consent strings
/// refuse ([`strings::read_last_known`]), with no device, browser or event
/// signals.
pub fn for_person(
    use_partner_info: Option<bool>,
    country: Option<Country>,
    strings: StringRefusals,
    defaults: &RegionDefaults,
) -> ConsentDecision {
    decide(&ConsentInputs {
        strings,
        ..ConsentInputs::person(use_partner_info, defaults.default_for(country))
    })
}

/// Whether a synced device's ad ID may link data to its person: the
/// device-level part of the policy, for the identity index.
pub fn synced_ad_id_usable(limit_ad_tracking: bool) -> bool {
    let device = DeviceSignals {
        ad_id: AdIdState::Present,
        limit_ad_tracking,
        att: None,
    };
    decide(&ConsentInputs {
        device,
        ..ConsentInputs::person(None, RegionDefault::On)
    })
    .device_id_use
    .allowed
}

fn setting_verdict(use_partner_info: Option<bool>, region_default: RegionDefault) -> Verdict {
    let reason = match (use_partner_info, region_default) {
        (Some(true), _) => Reason::PersonAllowed,
        (Some(false), _) => Reason::PersonDeclined,
        (None, RegionDefault::On) => Reason::RegionDefaultOn,
        (None, RegionDefault::OptIn(c)) => Reason::RegionDefaultOff(c),
        (None, RegionDefault::OptInEverywhere) => Reason::DefaultOffEverywhere,
    };
    Verdict {
        allowed: reason.allows(),
        reason,
    }
}

/// The person's own No outranks every other signal; otherwise the first
/// signal that refuses decides, and the setting only when none does.
fn first_refusal<const N: usize>(setting: Verdict, refusals: [Option<Reason>; N]) -> Verdict {
    if setting.reason == Reason::PersonDeclined {
        return setting;
    }
    match refusals.into_iter().flatten().next() {
        Some(reason) => Verdict {
            allowed: false,
            reason,
        },
        None => setting,
    }
}

fn device_refusal(device: &DeviceSignals) -> Option<Reason> {
    if device.limit_ad_tracking {
        return Some(Reason::LimitAdTracking);
    }
    if matches!(device.att, Some(s) if s != AttStatus::Authorized) {
        return Some(Reason::TrackingNotAuthorized);
    }
    match device.ad_id {
        AdIdState::AllZero => Some(Reason::ZeroAdId),
        AdIdState::Absent => Some(Reason::NoAdId),
        AdIdState::Present => None,
    }
}

#[cfg(test)]
mod tests;
