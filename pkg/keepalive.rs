//! gRPC server keepalive flags shared by Istio's servers (upstream `pkg/keepalive`), with
//! upstream's names and defaults and Go duration syntax (`30s`, `1m30s`).

use std::time::Duration;

use crate::config::protojson::parse_go_duration;

/// "Infinity" for connection age, as upstream's `math.MaxInt64` nanoseconds.
pub const INFINITY: Duration = Duration::from_nanos(i64::MAX as u64);

/// Keepalive settings of a gRPC server.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
#[group(id = "keepalive_args")]
pub struct Args {
    /// Time after which the server pings an idle client connection to see if it is alive.
    #[arg(
        long = "keepaliveInterval",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration,
        global = true
    )]
    pub interval: Duration,

    /// Time the server waits for a keepalive ping answer before closing the connection.
    #[arg(
        long = "keepaliveTimeout",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration,
        global = true
    )]
    pub timeout: Duration,

    /// Longest a client connection may live before the server asks it to reconnect (with 10s
    /// of grace); unlimited by default.
    #[arg(
        long = "keepaliveMaxServerConnectionAge",
        value_name = "DURATION",
        default_value = "2562047h47m16.854775807s",
        hide_default_value = true,
        value_parser = parse_duration,
        global = true
    )]
    pub max_server_connection_age: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            max_server_connection_age: INFINITY,
        }
    }
}

impl Args {
    /// Grace period after the maximum connection age, as upstream.
    pub const MAX_CONNECTION_AGE_GRACE: Duration = Duration::from_secs(10);

    /// The maximum connection age, or `None` when unlimited.
    pub fn max_connection_age(&self) -> Option<Duration> {
        (self.max_server_connection_age < INFINITY).then_some(self.max_server_connection_age)
    }
}

/// Parses a non-negative Go duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let nanos = parse_go_duration(s)?;
    if nanos < 0 {
        return Err(format!("negative duration {s:?}"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        k: Args,
    }

    #[test]
    fn defaults_and_go_syntax() {
        let c = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(c.k, Args::default());
        assert_eq!(c.k.max_connection_age(), None);
        let c = Cli::try_parse_from(["x", "--keepaliveMaxServerConnectionAge", "30m"]).unwrap();
        assert_eq!(c.k.max_connection_age(), Some(Duration::from_secs(1800)));
        let c = Cli::try_parse_from(["x", "--keepaliveInterval=1m30s"]).unwrap();
        assert_eq!(c.k.interval, Duration::from_secs(90));
        assert!(Cli::try_parse_from(["x", "--keepaliveTimeout", "-1s"]).is_err());
        assert!(Cli::try_parse_from(["x", "--keepaliveTimeout", "10"]).is_err());
    }
}
