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
}

/// The tag's settings (`ConversionTagConfigs`), kept as the advertiser set
/// them. Automatic enhanced match (`aem_enabled`) lets the tag pick up an
/// email typed on the page; the tag always hashes it in the browser.
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
        })
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
}
