//! Conversion tags: the snippet an advertiser installs on their site.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// A conversion tag as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionTag {
    pub id: String,
    pub ad_account_id: String,
    pub name: String,
    pub configs: TagConfigs,
    pub created_time: i64,
    /// `adloom_allowed_domains`: when set, only pixels from these sites
    /// (or their subdomains) feed audiences or link people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_domains: Vec<String>,
}

/// The most sites one tag may allow.
pub const MAX_ALLOWED_DOMAINS: usize = 100;

/// Checks and normalizes `adloom_allowed_domains`: host names, lowercase,
/// without scheme, port or path.
pub fn parse_allowed_domains(domains: &[String]) -> Result<Vec<String>, Invalid> {
    const FIELD: &str = "adloom_allowed_domains";
    if domains.len() > MAX_ALLOWED_DOMAINS {
        return Err(Invalid::new(
            FIELD,
            format!("at most {MAX_ALLOWED_DOMAINS} domains"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for d in domains {
        let host = d.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.contains('.')
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(Invalid::new(
                FIELD,
                format!("{d:?} is not a host name such as shop.example.com"),
            ));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}

/// Why a pixel was kept out of audiences by its tag's allowed sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelBlock {
    /// It came with neither `Origin` nor `Referer`.
    NoSite,
    /// It came from a site the tag does not allow.
    OtherSite,
}

impl PixelBlock {
    pub fn code(self) -> &'static str {
        match self {
            PixelBlock::NoSite => "no_site",
            PixelBlock::OtherSite => "other_site",
        }
    }
}

/// Whether a pixel that came with these `Origin` and `Referer` headers may
/// feed the tag's audiences: always when the tag allows every site;
/// otherwise only from one of its sites or their subdomains (the `Origin`
/// if sent, else the `Referer`).
pub fn pixel_site_allowed(
    allowed: &[String],
    origin: Option<&str>,
    referer: Option<&str>,
) -> Result<(), PixelBlock> {
    if allowed.is_empty() {
        return Ok(());
    }
    let url = origin
        .filter(|o| !o.is_empty() && *o != "null")
        .or(referer)
        .ok_or(PixelBlock::NoSite)?;
    let host = host_of(url).ok_or(PixelBlock::NoSite)?;
    let ok = allowed.iter().any(|a| {
        host == *a
            || host
                .strip_suffix(a.as_str())
                .is_some_and(|sub| sub.ends_with('.'))
    });
    if ok {
        Ok(())
    } else {
        Err(PixelBlock::OtherSite)
    }
}

/// The lowercase host of an absolute http(s) URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

/// The tag's settings (`ConversionTagConfigs`), kept and answered as the
/// advertiser set them, so that Pinterest clients round-trip them. adloom's
/// tag does not act on them: it never reads a page's forms by itself, and
/// knows a person only by the `em` the page passes, which it hashes in the
/// browser.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagConfigs {
    #[serde(default)]
    pub aem_enabled: bool,
    #[serde(default)]
    pub aem_ph_enabled: bool,
    #[serde(default)]
    pub aem_fnln_enabled: bool,
    #[serde(default)]
    pub aem_ge_enabled: bool,
    #[serde(default)]
    pub aem_db_enabled: bool,
    #[serde(default)]
    pub aem_loc_enabled: bool,
    #[serde(default)]
    pub aem_external_id_enabled: bool,
    #[serde(default = "one")]
    pub md_frequency: f64,
}

fn one() -> f64 {
    1.0
}

/// The body of `POST .../conversion_tags` (`ConversionTagCreate`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConversionTagCreate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub aem_enabled: Option<bool>,
    #[serde(default)]
    pub aem_ph_enabled: Option<bool>,
    #[serde(default)]
    pub aem_fnln_enabled: Option<bool>,
    #[serde(default)]
    pub aem_ge_enabled: Option<bool>,
    #[serde(default)]
    pub aem_db_enabled: Option<bool>,
    #[serde(default)]
    pub aem_loc_enabled: Option<bool>,
    #[serde(default)]
    pub aem_external_id_enabled: Option<bool>,
    #[serde(default)]
    pub md_frequency: Option<f64>,
    #[serde(default)]
    pub adloom_allowed_domains: Option<Vec<String>>,
}

impl ConversionTagCreate {
    pub fn into_tag(
        self,
        id: String,
        ad_account_id: String,
        now: i64,
    ) -> Result<ConversionTag, Invalid> {
        let name = self.name.map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 256 {
            return Err(Invalid::new("name", "must be 1 to 256 characters"));
        }
        let md_frequency = self.md_frequency.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&md_frequency) {
            return Err(Invalid::new("md_frequency", "must be between 0 and 1"));
        }
        let flag = |f: Option<bool>| f.unwrap_or(false);
        Ok(ConversionTag {
            id,
            ad_account_id,
            name,
            configs: TagConfigs {
                aem_enabled: flag(self.aem_enabled),
                aem_ph_enabled: flag(self.aem_ph_enabled),
                aem_fnln_enabled: flag(self.aem_fnln_enabled),
                aem_ge_enabled: flag(self.aem_ge_enabled),
                aem_db_enabled: flag(self.aem_db_enabled),
                aem_loc_enabled: flag(self.aem_loc_enabled),
                aem_external_id_enabled: flag(self.aem_external_id_enabled),
                md_frequency,
            },
            created_time: now,
            allowed_domains: parse_allowed_domains(
                self.adloom_allowed_domains.as_deref().unwrap_or_default(),
            )?,
        })
    }
}

impl ConversionTag {
    /// The tag with the fields `patch` sets changed, checked as on create.
    pub fn patched(self, patch: ConversionTagCreate) -> Result<ConversionTag, Invalid> {
        let c = self.configs;
        let create = ConversionTagCreate {
            name: patch.name.or(Some(self.name)),
            aem_enabled: patch.aem_enabled.or(Some(c.aem_enabled)),
            aem_ph_enabled: patch.aem_ph_enabled.or(Some(c.aem_ph_enabled)),
            aem_fnln_enabled: patch.aem_fnln_enabled.or(Some(c.aem_fnln_enabled)),
            aem_ge_enabled: patch.aem_ge_enabled.or(Some(c.aem_ge_enabled)),
            aem_db_enabled: patch.aem_db_enabled.or(Some(c.aem_db_enabled)),
            aem_loc_enabled: patch.aem_loc_enabled.or(Some(c.aem_loc_enabled)),
            aem_external_id_enabled: patch
                .aem_external_id_enabled
                .or(Some(c.aem_external_id_enabled)),
            md_frequency: patch.md_frequency.or(Some(c.md_frequency)),
            adloom_allowed_domains: patch.adloom_allowed_domains.or(Some(self.allowed_domains)),
        };
        create.into_tag(self.id, self.ad_account_id, self.created_time)
    }
}

/// The base code an advertiser pastes into their pages: it loads adloom's
/// `core.js` from `base_url`, identifies the tag and reports a page visit,
/// with a `<noscript>` pixel for browsers without JavaScript.
pub fn code_snippet(base_url: &str, tag_id: &str) -> String {
    let base = base_url.trim_end_matches('/');
    format!(
        r#"<!-- adloom tag -->
<script type="text/javascript">
!function(u){{if(!window.pintrk){{window.pintrk=function(){{window.pintrk.queue.push(Array.prototype.slice.call(arguments))}};var n=window.pintrk;n.queue=[];n.version="3.0";var s=document.createElement("script");s.async=!0;s.src=u;var f=document.getElementsByTagName("script")[0];f.parentNode.insertBefore(s,f)}}}}("{base}/tag/core.js");
pintrk('load', '{tag_id}', {{em: '<user_email_address>'}});
pintrk('page');
</script>
<noscript><img height="1" width="1" style="display:none;" alt="" src="{base}/v3/?tid={tag_id}&event=init&noscript=1" /></noscript>
<!-- end adloom tag -->"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_snippet() {
        let tag = ConversionTagCreate {
            name: Some(" Checkout tag ".into()),
            aem_enabled: Some(true),
            ..Default::default()
        }
        .into_tag("7".into(), "42".into(), 5)
        .unwrap();
        assert_eq!(tag.name, "Checkout tag");
        assert!(tag.configs.aem_enabled);
        assert_eq!(tag.configs.md_frequency, 1.0);
        let snippet = code_snippet("http://127.0.0.1:8080/", "7");
        assert!(
            snippet.contains("\"http://127.0.0.1:8080/tag/core.js\""),
            "{snippet}"
        );
        assert!(snippet.contains("pintrk('load', '7'"), "{snippet}");
        assert!(
            snippet.contains("/v3/?tid=7&event=init&noscript=1"),
            "{snippet}"
        );
        assert!(ConversionTagCreate::default()
            .into_tag("1".into(), "2".into(), 0)
            .is_err());
        let bad = ConversionTagCreate {
            name: Some("x".into()),
            md_frequency: Some(2.0),
            ..Default::default()
        };
        assert_eq!(
            bad.into_tag("1".into(), "2".into(), 0).unwrap_err().field,
            "md_frequency"
        );
    }

    /// Issue 13, finding 5: a tag's allowed sites, by table.
    #[test]
    fn pixels_come_from_the_allowed_sites_only() {
        let allowed =
            parse_allowed_domains(&["Shoes.Example".into(), " shop.test ".into()]).unwrap();
        assert_eq!(allowed, ["shoes.example", "shop.test"]);
        for bad in [
            "",
            "localhost",
            "https://shoes.example",
            "shoes.example/x",
            "a..b",
        ] {
            assert!(parse_allowed_domains(&[bad.into()]).is_err(), "{bad}");
        }
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(), PixelBlock>);
        let cases: [Case; 9] = [
            (Some("https://shoes.example"), None, Ok(())),
            (Some("https://www.shoes.example:443"), None, Ok(())),
            (None, Some("https://m.shop.test/cart?x=1"), Ok(())),
            (
                Some("https://evil.example"),
                Some("https://shoes.example/"),
                Err(PixelBlock::OtherSite),
            ),
            (
                Some("https://notshoes.example"),
                None,
                Err(PixelBlock::OtherSite),
            ),
            (
                Some("https://shoes.example.evil.test"),
                None,
                Err(PixelBlock::OtherSite),
            ),
            (
                None,
                Some("https://shoes.example@evil.test/"),
                Err(PixelBlock::OtherSite),
            ),
            (None, None, Err(PixelBlock::NoSite)),
            (Some("null"), None, Err(PixelBlock::NoSite)),
        ];
        for (origin, referer, expect) in cases {
            assert_eq!(
                pixel_site_allowed(&allowed, origin, referer),
                expect,
                "{origin:?} {referer:?}"
            );
        }
        assert_eq!(
            pixel_site_allowed(&[], None, None),
            Ok(()),
            "no list: every site"
        );
    }
}
