//! Service registries (upstream `pilot/pkg/serviceregistry`): where services and their
//! endpoints come from.
//!
//! - [`kube`]: Kubernetes Services, Endpoints, Pods and Nodes through kube-rs watchers;
//! - [`external`]: ServiceEntry objects of a config store;
//! - [`memory`]: an in-memory registry (tests, local mesh) and upstream's `Mock` registry;
//! - [`aggregate`]: merges registries into one [`ServiceDiscovery`](crate::model::ServiceDiscovery).
//!
//! Registries keep in-memory indexes and answer queries from them; changes are reported to
//! an [`XdsUpdater`](crate::model::XdsUpdater) given at construction. [`fake`] has a recording
//! updater for tests.

pub mod aggregate;
pub mod external;
pub mod fake;
pub mod kube;
pub mod memory;

/// Seconds since the Unix epoch of an RFC 3339 time (`2006-01-02T15:04:05Z`, optional
/// fraction and offset); 0 when it does not parse.
pub(crate) fn parse_rfc3339_secs(s: &str) -> i64 {
    fn num(s: &str) -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    let parse = || -> Option<i64> {
        let (y, mo, d) = (num(s.get(0..4)?)?, num(s.get(5..7)?)?, num(s.get(8..10)?)?);
        let (h, mi, se) = (
            num(s.get(11..13)?)?,
            num(s.get(14..16)?)?,
            num(s.get(17..19)?)?,
        );
        if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let mut rest = &s[19..];
        if let Some(r) = rest.strip_prefix('.') {
            rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        let offset = match rest {
            "Z" | "z" | "" => 0,
            _ => {
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let oh = num(rest.get(1..3)?)?;
                let om = num(rest.get(4..6)?)?;
                sign * (oh * 3600 + om * 60)
            }
        };
        // Days from civil (proleptic Gregorian), Howard Hinnant's algorithm.
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
    };
    parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2019-11-20T10:11:12Z", 1_574_244_672),
            ("2019-11-20T10:11:12.123456Z", 1_574_244_672),
            ("2019-11-20T12:11:12+02:00", 1_574_244_672),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("garbage", 0),
            ("", 0),
        ];
        for (input, want) in cases {
            assert_eq!(super::parse_rfc3339_secs(input), want, "{input}");
        }
    }
}
