//! The IAB consent strings a request or a pixel carries (OpenRTB 2.6's
//! `regs`): a GPP string with its applicable sections, a TCF EU v2 string
//! where GDPR applies, and the older US Privacy string. They are read here
//! into refusals, with reasons, that [`super::decide`] weighs with every
//! other signal; nothing else decides on them.
//!
//! - US sections (national and state, and US Privacy): an opt-out of sale,
//!   of sharing or of targeted advertising turns partner targeting and
//!   off-platform sharing off; a section's GPC flag counts as the browser's.
//! - TCF EU v2 (where `gdpr` is 1, or the GPP string applies its section):
//!   partner targeting needs consent for purposes 3 and 4 ("create" and
//!   "use" a personalised ads profile) and, when the operator set
//!   `tcf_vendor_id`, consent for that vendor; off-platform sharing needs
//!   the same and consent for every vendor adloom shares with
//!   (`tcf_sharing_vendor_ids`).
//! - A string that does not decode counts as no consent where its law
//!   applies.
//!
//! GPP strings are decoded with `iab_gpp`; TC strings (alone, or as a GPP
//! string's TCF section) with `lib_tcstring`, which reads real-world TC
//! strings that `iab_gpp` 0.1 does not.

use std::str::FromStr;

use iab_gpp::sections::us_common::OptOut;
use iab_gpp::sections::usnat::Core as UsNatCore;
use iab_gpp::sections::uspv1::{Flag, UspV1};
use iab_gpp::sections::{Section, SectionId};
use iab_gpp::v1::GPPString;

use super::Reason;
use crate::Invalid;

/// TCF purposes a personalised ads profile needs: 3 (create one) and 4
/// (use one to select ads).
pub const TCF_AD_PURPOSES: [u8; 2] = [3, 4];

/// The strings as sent, by their OpenRTB 2.6 names: a decision request's
/// `regs`, and a synced person's last known strings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Regs {
    /// A GPP string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpp: Option<String>,
    /// The GPP sections that apply; empty: all in the string.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpp_sid: Vec<u16>,
    /// 1 when GDPR applies, 0 when it does not; none: not said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdpr: Option<u8>,
    /// The TCF EU v2 string (`consent`, or a pixel's `gdpr_consent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    /// The US Privacy string, such as `1YNN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_privacy: Option<String>,
}

/// The longest string taken (real GPP strings with several sections stay
/// under 1,000 characters).
pub const MAX_STRING_LEN: usize = 4096;

impl Regs {
    pub fn is_empty(&self) -> bool {
        *self == Regs::default()
    }

    /// The strings, if [`Regs::validate`] passes; errors name the field as
    /// `regs.<field>`, as the request and the person record both call it.
    pub fn checked(self) -> Result<Regs, Invalid> {
        self.validate().map_err(|e| e.within("regs"))?;
        Ok(self)
    }

    /// Checks what can be checked without decoding: `gdpr` is 0 or 1 and
    /// no string is overlong. A string that does not decode is not an
    /// error here: it is read as no consent where its law applies.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.gdpr.is_some_and(|g| g > 1) {
            return Err(Invalid::new("gdpr", "must be 0 or 1"));
        }
        for (field, value) in [
            ("gpp", &self.gpp),
            ("consent", &self.consent),
            ("us_privacy", &self.us_privacy),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_STRING_LEN) {
                return Err(Invalid::new(
                    field,
                    format!("must be at most {MAX_STRING_LEN} characters"),
                ));
            }
        }
        Ok(())
    }
}

/// The operator's place in TCF (top-level config keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcfPolicy {
    /// adloom's own vendor id in the Global Vendor List, when it has one.
    pub vendor_id: Option<u16>,
    /// The vendors adloom passes engagement to (off-platform sharing).
    pub sharing_vendor_ids: Vec<u16>,
}

/// What the strings refuse, with why; `None`: they do not refuse. Kept
/// with a pixel's event (read when it arrived, under the operator's TCF ids
/// of the time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StringRefusals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_targeting: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_platform_sharing: Option<Reason>,
}

impl StringRefusals {
    pub fn is_empty(&self) -> bool {
        *self == StringRefusals::default()
    }
}

impl StringRefusals {
    fn both(reason: Reason) -> StringRefusals {
        StringRefusals {
            partner_targeting: Some(reason),
            off_platform_sharing: Some(reason),
        }
    }

    /// The first refusal of each permission, `self`'s before `other`'s.
    fn or(self, other: StringRefusals) -> StringRefusals {
        StringRefusals {
            partner_targeting: self.partner_targeting.or(other.partner_targeting),
            off_platform_sharing: self.off_platform_sharing.or(other.off_platform_sharing),
        }
    }
}

/// What a synced person's last known strings refuse (nothing when none were
/// synced). They are read each time, under the operator's TCF ids of now.
pub fn read_last_known(regs: Option<&Regs>, tcf: &TcfPolicy) -> StringRefusals {
    regs.map(|r| read(r, tcf)).unwrap_or_default()
}

/// Reads the strings into refusals.
pub fn read(regs: &Regs, tcf: &TcfPolicy) -> StringRefusals {
    let mut refusals = StringRefusals::default();
    let mut tcf_string: Option<String> = None;
    let mut gdpr_applies = regs.gdpr == Some(1);
    if let Some(gpp) = regs.gpp.as_deref().filter(|g| !g.is_empty()) {
        match GPPString::from_str(gpp) {
            Err(_) => return StringRefusals::both(Reason::ConsentStringUnreadable),
            Ok(parsed) => {
                let applies =
                    |id: SectionId| regs.gpp_sid.is_empty() || regs.gpp_sid.contains(&(id as u16));
                for &id in parsed.section_ids() {
                    if !applies(id) {
                        continue;
                    }
                    if id == SectionId::TcfEuV2 {
                        gdpr_applies = true;
                        tcf_string = parsed.section(id).map(str::to_owned);
                        continue;
                    }
                    let found = match parsed.decode_section(id) {
                        Ok(section) => us_section(&section),
                        Err(_) => StringRefusals::both(Reason::ConsentStringUnreadable),
                    };
                    refusals = refusals.or(found);
                }
            }
        }
    }
    if let Some(usp) = regs.us_privacy.as_deref().filter(|u| !u.is_empty()) {
        refusals = refusals.or(us_privacy(usp));
    }
    if gdpr_applies {
        let string = tcf_string.or_else(|| regs.consent.clone());
        refusals = refusals.or(tcf_eu(string.as_deref(), tcf));
    }
    refusals
}

/// An opt-out of sale, sharing or targeted advertising refuses both; a
/// section's GPC flag refuses as the browser's signal does.
fn us_section(section: &Section) -> StringRefusals {
    let opted = |outs: &[&OptOut]| outs.iter().any(|o| matches!(o, OptOut::OptedOut));
    let (opted_out, gpc) = match section {
        Section::UspV1(usp) => (usp_opted_out(usp), None),
        Section::UsNat(s) => {
            let out = match &s.core {
                UsNatCore::V1(c) => opted(&[
                    &c.sale_opt_out,
                    &c.sharing_opt_out,
                    &c.targeted_advertising_opt_out,
                ]),
                UsNatCore::V2(c) => opted(&[
                    &c.sale_opt_out,
                    &c.sharing_opt_out,
                    &c.targeted_advertising_opt_out,
                ]),
                _ => true,
            };
            (out, s.gpc)
        }
        Section::UsCa(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.sharing_opt_out]),
            s.gpc,
        ),
        Section::UsVa(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            None,
        ),
        Section::UsCo(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsUt(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            None,
        ),
        Section::UsCt(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsFl(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            None,
        ),
        Section::UsMt(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsOr(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsTx(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsDe(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsIa(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsNe(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsNh(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsNj(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsTn(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        Section::UsMn(s) => (
            opted(&[&s.core.sale_opt_out, &s.core.targeted_advertising_opt_out]),
            s.gpc,
        ),
        // Canada's and the old EU sections are not adloom's laws to read.
        _ => (false, None),
    };
    if opted_out {
        StringRefusals::both(Reason::UsPrivacyOptOut)
    } else if gpc == Some(true) {
        StringRefusals::both(Reason::GlobalPrivacyControl)
    } else {
        StringRefusals::default()
    }
}

fn usp_opted_out(usp: &UspV1) -> bool {
    matches!(usp.opt_out_sale, Flag::Yes)
}

/// The US Privacy string ("1YYN"): its third character says whether the
/// person opted out of sale; "1---" says the law does not apply.
fn us_privacy(usp: &str) -> StringRefusals {
    match UspV1::from_str(usp) {
        Ok(parsed) if usp_opted_out(&parsed) => StringRefusals::both(Reason::UsPrivacyOptOut),
        Ok(_) => StringRefusals::default(),
        Err(_) => StringRefusals::both(Reason::ConsentStringUnreadable),
    }
}

/// TCF EU v2, where GDPR applies: no string, or one that does not decode,
/// is no consent.
fn tcf_eu(string: Option<&str>, tcf: &TcfPolicy) -> StringRefusals {
    let Some(string) = string.filter(|s| !s.is_empty()) else {
        return StringRefusals::both(Reason::TcfNoConsent);
    };
    let Ok(model) = lib_tcstring::TcModelV2::try_from(string) else {
        return StringRefusals::both(Reason::ConsentStringUnreadable);
    };
    let purposes = TCF_AD_PURPOSES
        .iter()
        .all(|p| model.purposes_consent.contains(p));
    let vendor = |id: &u16| model.vendors_consent.contains(id);
    let targeting = purposes && tcf.vendor_id.iter().all(vendor);
    let sharing = targeting && tcf.sharing_vendor_ids.iter().all(vendor);
    StringRefusals {
        partner_targeting: (!targeting).then_some(Reason::TcfNoConsent),
        off_platform_sharing: (!sharing).then_some(Reason::TcfNoConsent),
    }
}

#[cfg(test)]
mod tests;
