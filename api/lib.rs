//! Istio 1.4 API wire formats.
//!
//! Every message of istio/api (branch release-1.4) that the 1.4 control plane speaks, plus the
//! Citadel CA services, generated at build time from the `.proto` files in this crate. Module
//! paths follow the proto packages (`istio.networking.v1alpha3` is
//! [`istio::networking::v1alpha3`]). Messages implement [`prost::Message`] and [`prost::Name`]
//! (type URLs under `type.googleapis.com/`), and serde via pbjson, which follows the protobuf
//! JSON mapping: camelCase names (original names accepted on input), enums by name, 64-bit
//! integers as strings, well-known types in their JSON forms. Unknown fields are rejected on
//! input, as upstream's jsonpb does.
#![forbid(unsafe_code)]
#![allow(clippy::all, rustdoc::all, missing_docs)]

macro_rules! proto_package {
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file, ".rs"));
        include!(concat!(env!("OUT_DIR"), "/", $file, ".serde.rs"));
    };
}

pub mod google {
    pub mod rpc {
        proto_package!("google.rpc");
    }
}

pub mod istio {
    pub mod authentication {
        pub mod v1alpha1 {
            proto_package!("istio.authentication.v1alpha1");
        }
    }
    pub mod mcp {
        pub mod v1alpha1 {
            proto_package!("istio.mcp.v1alpha1");
        }
    }
    pub mod mesh {
        pub mod v1alpha1 {
            proto_package!("istio.mesh.v1alpha1");
        }
    }
    pub mod mixer {
        pub mod adapter {
            pub mod model {
                pub mod v1beta1 {
                    proto_package!("istio.mixer.adapter.model.v1beta1");
                }
            }
        }
        pub mod v1 {
            proto_package!("istio.mixer.v1");
            pub mod config {
                pub mod client {
                    proto_package!("istio.mixer.v1.config.client");
                }
            }
        }
    }
    pub mod networking {
        pub mod v1alpha3 {
            proto_package!("istio.networking.v1alpha3");
        }
    }
    pub mod policy {
        pub mod v1beta1 {
            proto_package!("istio.policy.v1beta1");
        }
    }
    pub mod rbac {
        pub mod v1alpha1 {
            proto_package!("istio.rbac.v1alpha1");
        }
    }
    pub mod security {
        pub mod v1beta1 {
            proto_package!("istio.security.v1beta1");
        }
    }
    pub mod r#type {
        pub mod v1beta1 {
            proto_package!("istio.r#type.v1beta1");
        }
    }
    /// Citadel's CA services (`istio.v1.auth`), from istio/istio `security/proto`.
    pub mod v1 {
        pub mod auth {
            proto_package!("istio.v1.auth");
        }
    }
}

/// Well-known types, re-exported so dependents need not name `pbjson-types` themselves.
pub use pbjson_types as wkt;

/// The encoded `FileDescriptorSet` of every proto in this crate (imports included), for
/// reflection and dynamic JSON of `Any` payloads.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/istio_descriptor.bin"));

/// The descriptors of every message in this crate, for schema-aware processing (e.g. reading
/// JSON the way upstream's jsonpb does before handing it to the generated serde impls).
pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::LazyLock<prost_reflect::DescriptorPool> =
        std::sync::LazyLock::new(|| {
            prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect(
                "the descriptor set is produced by this crate's build script and always decodes",
            )
        });
    &POOL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_pool_holds_every_package_and_its_imports() {
        let pool = descriptor_pool();
        for name in [
            "istio.networking.v1alpha3.VirtualService",
            "istio.mesh.v1alpha1.MeshConfig",
            "istio.policy.v1beta1.Rule",
            "istio.mixer.adapter.model.v1beta1.Info",
            "istio.mcp.v1alpha1.Resource",
            "istio.v1.auth.CsrRequest",
            "google.protobuf.Duration",
            "google.protobuf.Struct",
            "google.rpc.Status",
        ] {
            assert!(pool.get_message_by_name(name).is_some(), "{name} missing");
        }
    }

    #[test]
    fn type_urls_use_the_googleapis_domain() {
        use prost::Name;
        assert_eq!(
            istio::networking::v1alpha3::VirtualService::type_url(),
            "type.googleapis.com/istio.networking.v1alpha3.VirtualService"
        );
        assert_eq!(
            istio::mcp::v1alpha1::Resource::full_name(),
            "istio.mcp.v1alpha1.Resource"
        );
    }
}
