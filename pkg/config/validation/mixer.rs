//! Mixer client kinds (`config.istio.io`): HTTPAPISpec, HTTPAPISpecBinding, QuotaSpec,
//! QuotaSpecBinding, and Mixer attribute lists.

use crate::gostr::{quote, timestamp_go_string};
use istio_api::istio::mixer::v1::{
    attributes::attribute_value::Value,
    config::client::{
        api_key::Key, httpapi_spec_pattern::Pattern, string_match::MatchType, HttpapiSpec,
        HttpapiSpecBinding, QuotaSpec, QuotaSpecBinding,
    },
    Attributes,
};
use pbjson_types::Timestamp;

use super::{
    common::{validate_duration, validate_mixer_service},
    error::Errors,
    Error, Result,
};
use crate::config::labels;

/// Earliest and (exclusive) latest valid timestamp seconds: 0001-01-01 and 10000-01-01.
const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_800;

/// Checks a timestamp as gogo's `TimestampFromProto` does, with its error texts.
fn validate_timestamp(ts: &Timestamp) -> Result {
    let shown = || timestamp_go_string(ts.seconds, ts.nanos);
    if ts.seconds < MIN_TIMESTAMP_SECONDS {
        return Err(Error::new(format!(
            "timestamp: {} before 0001-01-01",
            shown()
        )));
    }
    if ts.seconds >= MAX_TIMESTAMP_SECONDS {
        return Err(Error::new(format!(
            "timestamp: {} after 10000-01-01",
            shown()
        )));
    }
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(Error::new(format!(
            "timestamp: {}: nanos not in range [0, 1e9)",
            shown()
        )));
    }
    Ok(())
}

/// Checks a Mixer attribute list: it is not empty, and string, bytes and string-map values are
/// not empty, durations and timestamps are valid. Errors are returned as a list.
pub fn validate_mixer_attributes(attrs: Option<&Attributes>) -> Result {
    let Some(attrs) = attrs.filter(|a| !a.attributes.is_empty()) else {
        return Err(Error::new("list of attributes is nil/empty"));
    };
    let mut errs = Errors::new();
    for name in attrs.attributes.keys() {
        match &attrs.attributes[name].value {
            Some(Value::StringValue(s)) if s.is_empty() => errs.msg_multi(format!(
                "string attribute for {} should not be empty",
                quote(name)
            )),
            Some(Value::DurationValue(d)) => errs.append_multi(validate_duration(Some(d))),
            Some(Value::BytesValue(b)) if b.is_empty() => errs.msg_multi(format!(
                "bytes attribute for {} should not be ",
                quote(name)
            )),
            Some(Value::TimestampValue(ts)) => errs.append_multi(validate_timestamp(ts)),
            Some(Value::StringMapValue(m)) if m.entries.is_empty() => errs.msg_multi(format!(
                "stringmap attribute for {} should not be nil",
                quote(name)
            )),
            _ => {}
        }
    }
    errs.finish()
}

/// Checks an HTTPAPISpec: attributes, at least one pattern with a method and a URI template or
/// regex, and non-empty API key locations. Errors are returned as a list.
///
/// As upstream, each pattern re-checks the spec's top-level attributes (not the pattern's own),
/// so a spec with patterns but no attributes reports one "list of attributes is nil/empty" per
/// pattern.
pub fn validate_http_api_spec(_name: &str, _namespace: &str, spec: &HttpapiSpec) -> Result {
    let mut errs = Errors::new();
    if spec.attributes.is_some() {
        errs.append_multi(validate_mixer_attributes(spec.attributes.as_ref()));
    }
    if spec.patterns.is_empty() {
        errs.msg_multi("at least one pattern must be specified");
    }
    for pattern in &spec.patterns {
        errs.append_multi(validate_mixer_attributes(spec.attributes.as_ref()));
        if pattern.http_method.is_empty() {
            errs.msg_multi("http_method cannot be empty");
        }
        match &pattern.pattern {
            Some(Pattern::UriTemplate(t)) if t.is_empty() => {
                errs.msg_multi("uri_template cannot be empty");
            }
            Some(Pattern::Regex(r)) if r.is_empty() => errs.msg_multi("regex cannot be empty"),
            _ => {}
        }
    }
    for key in &spec.api_keys {
        match &key.key {
            Some(Key::Query(q)) if q.is_empty() => errs.msg_multi("query cannot be empty"),
            Some(Key::Header(h)) if h.is_empty() => errs.msg_multi("header cannot be empty"),
            Some(Key::Cookie(c)) if c.is_empty() => errs.msg_multi("cookie cannot be empty"),
            _ => {}
        }
    }
    errs.finish()
}

/// Checks that spec references name a spec and use a DNS-label namespace.
fn validate_spec_references<'a>(
    refs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    kind: &str,
    errs: &mut Errors,
) {
    if refs.len() == 0 {
        errs.msg_multi("at least one spec must be specified");
    }
    for (name, namespace) in refs {
        if name.is_empty() {
            errs.msg_multi(format!("name is mandatory for {kind}"));
        }
        if !namespace.is_empty() && !labels::is_dns1123_label(namespace) {
            errs.msg_multi(format!(
                "namespace {} must be a valid label",
                quote(namespace)
            ));
        }
    }
}

/// Checks the services a binding applies to.
fn validate_services(
    services: &[istio_api::istio::mixer::v1::config::client::IstioService],
    errs: &mut Errors,
) {
    if services.is_empty() {
        errs.msg_multi("at least one service must be specified");
    }
    for service in services {
        errs.append_multi(validate_mixer_service(service));
    }
}

/// Checks an HTTPAPISpecBinding: services and spec references. Errors are returned as a list.
pub fn validate_http_api_spec_binding(
    _name: &str,
    _namespace: &str,
    binding: &HttpapiSpecBinding,
) -> Result {
    let mut errs = Errors::new();
    validate_services(&binding.services, &mut errs);
    validate_spec_references(
        binding
            .api_specs
            .iter()
            .map(|s| (s.name.as_str(), s.namespace.as_str())),
        "HTTPAPISpecReference",
        &mut errs,
    );
    errs.finish()
}

/// Checks a QuotaSpec: at least one rule, non-empty match clauses, and at least one quota per
/// rule with a name and a positive charge. Errors are returned as a list.
pub fn validate_quota_spec(_name: &str, _namespace: &str, spec: &QuotaSpec) -> Result {
    let mut errs = Errors::new();
    if spec.rules.is_empty() {
        errs.msg_multi("a least one rule must be specified");
    }
    for rule in &spec.rules {
        for m in &rule.r#match {
            for name in m.clause.keys() {
                let (kind, value) = match &m.clause[name].match_type {
                    Some(MatchType::Exact(v)) => ("StringMatch_Exact", v),
                    Some(MatchType::Prefix(v)) => ("StringMatch_Prefix", v),
                    Some(MatchType::Regex(v)) => ("StringMatch_Regex", v),
                    None => continue,
                };
                if value.is_empty() {
                    errs.msg_multi(format!(
                        "{kind} for attribute {} cannot be empty",
                        quote(name)
                    ));
                }
            }
        }
        if rule.quotas.is_empty() {
            errs.msg_multi("a least one quota must be specified");
        }
        for quota in &rule.quotas {
            if quota.quota.is_empty() {
                errs.msg_multi("quota name cannot be empty");
            }
            if quota.charge <= 0 {
                errs.msg_multi("quota charge amount must be positive");
            }
        }
    }
    errs.finish()
}

/// Checks a QuotaSpecBinding: services and quota spec references. Errors are returned as a
/// list.
pub fn validate_quota_spec_binding(
    _name: &str,
    _namespace: &str,
    binding: &QuotaSpecBinding,
) -> Result {
    let mut errs = Errors::new();
    validate_services(&binding.services, &mut errs);
    validate_spec_references(
        binding
            .quota_specs
            .iter()
            .map(|s| (s.name.as_str(), s.namespace.as_str())),
        "QuotaSpecReference",
        &mut errs,
    );
    errs.finish()
}

#[cfg(test)]
mod tests;
