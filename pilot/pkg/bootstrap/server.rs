//! `pilot-discovery discovery`: builds the environment from the flags, starts the config
//! stores, registries and the xDS server, and serves gRPC and HTTP until shutdown (upstream
//! `pilot/pkg/bootstrap/server.go`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, Context};
use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use istio_api::istio::mesh::v1alpha1::{MeshConfig, MeshNetworks};
use istio_pkg::config::mesh;
use istio_pkg::keepalive;

use crate::config::file::{FileOptions, FileStore};
use crate::config::kube::crd::{CrdOptions, CrdStore};
use crate::config::memory::MemoryStore;
use crate::features::Features;
use crate::model::{
    self, ConfigStore, ConfigStoreCache, Environment, IstioEndpoint, PushRequest, ServiceDiscovery,
    XdsUpdater,
};
use crate::networking::core::v1alpha3::ConfigGeneratorImpl;
use crate::networking::plugin::health::HealthPlugin;
use crate::networking::plugin::mixer::MixerPlugin;
use crate::proxy::envoy::v2::discovery::DiscoveryServer;
use crate::serviceregistry::aggregate::{self, Aggregate};
use crate::serviceregistry::external::ServiceEntryStore;
use crate::serviceregistry::kube::controller::{Controller, Options as KubeOptions};
use crate::serviceregistry::memory;

use super::args::PilotArgs;
use super::{http, secure};

/// An endpoint update received before the server existed: (shard, hostname, namespace,
/// endpoints).
type EarlyEds = (String, String, String, Vec<IstioEndpoint>);

/// Cluster id of the in-memory registry every pilot has.
pub const DEBUG_REGISTRY: &str = "v2-debug";

/// Readiness conditions of registries, checked by `/ready`.
type SyncCheck = Box<dyn Fn() -> bool + Send + Sync>;

/// What starting a background registry needs from the server.
struct Spawner<'a> {
    updater: Arc<DeferredUpdater>,
    shutdown: CancellationToken,
    tasks: &'a mut JoinSet<anyhow::Result<()>>,
    sync_checks: &'a mut Vec<SyncCheck>,
}

/// Forwards registry and store events to the discovery server once it exists (registries are
/// built before the server, which needs the environment they are part of). Endpoint updates
/// that arrive earlier are kept and replayed, so the endpoint index misses nothing; other
/// early events are covered by the first push context, which is built after the caches sync.
#[derive(Default)]
pub struct DeferredUpdater {
    target: OnceLock<Arc<dyn XdsUpdater>>,
    early_eds: std::sync::Mutex<Vec<EarlyEds>>,
}

impl DeferredUpdater {
    pub fn set(&self, target: Arc<dyn XdsUpdater>) {
        let mut early = self.early_eds.lock().unwrap_or_else(|e| e.into_inner());
        if self.target.set(target.clone()).is_ok() {
            for (shard, host, ns, eps) in early.drain(..) {
                target.eds_update(&shard, &host, &ns, eps);
            }
        }
    }
}

impl XdsUpdater for DeferredUpdater {
    fn eds_update(&self, shard: &str, hostname: &str, namespace: &str, eps: Vec<IstioEndpoint>) {
        if let Some(t) = self.target.get() {
            return t.eds_update(shard, hostname, namespace, eps);
        }
        let mut early = self.early_eds.lock().unwrap_or_else(|e| e.into_inner());
        match self.target.get() {
            // Set while we waited for the lock.
            Some(t) => t.eds_update(shard, hostname, namespace, eps),
            None => early.push((shard.into(), hostname.into(), namespace.into(), eps)),
        }
    }

    fn svc_update(&self, shard: &str, hostname: &str, namespace: &str, event: model::Event) {
        if let Some(t) = self.target.get() {
            t.svc_update(shard, hostname, namespace, event);
        }
    }

    fn config_update(&self, req: PushRequest) {
        if let Some(t) = self.target.get() {
            t.config_update(req);
        }
    }

    fn proxy_update(&self, cluster_id: &str, ip: &str) {
        if let Some(t) = self.target.get() {
            t.proxy_update(cluster_id, ip);
        }
    }
}

/// Where the servers ended up listening (ports resolved), for tests and logs.
#[derive(Debug, Clone, Default)]
pub struct Listening {
    pub grpc: Option<std::net::SocketAddr>,
    pub http: Option<std::net::SocketAddr>,
    pub monitoring: Option<std::net::SocketAddr>,
    pub secure_grpc: Option<std::net::SocketAddr>,
}

/// Reads the mesh config file; a missing file means the defaults (upstream falls back to the
/// `istio` ConfigMap and then the defaults).
fn load_mesh(path: &Path) -> anyhow::Result<MeshConfig> {
    if path.as_os_str().is_empty() || !path.exists() {
        info!(
            "no mesh config at {}; using the default mesh config",
            path.display()
        );
        return Ok(mesh::default_mesh_config());
    }
    mesh::read_mesh_config(path).with_context(|| format!("reading mesh config {}", path.display()))
}

fn load_networks(path: &Path) -> anyhow::Result<MeshNetworks> {
    if path.as_os_str().is_empty() || !path.exists() {
        return Ok(mesh::empty_mesh_networks());
    }
    mesh::read_mesh_networks(path)
        .with_context(|| format!("reading mesh networks {}", path.display()))
}

/// The `mesh` key of the `istio` ConfigMap in `namespace`, if present and valid.
async fn mesh_from_configmap(client: &kube::Client, namespace: &str) -> Option<MeshConfig> {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), namespace);
    let cm = match api.get_opt("istio").await {
        Ok(Some(cm)) => cm,
        Ok(None) => return None,
        Err(e) => {
            warn!("cannot read ConfigMap {namespace}/istio: {e}");
            return None;
        }
    };
    let text = cm.data.as_ref()?.get("mesh")?;
    match mesh::apply_mesh_config_defaults(text) {
        Ok(m) => {
            info!("mesh config from ConfigMap {namespace}/istio");
            Some(m)
        }
        Err(e) => {
            error!("ConfigMap {namespace}/istio has an invalid mesh config, using defaults: {e}");
            None
        }
    }
}

/// The Kubernetes service registry (Services, Endpoints, Pods, Nodes), started.
async fn kube_registry(
    client: kube::Client,
    args: &PilotArgs,
    mesh: &MeshConfig,
    features: &Features,
    spawner: Spawner<'_>,
) -> anyhow::Result<aggregate::Registry> {
    let trust_domain = if !args.trust_domain.is_empty() {
        args.trust_domain.clone()
    } else if !mesh.trust_domain.is_empty() {
        mesh.trust_domain.clone()
    } else {
        "cluster.local".to_owned()
    };
    let opts = KubeOptions {
        domain_suffix: args.domain.clone(),
        watched_namespace: (!args.app_namespace.is_empty()).then(|| args.app_namespace.clone()),
        trust_domain,
        mixer_enabled: !mesh.mixer_check_server.is_empty() || !mesh.mixer_report_server.is_empty(),
        enable_headless_service: features.enable_headless_service,
        ..Default::default()
    };
    let cluster_id = opts.cluster_id.clone();
    let controller = Controller::new(client, opts, spawner.updater);
    let synced = controller.clone();
    spawner
        .sync_checks
        .push(Box::new(move || synced.has_synced()));
    let c = controller.clone();
    let shutdown = spawner.shutdown;
    spawner.tasks.spawn(async move {
        c.run(shutdown).await;
        Ok(())
    });
    Ok(aggregate::Registry {
        name: "Kubernetes".into(),
        cluster_id,
        discovery: controller,
    })
}

/// A running pilot.
pub struct Server {
    pub env: Arc<Environment>,
    pub discovery: Arc<DiscoveryServer>,
    /// The `v2-debug` in-memory registry (upstream's `DiscoveryServer.MemRegistry`).
    pub mem_registry: Arc<memory::MemoryRegistry>,
    /// The process's metrics as Prometheus text (`/metrics`, ControlZ).
    pub metrics: http::MetricsFn,
    pub listening: Listening,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Server {
    /// Builds everything and starts serving. Returns once the listeners are bound and the
    /// caches have synced (or `sync_timeout` passed).
    pub async fn start(
        args: PilotArgs,
        keepalive: keepalive::Args,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Server> {
        args.validate().map_err(|e| anyhow!(e))?;
        let (features, warnings) = Features::from_env();
        for w in warnings {
            warn!("{w}");
        }
        let mesh_config = load_mesh(Path::new(&args.mesh_config))?;
        let networks = load_networks(Path::new(&args.networks_config))?;
        let mut tasks = JoinSet::new();
        let updater = Arc::new(DeferredUpdater::default());

        let wants_kube = args.has_registry("Kubernetes") || args.config_dir.is_empty();
        let kube_client = if wants_kube {
            Some(
                istio_pkg::kube::client(
                    (!args.kubeconfig.is_empty()).then_some(Path::new(&args.kubeconfig)),
                    None,
                )
                .await
                .context("connecting to Kubernetes (use --configDir and --registries= to run without it)")?,
            )
        } else {
            None
        };

        let namespace = if args.namespace.is_empty() {
            features.istio_namespace.clone()
        } else {
            args.namespace.clone()
        };
        // Upstream reads the `istio` ConfigMap when the mesh file is missing.
        let mesh_config = match (&kube_client, Path::new(&args.mesh_config).exists()) {
            (Some(client), false) => mesh_from_configmap(client, &namespace)
                .await
                .unwrap_or(mesh_config),
            _ => mesh_config,
        };
        if let (Some(client), true, false) = (
            &kube_client,
            args.config_dir.is_empty(),
            args.disable_install_crds,
        ) {
            let crds: Vec<_> = crate::model::push_context::PUSH_KINDS
                .iter()
                .map(|k| istio_pkg::config::crd::crd(k.schema()))
                .collect();
            let created = istio_pkg::kube::crd::create_missing_crds(
                client.clone(),
                &crds,
                Duration::from_secs(60),
            )
            .await
            .context("installing missing Istio CRDs (or pass --disable-install-crds)")?;
            if !created.is_empty() {
                info!("installed missing CRDs: {}", created.join(", "));
            }
        }

        // Config: --configDir, else the Istio CRDs. MCP (configSources) is not available yet.
        if !mesh_config.config_sources.is_empty() && args.config_dir.is_empty() {
            warn!("mesh configSources (MCP) are not supported yet; reading Istio CRDs instead");
        }
        let store: Arc<dyn ConfigStoreCache> = if !args.config_dir.is_empty() {
            let opts = FileOptions {
                domain_suffix: args.domain.clone(),
                ..Default::default()
            };
            let s = Arc::new(FileStore::new(&args.config_dir, opts));
            let s2 = s.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                s2.run(stop).await;
                Ok(())
            });
            s
        } else if let Some(client) = &kube_client {
            let opts = CrdOptions {
                domain_suffix: args.domain.clone(),
                watched_namespace: (!args.app_namespace.is_empty())
                    .then(|| args.app_namespace.clone()),
                ..Default::default()
            };
            let s = Arc::new(CrdStore::new(client.clone(), opts));
            let s2 = s.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                s2.run(stop).await;
                Ok(())
            });
            s
        } else {
            Arc::new(MemoryStore::istio())
        };

        // Registries: those of --registries in order, then ServiceEntries (always on).
        let mut registries: Vec<aggregate::Registry> = Vec::new();
        let mut sync_checks: Vec<SyncCheck> = Vec::new();
        for r in &args.registries {
            match r.as_str() {
                "" => {}
                "Kubernetes" => {
                    let client = kube_client.clone().context("Kubernetes client")?;
                    registries.push(
                        kube_registry(
                            client,
                            &args,
                            &mesh_config,
                            &features,
                            Spawner {
                                updater: updater.clone(),
                                shutdown: shutdown.clone(),
                                tasks: &mut tasks,
                                sync_checks: &mut sync_checks,
                            },
                        )
                        .await?,
                    );
                }
                "Mock" => registries.extend(memory::mock_registries()),
                other => {
                    return Err(anyhow!(
                        "--registries: the {other} registry is not supported yet"
                    ))
                }
            }
        }
        let se = ServiceEntryStore::new(store.clone(), updater.clone());
        registries.push(aggregate::Registry {
            name: "ServiceEntries".into(),
            cluster_id: String::new(),
            discovery: se,
        });
        // As upstream, an in-memory registry (cluster `v2-debug`), empty unless a test or a
        // load tool adds services through [`Server::mem_registry`].
        let mem_registry = Arc::new(memory::MemoryRegistry::new(
            DEBUG_REGISTRY,
            Some(updater.clone() as Arc<dyn XdsUpdater>),
        ));
        registries.push(aggregate::Registry {
            name: "memAdapter".into(),
            cluster_id: DEBUG_REGISTRY.into(),
            discovery: mem_registry.clone(),
        });
        let aggregate: Arc<dyn ServiceDiscovery> = Arc::new(Aggregate::new(registries));

        let store_read: Arc<dyn ConfigStore> = store.clone();
        let env = Arc::new(Environment::new(
            aggregate,
            store_read,
            mesh_config,
            networks,
            args.domain.clone(),
        ));
        // The networking plugins named by --plugins, in that order (upstream's registry knows
        // authn, authz, health and mixer; authn and authz are not ported yet and are skipped,
        // with a warning).
        let mut generator = ConfigGeneratorImpl::new(features.clone());
        for name in &args.plugins {
            match name.as_str() {
                "health" => generator = generator.with_plugin(Arc::new(HealthPlugin)),
                "mixer" => generator = generator.with_plugin(Arc::new(MixerPlugin::new())),
                "authn" | "authz" => {
                    warn!("--plugins: the {name} plugin is not available yet; skipped")
                }
                other => warn!("--plugins: unknown plugin {other:?}; skipped"),
            }
        }
        let generator = Arc::new(generator);
        let mut registry = Registry::default();
        let discovery =
            DiscoveryServer::new(env.clone(), generator, features.clone(), &mut registry);
        updater.set(discovery.clone());

        // Every config change is a full push scoped to its kind and namespace.
        for &kind in crate::model::push_context::PUSH_KINDS {
            let d = discovery.clone();
            store.register_event_handler(
                kind,
                Arc::new(move |_old, cfg, _event| {
                    let mut req = PushRequest::full();
                    req.config_types_updated.insert(cfg.meta.kind);
                    if !cfg.meta.namespace.is_empty() {
                        req.namespaces_updated.insert(cfg.meta.namespace.clone());
                    }
                    d.config_update(req);
                }),
            );
        }
        {
            let store = store.clone();
            discovery.add_ready_check(move || store.has_synced());
        }
        for check in sync_checks {
            discovery.add_ready_check(check);
        }

        // Wait for the initial state before serving (as upstream's cache sync), then build the
        // first push context from it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !discovery.is_ready() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !discovery.is_ready() {
            warn!("caches did not sync within 30s; serving what is known");
        }
        discovery.start(shutdown.clone());
        discovery.push(PushRequest::full()).await;

        let mut listening = Listening::default();
        // gRPC (ADS v2 + v3).
        if !args.grpc_addr.is_empty() {
            let listener = http::bind(&args.grpc_addr).await.context("--grpcAddr")?;
            listening.grpc = listener.local_addr().ok();
            let mut builder = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(keepalive.interval))
                .http2_keepalive_timeout(Some(keepalive.timeout))
                .max_concurrent_streams(features.max_concurrent_streams);
            if let Some(age) = keepalive.max_connection_age() {
                builder = builder
                    .max_connection_age(age)
                    .max_connection_age_grace(keepalive::Args::MAX_CONNECTION_AGE_GRACE);
            }
            let router = builder.add_routes(discovery.grpc_routes());
            let stop = shutdown.clone();
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            tasks.spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                    .await
                    .context("gRPC server")
            });
        }
        // HTTP: the same mux on --httpAddr and --monitoringAddr.
        let registry = Arc::new(registry);
        let metrics: http::MetricsFn = {
            let registry = registry.clone();
            Arc::new(move || istio_pkg::monitoring::encode(&registry))
        };
        let mux = discovery
            .debug_router()
            .merge(http::monitoring_routes(metrics.clone()));
        for (flag, addr, slot) in [
            ("--httpAddr", &args.http_addr, &mut listening.http),
            (
                "--monitoringAddr",
                &args.monitoring_addr,
                &mut listening.monitoring,
            ),
        ] {
            if addr.is_empty() {
                continue;
            }
            let listener = http::bind(addr).await.with_context(|| flag.to_string())?;
            *slot = listener.local_addr().ok();
            let stop = shutdown.clone();
            let router = mux.clone();
            tasks.spawn(async move {
                http::serve(listener, router, stop.cancelled_owned())
                    .await
                    .with_context(|| format!("HTTP server on {flag}"))
            });
        }

        // Secure port: TLS with client certificates, ADS and the HTTP mux together.
        if !args.secure_grpc_addr.is_empty() {
            let dir = if features.cert_dir.is_empty() {
                secure::DEFAULT_CERT_DIR.to_owned()
            } else {
                features.cert_dir.clone()
            };
            let config = secure::tls_config(Path::new(&dir))?;
            let listener = http::bind(&args.secure_grpc_addr)
                .await
                .context("--secureGrpcAddr")?;
            listening.secure_grpc = listener.local_addr().ok();
            let router = discovery
                .grpc_routes()
                .into_axum_router()
                .merge(mux.clone());
            let stop = shutdown.clone();
            tasks.spawn(async move {
                secure::serve(listener, config, router, stop)
                    .await
                    .context("secure gRPC server")
            });
        }

        // Mesh config reloads.
        let (mesh_path, net_path) = (
            PathBuf::from(&args.mesh_config),
            PathBuf::from(&args.networks_config),
        );
        if mesh_path.exists() || net_path.exists() {
            let files: Vec<PathBuf> = [&mesh_path, &net_path]
                .into_iter()
                .filter(|p| !p.as_os_str().is_empty() && p.parent().is_some_and(|d| d.is_dir()))
                .cloned()
                .collect();
            match istio_pkg::filewatcher::watch(&files, Duration::from_millis(100)) {
                Ok((watcher, mut rx)) => {
                    let env = env.clone();
                    let d = discovery.clone();
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        let _watcher = watcher;
                        loop {
                            tokio::select! {
                                _ = stop.cancelled() => return Ok(()),
                                ev = rx.recv() => if ev.is_none() { return Ok(()) },
                            }
                            let mut changed = false;
                            match load_mesh(&mesh_path) {
                                Ok(m) if *env.mesh() != m => {
                                    info!("mesh config changed; reloading");
                                    env.set_mesh(m);
                                    changed = true;
                                }
                                Ok(_) => {}
                                Err(e) => error!("keeping the previous mesh config: {e:#}"),
                            }
                            match load_networks(&net_path) {
                                Ok(n) if *env.mesh_networks() != n => {
                                    info!("mesh networks changed; reloading");
                                    env.set_mesh_networks(n);
                                    changed = true;
                                }
                                Ok(_) => {}
                                Err(e) => error!("keeping the previous mesh networks: {e:#}"),
                            }
                            if changed {
                                d.config_update(PushRequest::full());
                            }
                        }
                    });
                }
                Err(e) => warn!("mesh config changes will not be picked up: {e}"),
            }
        }

        info!(
            "pilot-discovery serving: grpc={:?} http={:?} monitoring={:?}",
            listening.grpc, listening.http, listening.monitoring
        );
        Ok(Server {
            env,
            discovery,
            mem_registry,
            metrics,
            listening,
            tasks,
            shutdown,
        })
    }

    /// Waits until shutdown is requested and every server has drained, or one fails.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                r = self.tasks.join_next() => match r {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => { first_error = Some(e); self.shutdown.cancel(); break }
                    Some(Err(e)) => { first_error = Some(anyhow!("task failed: {e}")); self.shutdown.cancel(); break }
                }
            }
        }
        // Drain: give servers time to finish in-flight work.
        let drain = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(r) = self.tasks.join_next().await {
                if let Ok(Err(e)) = r {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        });
        if drain.await.is_err() {
            warn!("servers did not stop within 10s; exiting anyway");
            self.tasks.abort_all();
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
