//! ControlZ flags (upstream `istio.io/pkg/ctrlz`): every Istio server accepts them.
//!
//! The introspection server itself is not served yet; the flags are accepted so existing
//! command lines keep working.

/// ControlZ listener settings.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
#[group(id = "ctrlz_args")]
pub struct Args {
    /// The IP port to use for the ControlZ introspection facility.
    #[arg(
        long = "ctrlz_port",
        value_name = "PORT",
        default_value_t = 9876,
        global = true
    )]
    pub port: u16,

    /// The IP Address to listen on for the ControlZ introspection facility. Use '*' to
    /// indicate all addresses.
    #[arg(
        long = "ctrlz_address",
        value_name = "ADDRESS",
        default_value = "localhost",
        global = true
    )]
    pub address: String,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            port: 9876,
            address: "localhost".into(),
        }
    }
}
