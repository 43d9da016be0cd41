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

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            proto_field_names: true,
            emit_defaults: false,
            enums_as_numbers: false,
        }
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
