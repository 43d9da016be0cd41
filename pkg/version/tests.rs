//! Tests of build info and the `version` command, including upstream's table cases.

use clap::{Parser, Subcommand};

use super::command::{run_for, run_with_remote_for};
use super::*;

/// What an unstamped Go build reports, with our compiler in place of Go's.
fn unknown() -> BuildInfo {
    BuildInfo {
        version: "unknown".into(),
        git_revision: "unknown".into(),
        golang_version: "rustc 1.88.0".into(),
        build_status: "unknown".into(),
        git_tag: "unknown".into(),
    }
}

fn bi(v: &str, rev: &str, go: &str, status: &str, tag: &str) -> BuildInfo {
    BuildInfo {
        version: v.into(),
        git_revision: rev.into(),
        golang_version: go.into(),
        build_status: status.into(),
        git_tag: tag.into(),
    }
}

fn server(component: &str, info: BuildInfo) -> ServerInfo {
    ServerInfo {
        component: component.into(),
        info,
    }
}

fn single_version_mesh() -> MeshInfo {
    vec![
        server("Pilot", bi("1.2.0", "gitSHA123", "go1.10", "Clean", "tag")),
        server(
            "Injector",
            bi("1.2.0", "gitSHAabc", "go1.10.1", "Modified", "tag"),
        ),
        server(
            "Citadel",
            bi("1.2.0", "gitSHA321", "go1.11.0", "Clean", "tag"),
        ),
    ]
}

fn multi_version_mesh() -> MeshInfo {
    vec![
        server(
            "Pilot",
            bi("1.0.0", "gitSHA123", "go1.10", "Clean", "1.0.0"),
        ),
        server(
            "Injector",
            bi("1.0.1", "gitSHAabc", "go1.10.1", "Modified", "1.0.1"),
        ),
        server(
            "Citadel",
            bi("1.2", "gitSHA321", "go1.11.0", "Clean", "1.2"),
        ),
    ]
}

#[derive(Parser, Debug)]
#[command(name = "test")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    #[command(about = ABOUT)]
    Version(Args),
}

#[derive(Parser, Debug)]
#[command(name = "istioctl")]
struct RemoteCli {
    #[command(subcommand)]
    cmd: RemoteCmd,
}

#[derive(Subcommand, Debug)]
enum RemoteCmd {
    Version(RemoteArgs),
}

/// Parses `argv` as the plain command and runs it; returns (output, error text).
fn plain(argv: &str) -> (String, Option<String>) {
    let cli = match Cli::try_parse_from(std::iter::once("test").chain(argv.split(' '))) {
        Ok(c) => c,
        Err(e) => return (String::new(), Some(e.to_string())),
    };
    let Cmd::Version(args) = cli.cmd;
    let mut out = Vec::new();
    let res = run_for(&unknown(), &args, &mut out);
    (
        String::from_utf8(out).unwrap(),
        res.err().map(|e| e.to_string()),
    )
}

/// Parses `argv` as istioctl's command, with `mesh` as the remote answer.
fn remote(
    argv: &str,
    mesh: Result<MeshInfo, &str>,
    proxies: Option<Vec<ProxyInfo>>,
) -> (String, Option<String>) {
    let cli =
        RemoteCli::try_parse_from(std::iter::once("istioctl").chain(argv.split(' '))).unwrap();
    let RemoteCmd::Version(args) = cli.cmd;
    let mut out = Vec::new();
    let res = run_with_remote_for(
        &unknown(),
        &args,
        || mesh.map_err(|e| e.to_string()),
        || proxies.ok_or("no proxies"),
        &mut out,
    );
    (
        String::from_utf8(out).unwrap(),
        res.err().map(|e| e.to_string()),
    )
}

const LONG_UNKNOWN: &str = r#"version.BuildInfo{Version:"unknown", GitRevision:"unknown", GolangVersion:"rustc 1.88.0", BuildStatus:"unknown", GitTag:"unknown"}"#;

const CLIENT_YAML: &str = "clientVersion:\n  golang_version: rustc 1.88.0\n  revision: unknown\n  status: unknown\n  tag: unknown\n  version: unknown\n";

const CLIENT_JSON: &str = "{\n  \"clientVersion\": {\n    \"version\": \"unknown\",\n    \"revision\": \"unknown\",\n    \"golang_version\": \"rustc 1.88.0\",\n    \"status\": \"unknown\",\n    \"tag\": \"unknown\"\n  }";

#[test]
fn string_and_long_form() {
    let b = bi("VER", "GITREV", "GOLANGVER", "STATUS", "TAG");
    assert_eq!(b.to_string(), "VER-GITREV-STATUS");
    assert_eq!(
        b.long_form(),
        r#"version.BuildInfo{Version:"VER", GitRevision:"GITREV", GolangVersion:"GOLANGVER", BuildStatus:"STATUS", GitTag:"TAG"}"#
    );
    assert_eq!(unknown().to_string(), "unknown-unknown-unknown");
    assert_eq!(
        bi("a\"b", "", "", "", "").long_form(),
        r#"version.BuildInfo{Version:"a\"b", GitRevision:"", GolangVersion:"", BuildStatus:"", GitTag:""}"#
    );
    let p = ProxyInfo {
        id: "details-v1.default".into(),
        istio_version: "1.4.10".into(),
    };
    assert_eq!(
        p.long_form(),
        r#"version.ProxyInfo{ID:"details-v1.default", IstioVersion:"1.4.10"}"#
    );
}

#[test]
fn compiled_in_values() {
    let info = info();
    assert_eq!(info, &BuildInfo::current());
    assert_eq!(info.version, BUILD_VERSION);
    assert_eq!(info.git_revision, BUILD_GIT_REVISION);
    assert_eq!(info.golang_version, BUILD_RUSTC_VERSION);
    assert_eq!(info.build_status, BUILD_STATUS);
    assert_eq!(info.git_tag, BUILD_GIT_TAG);
    assert_eq!(docker_info().tag, BUILD_VERSION);
    assert_eq!(docker_info().hub, BUILD_HUB);
    // Without ISTIO_VERSION the crate version stands in.
    if option_env!("ISTIO_VERSION").is_none_or(str::is_empty) {
        assert_eq!(BUILD_VERSION, env!("CARGO_PKG_VERSION"));
    }
    if option_env!("ISTIO_GIT_REVISION").is_none_or(str::is_empty) {
        assert_eq!(BUILD_GIT_REVISION, "unknown");
    }
    assert_eq!(or_default(Some(""), "d"), "d");
    assert_eq!(or_default(None, "d"), "d");
    assert_eq!(or_default(Some("v"), "d"), "v");
}

#[test]
fn old_string_parsing() {
    let modern = "Version: 1.0.0\nGitRevision: 3a136c90ec5e308f236e0d7ebb5c4c5e405217f4\nGolangVersion: go1.10.1\nBuildStatus: Clean\nGitTag: tag\n";
    let want = bi(
        "1.0.0",
        "3a136c90ec5e308f236e0d7ebb5c4c5e405217f4",
        "go1.10.1",
        "Clean",
        "tag",
    );
    assert_eq!(BuildInfo::from_old_string(modern), Ok(want.clone()));
    let legacy = "Version: 1.0.0\nGitRevision: 3a136c90ec5e308f236e0d7ebb5c4c5e405217f4\nUser: root@71a9470ea93c\nHost: foo\nHub: docker.io/istio\nGolangVersion: go1.10.1\nBuildStatus: Clean\nGitTag: tag\n";
    assert_eq!(BuildInfo::from_old_string(legacy), Ok(want));
    assert_eq!(
        BuildInfo::from_old_string("Xuxa").unwrap_err().to_string(),
        "invalid BuildInfo input, field 'Xuxa' is not valid"
    );
    assert_eq!(
        BuildInfo::from_old_string("Xuxa:Xuxo"),
        Ok(BuildInfo::default())
    );
}

#[test]
fn json_keys_round_trip() {
    let b = bi("1.4.10", "abc", "rustc", "Clean", "1.4.10");
    let text = serde_json::to_string(&b).unwrap();
    assert_eq!(
        text,
        r#"{"version":"1.4.10","revision":"abc","golang_version":"rustc","status":"Clean","tag":"1.4.10"}"#
    );
    assert_eq!(serde_json::from_str::<BuildInfo>(&text).unwrap(), b);
    // Missing keys decode as empty, like Go.
    assert_eq!(
        serde_json::from_str::<BuildInfo>(r#"{"version":"1"}"#)
            .unwrap()
            .git_tag,
        ""
    );
    let s = server("pilot", b);
    assert!(serde_json::to_string(&s)
        .unwrap()
        .starts_with(r#"{"Component":"pilot","Info":{"#));
}

#[test]
fn client_only_outputs() {
    let cases: &[(&str, &str)] = &[
        ("version", &format!("{LONG_UNKNOWN}\n")),
        ("version --short=false", &format!("{LONG_UNKNOWN}\n")),
        ("version -s", "unknown\n"),
        ("version --short", "unknown\n"),
        ("version -o yaml", &format!("{CLIENT_YAML}\n")),
        ("version --output=yaml -s", &format!("{CLIENT_YAML}\n")),
        ("version --output json", &format!("{CLIENT_JSON}\n}}\n")),
        ("version --output=", &format!("{LONG_UNKNOWN}\n")),
    ];
    for (argv, want) in cases {
        let (out, err) = plain(argv);
        assert_eq!(err, None, "{argv}");
        assert_eq!(&out, want, "{argv}");
    }
}

#[test]
fn subcommand_description_comes_from_the_binary() {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let version = cmd.find_subcommand("version").unwrap();
    assert_eq!(
        version.get_about().map(|a| a.to_string()).as_deref(),
        Some(ABOUT)
    );
    #[derive(Parser)]
    struct Bare {
        #[command(flatten)]
        remote: RemoteArgs,
    }
    assert_eq!(Bare::command().get_about(), None);
}

#[test]
fn client_only_errors() {
    let (out, err) = plain("version --output xuxa");
    assert_eq!(out, "");
    assert_eq!(err.as_deref(), Some("--output must be 'yaml' or 'json'"));
    // No --remote on ordinary binaries, and unknown flags are rejected.
    for argv in ["version --remote", "version --typo"] {
        let (_, err) = plain(argv);
        assert!(err.unwrap().contains("unexpected argument"), "{argv}");
    }
}

#[test]
fn remote_outputs() {
    let long_mesh: String = multi_version_mesh()
        .iter()
        .map(|s| format!("{} version: {}\n", s.component, s.info.long_form()))
        .collect();
    let (out, err) = remote(
        "version --remote=true --short=false --output=",
        Ok(multi_version_mesh()),
        None,
    );
    assert_eq!(err, None);
    assert_eq!(out, format!("client version: {LONG_UNKNOWN}\n{long_mesh}"));
    assert!(out.contains(
        r#"Citadel version: version.BuildInfo{Version:"1.2", GitRevision:"gitSHA321", GolangVersion:"go1.11.0", BuildStatus:"Clean", GitTag:"1.2"}"#
    ));

    let (out, _) = remote(
        "version --short=true --remote=true --output=",
        Ok(multi_version_mesh()),
        None,
    );
    assert_eq!(
        out,
        "client version: unknown\nPilot version: 1.0.0\nInjector version: 1.0.1\nCitadel version: 1.2\n"
    );

    // Identical versions are coalesced into one line.
    let (out, _) = remote(
        "version --short=true --remote=true --output=",
        Ok(single_version_mesh()),
        None,
    );
    assert_eq!(
        out,
        "client version: unknown\ncontrol plane version: 1.2.0\n"
    );

    let (out, _) = remote(
        "version --remote=true -o yaml",
        Ok(multi_version_mesh()),
        None,
    );
    assert_eq!(
        out,
        format!(
            "{CLIENT_YAML}meshVersion:\n\
             - Component: Pilot\n  Info:\n    golang_version: go1.10\n    revision: gitSHA123\n    status: Clean\n    tag: 1.0.0\n    version: 1.0.0\n\
             - Component: Injector\n  Info:\n    golang_version: go1.10.1\n    revision: gitSHAabc\n    status: Modified\n    tag: 1.0.1\n    version: 1.0.1\n\
             - Component: Citadel\n  Info:\n    golang_version: go1.11.0\n    revision: gitSHA321\n    status: Clean\n    tag: \"1.2\"\n    version: \"1.2\"\n\n"
        )
    );

    let (out, _) = remote(
        "version --remote=true -o json",
        Ok(multi_version_mesh()[..1].to_vec()),
        None,
    );
    assert_eq!(
        out,
        format!(
            "{CLIENT_JSON},\n  \"meshVersion\": [\n    {{\n      \"Component\": \"Pilot\",\n      \"Info\": {{\n        \
             \"version\": \"1.0.0\",\n        \"revision\": \"gitSHA123\",\n        \"golang_version\": \"go1.10\",\n        \
             \"status\": \"Clean\",\n        \"tag\": \"1.0.0\"\n      }}\n    }}\n  ]\n}}\n"
        )
    );
}

#[test]
fn remote_data_plane_and_errors() {
    let proxies = vec![
        ProxyInfo {
            id: "a.default".into(),
            istio_version: "1.4.9".into(),
        },
        ProxyInfo {
            id: "b.default".into(),
            istio_version: "1.4.10".into(),
        },
        ProxyInfo {
            id: "c.default".into(),
            istio_version: "1.4.9".into(),
        },
    ];
    let (out, _) = remote(
        "version --remote -s",
        Ok(single_version_mesh()),
        Some(proxies.clone()),
    );
    assert_eq!(
        out,
        "client version: unknown\ncontrol plane version: 1.2.0\ndata plane version: 1.4.9 (2 proxies), 1.4.10 (1 proxies)\n"
    );
    let (out, _) = remote(
        "version --remote -s",
        Ok(single_version_mesh()),
        Some(vec![]),
    );
    assert!(out.ends_with("data plane version: none\n"), "{out}");
    let (out, _) = remote("version --remote", Ok(vec![]), Some(proxies[..1].to_vec()));
    assert_eq!(
        out,
        format!(
            "client version: {LONG_UNKNOWN}\ndata plane version: version.ProxyInfo{{ID:\"a.default\", IstioVersion:\"1.4.9\"}}\n"
        )
    );

    // The mesh query failing: the client version is printed, then the error is returned.
    let (out, err) = remote("version --remote -s", Err("connection refused"), None);
    assert_eq!(out, "unknown\n");
    assert_eq!(err.as_deref(), Some("connection refused"));

    // Without --remote nothing is asked.
    let (out, err) = remote("version -s", Err("must not be called"), None);
    assert_eq!((out.as_str(), err), ("unknown\n", None));

    // --output is checked before anything is fetched or printed.
    let (out, err) = remote("version --remote -o xml", Err("must not be called"), None);
    assert_eq!(
        (out.as_str(), err.as_deref()),
        ("", Some("--output must be 'yaml' or 'json'"))
    );
}

#[test]
fn run_prints_this_binary() {
    let mut out = Vec::new();
    run(
        &Args {
            short: true,
            output: String::new(),
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{BUILD_VERSION}\n")
    );
    let mut out = Vec::new();
    run(&Args::default(), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{}\n", info().long_form())
    );
}
