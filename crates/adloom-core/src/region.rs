//! Countries, and the region defaults of "Use info from our ad partners".

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// ISO 3166-1 alpha-2 codes, as the Pinterest API's `Country` enum lists them.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM \
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KR KW KY KZ LA LB LC LI \
LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF \
NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE \
SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// `COUNTRIES` as pairs of bytes, sorted, for a binary search.
const CODES: [[u8; 2]; COUNTRIES.len().div_ceil(3)] = codes();

const fn codes() -> [[u8; 2]; COUNTRIES.len().div_ceil(3)] {
    let bytes = COUNTRIES.as_bytes();
    let mut out = [[0; 2]; COUNTRIES.len().div_ceil(3)];
    let mut i = 0;
    while i < out.len() {
        out[i] = [bytes[3 * i], bytes[3 * i + 1]];
        i += 1;
    }
    out
}

/// Where "Use info from our ad partners" starts at No by default: the EU and
/// EEA, the United Kingdom, Switzerland and Canada, whose laws require a
/// person's consent before partner data personalizes their ads.
pub const DEFAULT_OPT_IN_COUNTRIES: &[&str] = &[
    // EU
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", // EEA outside the EU
    "IS", "LI", "NO", // others
    "GB", "CH", "CA",
];

/// An ISO 3166-1 alpha-2 country code, always uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a code in either letter case; `None` if it is not an ISO code.
    pub fn parse(code: &str) -> Option<Country> {
        let [a, b]: [u8; 2] = code.trim().as_bytes().try_into().ok()?;
        let bytes = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
        // Every stored person's country is parsed as the people mirror
        // loads: no allocation, no scan.
        let known = CODES.binary_search(&bytes).is_ok();
        known.then_some(Country(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters from `COUNTRIES` get in.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Country {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Country::parse(&s).ok_or_else(|| format!("unknown country code {s:?}"))
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_owned()
    }
}

/// Where "Use info from our ad partners" starts when a person never set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionDefaults {
    /// Countries where it starts at No until the person says Yes.
    pub opt_in_countries: BTreeSet<Country>,
    /// Where it starts elsewhere, and when the country is unknown.
    pub elsewhere: bool,
}

impl Default for RegionDefaults {
    fn default() -> Self {
        RegionDefaults {
            opt_in_countries: DEFAULT_OPT_IN_COUNTRIES
                .iter()
                .filter_map(|c| Country::parse(c))
                .collect(),
            elsewhere: true,
        }
    }
}

impl RegionDefaults {
    /// The default for a person in `country`.
    pub fn default_for(&self, country: Option<Country>) -> RegionDefault {
        match country {
            Some(c) if self.opt_in_countries.contains(&c) => RegionDefault::OptIn(c),
            _ if self.elsewhere => RegionDefault::On,
            _ => RegionDefault::OptInEverywhere,
        }
    }
}

/// The region default that applies to one person, with what decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionDefault {
    /// Starts at Yes.
    On,
    /// Starts at No because the person is in this country.
    OptIn(Country),
    /// Starts at No everywhere (the operator configured it so).
    OptInEverywhere,
}

impl RegionDefault {
    pub fn allows(self) -> bool {
        self == RegionDefault::On
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_parse_in_either_case() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert_eq!(Country::parse(" Us ").unwrap().as_str(), "US");
        assert_eq!(Country::parse("XX"), None);
        assert_eq!(Country::parse("USA"), None);
        assert_eq!(Country::parse(""), None);
        assert_eq!(COUNTRIES.split(' ').count(), 248);
    }

    #[test]
    fn every_listed_code_parses_and_nothing_else_of_two_letters() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
        let listed: BTreeSet<&str> = COUNTRIES.split(' ').collect();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                let parsed = Country::parse(&code.to_lowercase()).map(|c| c.to_string());
                let expected = listed.contains(code.as_str()).then(|| code.clone());
                assert_eq!(parsed, expected, "{code}");
            }
        }
        assert_eq!(Country::parse("é"), None);
    }

    #[test]
    fn region_defaults() {
        let d = RegionDefaults::default();
        let c = |s| Country::parse(s);
        for opt_in in ["DE", "FR", "IE", "NO", "IS", "LI", "GB", "CH", "CA"] {
            assert_eq!(
                d.default_for(c(opt_in)),
                RegionDefault::OptIn(c(opt_in).unwrap())
            );
        }
        for on in ["US", "BR", "JP", "AU"] {
            assert_eq!(d.default_for(c(on)), RegionDefault::On);
        }
        assert_eq!(d.default_for(None), RegionDefault::On);
        assert_eq!(d.opt_in_countries.len(), DEFAULT_OPT_IN_COUNTRIES.len());
        let strict = RegionDefaults {
            elsewhere: false,
            ..d
        };
        assert_eq!(strict.default_for(c("US")), RegionDefault::OptInEverywhere);
    }
}
