//! The server's configuration: flags, with environment fallbacks, over an
//! optional TOML file (`adloom.example.toml` lists every key), over the
//! defaults. Parsed once here and passed down explicitly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adloom_core::region::{Country, RegionDefaults, DEFAULT_OPT_IN_COUNTRIES};
use adloom_core::retention::Retention;
use adloom_core::review::{ReviewMode, ReviewPolicy};
use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML config file; flags and environment variables override it.
    #[arg(long, env = "ADLOOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ADLOOM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for all of adloom's data [default: ./adloom-data].
    #[arg(long, env = "ADLOOM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The operator's bearer token; generated and kept in the data dir if unset.
    #[arg(long, env = "ADLOOM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The URL browsers reach adloom at, used in the tag's code snippet
    /// [default: http://LISTEN].
    #[arg(long, env = "ADLOOM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Storage backend URL [default: sqlite://DATA_DIR/adloom.db].
    #[arg(long, env = "ADLOOM_STORE")]
    pub store: Option<String>,
    /// Budgets and frequency caps shared by several nodes, in Redis
    /// (`redis://...`) [default: in this node's memory].
    #[arg(long, env = "ADLOOM_COUNTERS")]
    pub counters: Option<String>,
    /// The event bus for tag pixels, conversion events, beacons and
    /// settings changes, NATS JetStream (`nats://...`) [default: in
    /// process, straight to the store].
    #[arg(long, env = "ADLOOM_BUS")]
    pub bus: Option<String>,
    /// Tag pixels per second from one client address before they are no
    /// longer recorded (they still get their GIF); 0 for no limit
    /// [default: 20].
    #[arg(long, env = "ADLOOM_PIXEL_RATE_LIMIT_PER_IP")]
    pub pixel_rate_limit_per_ip: Option<u32>,
}

/// The config file. Every key is optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    admin_token: Option<String>,
    store: Option<String>,
    counters: Option<String>,
    bus: Option<String>,
    public_url: Option<String>,
    max_body_bytes: Option<usize>,
    max_import_bytes: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_in_flight: Option<usize>,
    rate_limit_per_token: Option<u32>,
    rate_limit_per_ip: Option<u32>,
    shutdown_grace_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    reserve_cpm_micros: Option<u64>,
    audience_size_period_secs: Option<u64>,
    pixel_rate_limit_per_ip: Option<u32>,
    max_new_lists_per_day: Option<u64>,
    max_new_audiences_per_day: Option<u64>,
    partner_info_default: Option<PartnerInfoDefault>,
    ad_review: Option<ReviewMode>,
    blocked_domains: Option<Vec<String>>,
    blocked_terms: Option<Vec<String>>,
    reports_to_pause: Option<u32>,
    fetch_pin_images: Option<bool>,
    tcf_vendor_id: Option<u16>,
    tcf_sharing_vendor_ids: Option<Vec<u16>>,
    event_retention_days: Option<u32>,
    engagement_retention_days: Option<u32>,
    support_request_retention_days: Option<u32>,
    settings_history_retention_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerInfoDefault {
    opt_in_countries: Option<Vec<String>>,
    elsewhere: Option<bool>,
}

/// Everything `serve` needs, resolved.
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub admin_token: Option<String>,
    pub store: String,
    pub counters: Option<String>,
    pub bus: Option<String>,
    /// Fetch and keep the images pins name by URL.
    pub fetch_pin_images: bool,
    pub shutdown_grace: Duration,
    pub transport: crate::transport::Transport,
    pub http: adloom_http::Config,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("store", &self.store)
            .field("counters", &self.counters)
            .field("bus", &self.bus)
            .field("http", &self.http)
            .finish()
    }
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let retention = retention(&file)?;
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(crate::DEFAULT_DATA_DIR));
        let store = args
            .store
            .or(file.store)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("adloom.db").display()));
        let defaults = adloom_http::Config::default();
        let region_defaults = match file.partner_info_default {
            None => RegionDefaults::default(),
            Some(p) => region_defaults(p)?,
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address"));
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("public_url must start with http:// or https://");
        }
        let http = adloom_http::Config {
            max_body_bytes: file.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_import_bytes: file.max_import_bytes.unwrap_or(defaults.max_import_bytes),
            request_timeout: file
                .request_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.request_timeout),
            engine: adloom_engine::Config {
                region_defaults,
                reserve_cpm_micros: file
                    .reserve_cpm_micros
                    .unwrap_or(defaults.engine.reserve_cpm_micros),
                membership_refresh: defaults.engine.membership_refresh,
                audience_size_period: file
                    .audience_size_period_secs
                    .map(Duration::from_secs)
                    .unwrap_or(defaults.engine.audience_size_period),
                review: ReviewPolicy {
                    own_origin: Some(public_url.clone()),
                    ..ReviewPolicy::new(
                        file.ad_review.unwrap_or_default(),
                        &file.blocked_domains.unwrap_or_default(),
                        &file.blocked_terms.unwrap_or_default(),
                        file.reports_to_pause
                            .unwrap_or(defaults.engine.review.reports_to_pause),
                    )
                    .map_err(|e| anyhow::anyhow!("config: {e}"))?
                },
                tcf: adloom_core::consent::strings::TcfPolicy {
                    vendor_id: file.tcf_vendor_id,
                    sharing_vendor_ids: file.tcf_sharing_vendor_ids.unwrap_or_default(),
                },
                retention,
            },
            public_url,
            spool_dir: data_dir.join("spool"),
            demo: None,
            max_in_flight: file.max_in_flight.unwrap_or(defaults.max_in_flight),
            rate_limit_per_token: file
                .rate_limit_per_token
                .unwrap_or(defaults.rate_limit_per_token),
            rate_limit_per_ip: file.rate_limit_per_ip.unwrap_or(defaults.rate_limit_per_ip),
            pixel_rate_limit_per_ip: args
                .pixel_rate_limit_per_ip
                .or(file.pixel_rate_limit_per_ip)
                .unwrap_or(defaults.pixel_rate_limit_per_ip),
            max_new_lists_per_day: file
                .max_new_lists_per_day
                .unwrap_or(defaults.max_new_lists_per_day),
            max_new_audiences_per_day: file
                .max_new_audiences_per_day
                .unwrap_or(defaults.max_new_audiences_per_day),
        };
        if http.max_body_bytes == 0
            || http.request_timeout.is_zero()
            || http.max_in_flight == 0
            || http.engine.audience_size_period.is_zero()
        {
            bail!("max_body_bytes, request_timeout_secs, max_in_flight and audience_size_period_secs must be positive");
        }
        let transport = crate::transport::Transport {
            header_read_timeout: Duration::from_secs(file.header_read_timeout_secs.unwrap_or(10)),
            max_connections: file.max_connections.unwrap_or(10_000),
        };
        if transport.header_read_timeout.is_zero() || transport.max_connections == 0 {
            bail!("header_read_timeout_secs and max_connections must be positive");
        }
        Ok(Settings {
            listen,
            data_dir,
            admin_token: args
                .admin_token
                .or(file.admin_token)
                .filter(|t| !t.is_empty()),
            store,
            counters: args.counters.or(file.counters).filter(|c| !c.is_empty()),
            bus: args.bus.or(file.bus).filter(|b| !b.is_empty()),
            fetch_pin_images: file.fetch_pin_images.unwrap_or(false),
            shutdown_grace: Duration::from_secs(file.shutdown_grace_secs.unwrap_or(30)),
            transport,
            http,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn retention(file: &FileConfig) -> anyhow::Result<Retention> {
    let defaults = Retention::default();
    let retention = Retention {
        event_days: file.event_retention_days.unwrap_or(defaults.event_days),
        engagement_days: file
            .engagement_retention_days
            .unwrap_or(defaults.engagement_days),
        support_request_days: file
            .support_request_retention_days
            .unwrap_or(defaults.support_request_days),
        settings_history_days: file
            .settings_history_retention_days
            .or(defaults.settings_history_days),
    };
    retention
        .check()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    Ok(retention)
}

fn region_defaults(p: PartnerInfoDefault) -> anyhow::Result<RegionDefaults> {
    let codes = p.opt_in_countries.unwrap_or_else(|| {
        DEFAULT_OPT_IN_COUNTRIES
            .iter()
            .map(|c| c.to_string())
            .collect()
    });
    let opt_in_countries = codes
        .iter()
        .map(|c| Country::parse(c).with_context(|| format!("unknown country code {c:?}")))
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    Ok(RegionDefaults {
        opt_in_countries,
        elsewhere: p.elsewhere.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let example: FileConfig =
            toml::from_str(include_str!("../../../adloom.example.toml")).unwrap();
        assert_eq!(retention(&example).unwrap(), Retention::default());
        let p = example.partner_info_default.unwrap();
        assert_eq!(region_defaults(p).unwrap(), RegionDefaults::default());
        let defaults = adloom_http::Config::default();
        assert_eq!(example.max_body_bytes, Some(defaults.max_body_bytes));
        assert_eq!(example.max_import_bytes, Some(defaults.max_import_bytes));
        assert_eq!(
            example.request_timeout_secs,
            Some(defaults.request_timeout.as_secs())
        );
        assert_eq!(
            example.reserve_cpm_micros,
            Some(defaults.engine.reserve_cpm_micros)
        );
        assert_eq!(example.max_in_flight, Some(defaults.max_in_flight));
        assert_eq!(
            example.rate_limit_per_token,
            Some(defaults.rate_limit_per_token)
        );
        assert_eq!(example.rate_limit_per_ip, Some(defaults.rate_limit_per_ip));
        assert_eq!(example.header_read_timeout_secs, Some(10));
        assert_eq!(example.max_connections, Some(10_000));
        assert_eq!(
            example.audience_size_period_secs,
            Some(defaults.engine.audience_size_period.as_secs())
        );
        assert_eq!(
            example.pixel_rate_limit_per_ip,
            Some(defaults.pixel_rate_limit_per_ip)
        );
        assert_eq!(
            example.max_new_lists_per_day,
            Some(defaults.max_new_lists_per_day)
        );
        assert_eq!(
            example.max_new_audiences_per_day,
            Some(defaults.max_new_audiences_per_day)
        );
        assert_eq!(example.ad_review, Some(defaults.engine.review.mode));
        assert_eq!(
            example.reports_to_pause,
            Some(defaults.engine.review.reports_to_pause)
        );
        assert_eq!(example.blocked_domains, Some(Vec::new()));
        assert_eq!(example.blocked_terms, Some(Vec::new()));
        assert_eq!(example.fetch_pin_images, Some(false));
        assert_eq!(example.tcf_sharing_vendor_ids, Some(Vec::new()));
        assert_eq!(
            example.event_retention_days,
            Some(Retention::default().event_days)
        );
        assert_eq!(
            example.engagement_retention_days,
            Some(Retention::default().engagement_days)
        );
        assert_eq!(
            example.support_request_retention_days,
            Some(Retention::default().support_request_days)
        );
    }

    #[test]
    fn a_retention_under_a_week_is_refused_by_its_key() {
        let file: FileConfig = toml::from_str("event_retention_days = 3").unwrap();
        let e = retention(&file).unwrap_err().to_string();
        assert!(e.contains("event_retention_days"), "{e}");
    }

    #[test]
    fn unknown_countries_are_refused() {
        let p = PartnerInfoDefault {
            opt_in_countries: Some(vec!["XX".into()]),
            elsewhere: None,
        };
        assert!(region_defaults(p).is_err());
    }
}
