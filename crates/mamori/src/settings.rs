//! What every command shares about its configuration: the global options
//! and the problem a setting can have, with the readers of values that
//! several sections use. Below every module that resolves a section.

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Options every command that touches data takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// 設定ファイル (TOML) / configuration file
    #[arg(long, global = true, env = "MAMORI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// データディレクトリ / data directory [default: ./data]
    #[arg(long, global = true, env = "MAMORI_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// データベース URL (sqlite://… または postgres://…); DATABASE_URL も可 [default: DIR/mamori.db]
    #[arg(long, global = true, env = "MAMORI_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// ログの形式 / log format [default: text]
    #[arg(long, global = true, env = "MAMORI_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// One configuration problem, said so that an operator can fix it.
#[derive(Debug, Clone)]
pub struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn parse_networks(key: &str, values: &[String], errors: &mut Vec<ConfigError>) -> Vec<IpNet> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .filter_map(|v| {
            v.parse::<IpNet>().ok().or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from)).or_else(|| {
                errors.push(ConfigError(format!(
                    "{key} の \"{v}\" は IP アドレスまたは CIDR ではありません。例: 10.0.0.0/8 ({key}: not an IP address or CIDR)"
                )));
                None
            })
        })
        .collect()
}

/// The largest number a setting takes unless it says less: beyond it a
/// count cast to 32 bits wrapped to 0, past "at least 1" (4294967296
/// sign-in failures allowed per address became none).
pub(crate) const SETTING_MAX: u64 = 1_000_000_000;

/// The largest number of days, hours or minutes a duration setting takes:
/// beyond it a date moved by it leaves the calendar, and the server
/// stopped with a panic instead of a message.
pub(crate) const DURATION_MAX: u64 = 100_000;

/// The longest wait, in seconds, between two looks for due work (jobs,
/// messages, scans): a daily job is late by at most this much. A wait of
/// 2^63 seconds stopped the job worker with a panic on its first tick
/// while the server went on serving, and no job ran again.
pub(crate) const POLL_MAX: u64 = 3_600;

pub(crate) fn positive(key: &str, value: Option<u64>, default: u64, errors: &mut Vec<ConfigError>) -> u64 {
    positive_up_to(key, value, default, SETTING_MAX, errors)
}

/// A setting from 1 to `max`; the default, with an error, otherwise.
pub(crate) fn positive_up_to(
    key: &str,
    value: Option<u64>,
    default: u64,
    max: u64,
    errors: &mut Vec<ConfigError>,
) -> u64 {
    match value {
        Some(0) => {
            errors.push(ConfigError(format!("{key} は 1 以上にしてください ({key} must be at least 1)")));
            default
        }
        Some(v) if v > max => {
            errors.push(ConfigError(format!("{key} は {max} 以下にしてください ({key} must be at most {max})")));
            default
        }
        Some(v) => v,
        None => default,
    }
}
