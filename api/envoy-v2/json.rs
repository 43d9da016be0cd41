//! proto3 JSON of v2 messages, for pilot's debug endpoints (`/debug/config_dump`, …).

use prost::Message as _;
use prost_reflect::{DynamicMessage, SerializeOptions, Value};

use crate::{pool, type_name, Error};

/// How [`to_json_with`] renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// Field names as in the `.proto` (`filter_chains`), as Envoy's config dump writes them;
    /// `false` gives the lowerCamelCase JSON names (`filterChains`) of default jsonpb.
    pub proto_field_names: bool,
    /// Also write fields that have their default value (jsonpb's `EmitDefaults`).
    pub emit_defaults: bool,
    /// Enums as numbers instead of names.
    pub enums_as_numbers: bool,
}

impl JsonOptions {
    /// As Envoy's admin `/config_dump`: `.proto` field names (the default).
    pub const ENVOY_CONFIG_DUMP: JsonOptions = JsonOptions {
        proto_field_names: true,
        emit_defaults: false,
        enums_as_numbers: false,
    };
    /// As upstream pilot's debug handlers (`/debug/config_dump`, `/debug/adsz`, …), which use
    /// golang/protobuf's default `jsonpb.Marshaler`: lowerCamelCase JSON names.
    pub const JSONPB: JsonOptions = JsonOptions {
        proto_field_names: false,
        emit_defaults: false,
        enums_as_numbers: false,
    };
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions::ENVOY_CONFIG_DUMP
    }
}

/// An `Any` (with v2 type URLs, e.g. the output of [`crate::downgrade`]) as proto3 JSON: an
/// object with `@type` and the message's fields, nested `Any` values likewise, field names as
/// in the `.proto` files (as Envoy's config dump).
pub fn to_json(any: &prost_types::Any) -> Result<serde_json::Value, Error> {
    to_json_with(any, &JsonOptions::default())
}

/// [`to_json`] with options.
pub fn to_json_with(
    any: &prost_types::Any,
    options: &JsonOptions,
) -> Result<serde_json::Value, Error> {
    let name = type_name(&any.type_url);
    let json_err = |reason: String| Error::Json {
        message: name.to_string(),
        reason,
    };
    let desc = pool()
        .get_message_by_name(name)
        .ok_or_else(|| Error::UnknownType {
            type_name: name.to_string(),
        })?;
    // Decoding first gives a precise error for the outer message; the Any wrapper below lets
    // prost-reflect write `@type` and resolve nested Any values through the same pool.
    DynamicMessage::decode(desc, any.value.as_slice()).map_err(|e| json_err(e.to_string()))?;
    let any_desc = pool()
        .get_message_by_name("google.protobuf.Any")
        .ok_or_else(|| Error::UnknownType {
            type_name: "google.protobuf.Any".to_string(),
        })?;
    let mut wrapper = DynamicMessage::new(any_desc);
    wrapper.set_field_by_number(1, Value::String(any.type_url.clone()));
    wrapper.set_field_by_number(2, Value::Bytes(any.value.clone().into()));
    message_to_json(&wrapper, options).map_err(json_err)
}

/// A decoded message (e.g. from [`crate::golden::from_go_json`]) as proto3 JSON.
pub fn message_json(
    msg: &DynamicMessage,
    options: &JsonOptions,
) -> Result<serde_json::Value, Error> {
    message_to_json(msg, options).map_err(|reason| Error::Json {
        message: prost_reflect::ReflectMessage::descriptor(msg)
            .full_name()
            .to_string(),
        reason,
    })
}

/// A dynamic message as proto3 JSON.
pub(crate) fn message_to_json(
    msg: &DynamicMessage,
    options: &JsonOptions,
) -> Result<serde_json::Value, String> {
    let opts = SerializeOptions::new()
        .use_proto_field_name(options.proto_field_names)
        .skip_default_fields(!options.emit_defaults)
        .use_enum_numbers(options.enums_as_numbers)
        .stringify_64_bit_integers(true);
    msg.serialize_with_options(serde_json::value::Serializer, &opts)
        .map_err(|e| e.to_string())
}

/// Encodes a dynamic message (helper shared with the golden module).
pub(crate) fn encode(msg: &DynamicMessage) -> Vec<u8> {
    msg.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::listener::v3 as listener;
    use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{
        tcp_proxy::ClusterSpecifier, TcpProxy,
    };
    use envoy_types::pb::google::protobuf as pbwkt;
    use prost::Name;
    use serde_json::json;

    use super::*;

    fn listener_any() -> prost_types::Any {
        let tcp = TcpProxy {
            stat_prefix: "s".into(),
            cluster_specifier: Some(ClusterSpecifier::Cluster("c".into())),
            ..Default::default()
        };
        let l = listener::Listener {
            name: "l".into(),
            filter_chains: vec![listener::FilterChain {
                filters: vec![listener::Filter {
                    name: "envoy.tcp_proxy".into(),
                    config_type: Some(listener::filter::ConfigType::TypedConfig(pbwkt::Any {
                        type_url: TcpProxy::type_url(),
                        value: tcp.encode_to_vec(),
                    })),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        crate::downgrade(prost_types::Any {
            type_url: listener::Listener::type_url(),
            value: l.encode_to_vec(),
        })
        .unwrap()
    }

    #[test]
    fn listener_as_config_dump_json() {
        assert_eq!(
            to_json(&listener_any()).unwrap(),
            json!({
                "@type": "type.googleapis.com/envoy.api.v2.Listener",
                "name": "l",
                "filter_chains": [{"filters": [{
                    "name": "envoy.tcp_proxy",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.config.filter.network.tcp_proxy.v2.TcpProxy",
                        "stat_prefix": "s",
                        "cluster": "c"
                    }
                }]}]
            })
        );
        let camel = to_json_with(&listener_any(), &JsonOptions::JSONPB).unwrap();
        assert_eq!(
            camel["filterChains"][0]["filters"][0]["typedConfig"]["statPrefix"],
            json!("s"),
            "{camel}"
        );
    }

    #[test]
    fn json_errors() {
        let err = to_json(&prost_types::Any {
            type_url: "type.googleapis.com/envoy.config.listener.v3.Listener".into(),
            value: Vec::new(),
        })
        .unwrap_err();
        assert!(matches!(err, Error::UnknownType { .. }), "{err}");
        let err = to_json(&prost_types::Any {
            type_url: "type.googleapis.com/envoy.api.v2.Listener".into(),
            value: vec![0x0a, 0x09],
        })
        .unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err}");
    }
}
