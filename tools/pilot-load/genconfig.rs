//! Benchmark meshes: `services` ServiceEntries (MESH_INTERNAL, STATIC, one VIP, an HTTP and a
//! TCP port, `endpoints` endpoints each) spread over `namespaces` namespaces, one file per
//! namespace.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of services.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,
    /// Endpoints per service.
    #[arg(long, default_value_t = 10)]
    pub endpoints: usize,
    /// Namespaces (ns-0 ..).
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    /// Output directory (created; existing mesh-*.yaml files are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

/// Renders namespace `ns`'s ServiceEntries.
pub fn render(args: &Args, ns: usize) -> String {
    let mut y = String::new();
    for s in (0..args.services).filter(|s| s % args.namespaces.max(1) == ns) {
        let _ = write!(
            y,
            "---\napiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: svc-{s}\n  namespace: ns-{ns}\n\
             spec:\n  hosts:\n  - svc-{s}.ns-{ns}.svc.cluster.local\n  addresses:\n  - 240.{}.{}.{}\n  location: MESH_INTERNAL\n  resolution: STATIC\n\
             \x20 ports:\n  - number: 8080\n    name: http\n    protocol: HTTP\n  - number: 9090\n    name: tcp\n    protocol: TCP\n  endpoints:\n",
            (s >> 16) & 255,
            (s >> 8) & 255,
            s & 255
        );
        for e in 0..args.endpoints {
            let n = s * args.endpoints + e;
            let _ = writeln!(
                y,
                "  - address: 10.{}.{}.{}\n    labels:\n      app: svc-{s}",
                (n >> 16) & 63,
                (n >> 8) & 255,
                n & 255
            );
        }
    }
    y
}

/// Writes the mesh; returns a one-line summary.
pub fn write(args: &Args) -> anyhow::Result<String> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for ns in 0..args.namespaces.max(1) {
        let path = args.out.join(format!("mesh-ns-{ns}.yaml"));
        std::fs::write(&path, render(args, ns))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(format!(
        "wrote {} services x {} endpoints in {} namespaces to {}",
        args.services,
        args.endpoints,
        args.namespaces.max(1),
        args.out.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_once_with_its_endpoints() {
        let args = Args {
            services: 7,
            endpoints: 3,
            namespaces: 3,
            out: PathBuf::new(),
        };
        let all: String = (0..3).map(|ns| render(&args, ns)).collect();
        assert_eq!(all.matches("kind: ServiceEntry").count(), 7);
        assert_eq!(all.matches("  - address: ").count(), 21);
        assert!(render(&args, 1).contains("svc-4.ns-1.svc.cluster.local"));
    }
}
