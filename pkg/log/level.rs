//! Istio log levels and the `<scope>:<level>,…` syntax of the level flags.

use std::fmt;
use std::str::FromStr;

/// The name of the scope that messages without a registered scope are logged under.
pub const DEFAULT_SCOPE: &str = "default";

/// The pseudo-scope that, in a level list, sets every registered scope at once.
pub const OVERRIDE_SCOPE: &str = "all";

/// A logging level, ordered from quietest ([`Level::None`]) to most verbose ([`Level::Debug`]).
///
/// As a scope's *output* level it is a threshold: a scope at `Info` emits fatal, error, warn and
/// info messages. `None` emits nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Nothing is emitted (or, as a stack-trace level, no stack is captured).
    None = 0,
    /// Only fatal messages, after which the process exits.
    Fatal = 1,
    /// Errors.
    Error = 2,
    /// Warnings.
    Warn = 3,
    /// Informational messages (the default output level).
    Info = 4,
    /// Debugging messages.
    Debug = 5,
}

impl Level {
    /// Every level, most verbose first (the order the flag help lists them in).
    pub const ALL: [Level; 6] = [
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
        Level::None,
    ];

    /// The lowercase name used in flags and in the rendered log line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// Whether a scope whose threshold is `self` lets a message of level `message` through.
    pub fn enables(self, message: Level) -> bool {
        message != Level::None && message <= self
    }

    pub(crate) fn from_u8(v: u8) -> Level {
        match v {
            1 => Level::Fatal,
            2 => Level::Error,
            3 => Level::Warn,
            4 => Level::Info,
            5 => Level::Debug,
            _ => Level::None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown level name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown level '{0}', expected one of debug, info, warn, error, fatal, none")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Parses a level name. Names are case-sensitive, as upstream.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLevel(s.to_string()))
    }
}

/// Why a `<scope>:<level>` list (or a scope list) was rejected. The texts are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// An entry with more than one `:`.
    #[error("invalid output level format '{0}'")]
    Format(String),
    /// An entry whose level part is not a level name (the whole entry is reported).
    #[error("invalid output level '{0}'")]
    Level(String),
    /// A scope that is neither registered nor `all`.
    #[error("unknown scope '{0}' specified")]
    UnknownScope(String),
}

/// Splits one `<scope>:<level>` entry; an entry without `:` names the default scope.
pub fn parse_scoped_level(entry: &str) -> Result<(&str, Level), SpecError> {
    let mut pieces = entry.split(':');
    let (scope, level) = match (pieces.next(), pieces.next(), pieces.next()) {
        (Some(level), None, _) => (DEFAULT_SCOPE, level),
        (Some(scope), Some(level), None) => (scope, level),
        _ => return Err(SpecError::Format(entry.to_string())),
    };
    let level = level
        .parse()
        .map_err(|_| SpecError::Level(entry.to_string()))?;
    Ok((scope, level))
}

/// What a level list asks for, resolved against the set of known scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LevelUpdate {
    /// Set one scope.
    One(String, Level),
    /// Set every scope (the `all` pseudo-scope).
    All(Level),
}

/// Resolves a comma-separated level list the way upstream applies it: entries are taken in
/// order; an `all:<level>` entry sets every scope and ends the list (later entries are not even
/// checked); an entry for a scope that `is_known` rejects is an error.
pub(crate) fn resolve_level_list(
    spec: &str,
    is_known: impl Fn(&str) -> bool,
) -> Result<Vec<LevelUpdate>, SpecError> {
    let mut updates = Vec::new();
    for entry in spec.split(',') {
        let (scope, level) = parse_scoped_level(entry)?;
        if is_known(scope) {
            updates.push(LevelUpdate::One(scope.to_string(), level));
        } else if scope == OVERRIDE_SCOPE {
            updates.push(LevelUpdate::All(level));
            break;
        } else {
            return Err(SpecError::UnknownScope(scope.to_string()));
        }
    }
    Ok(updates)
}

/// What a `--log_caller` scope list asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallerUpdate {
    /// Include the caller for these scopes.
    Scopes(Vec<String>),
    /// Include the caller for every scope (`all` was listed).
    All,
}

/// Resolves a comma-separated scope list for `--log_caller`: empty entries are skipped, `all`
/// selects every scope and ends the list, unknown scopes are an error.
pub(crate) fn resolve_caller_list(
    spec: &str,
    is_known: impl Fn(&str) -> bool,
) -> Result<CallerUpdate, SpecError> {
    let mut scopes = Vec::new();
    for scope in spec.split(',').filter(|s| !s.is_empty()) {
        if scope == OVERRIDE_SCOPE {
            return Ok(CallerUpdate::All);
        }
        if !is_known(scope) {
            return Err(SpecError::UnknownScope(scope.to_string()));
        }
        scopes.push(scope.to_string());
    }
    Ok(CallerUpdate::Scopes(scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(s: &str) -> bool {
        matches!(s, "default" | "ads" | "model")
    }

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
            assert_eq!(l.to_string(), l.as_str());
        }
        assert!("INFO".parse::<Level>().is_err());
        assert!("warning".parse::<Level>().is_err());
    }

    #[test]
    fn threshold_semantics() {
        assert!(Level::Info.enables(Level::Error));
        assert!(Level::Info.enables(Level::Info));
        assert!(!Level::Info.enables(Level::Debug));
        assert!(Level::Fatal.enables(Level::Fatal));
        assert!(!Level::Fatal.enables(Level::Error));
        assert!(!Level::None.enables(Level::Fatal));
        assert!(!Level::Debug.enables(Level::None));
    }

    #[test]
    fn scoped_entries() {
        assert_eq!(parse_scoped_level("debug"), Ok(("default", Level::Debug)));
        assert_eq!(parse_scoped_level("ads:warn"), Ok(("ads", Level::Warn)));
        assert_eq!(parse_scoped_level(":info"), Ok(("", Level::Info)));
        assert_eq!(
            parse_scoped_level("a:b:c"),
            Err(SpecError::Format("a:b:c".into()))
        );
        assert_eq!(
            parse_scoped_level("ads:verbose"),
            Err(SpecError::Level("ads:verbose".into()))
        );
        assert_eq!(parse_scoped_level(""), Err(SpecError::Level("".into())));
        assert_eq!(
            SpecError::Level("ads:verbose".into()).to_string(),
            "invalid output level 'ads:verbose'"
        );
        assert_eq!(
            SpecError::Format("a:b:c".into()).to_string(),
            "invalid output level format 'a:b:c'"
        );
        assert_eq!(
            SpecError::UnknownScope("foo".into()).to_string(),
            "unknown scope 'foo' specified"
        );
    }

    #[test]
    fn level_lists() {
        assert_eq!(
            resolve_level_list("ads:debug,default:warn", known),
            Ok(vec![
                LevelUpdate::One("ads".into(), Level::Debug),
                LevelUpdate::One("default".into(), Level::Warn)
            ])
        );
        assert_eq!(
            resolve_level_list("info", known),
            Ok(vec![LevelUpdate::One("default".into(), Level::Info)])
        );
        // `all` ends the list: what follows is neither applied nor validated.
        assert_eq!(
            resolve_level_list("ads:debug,all:error,bogus:nope", known),
            Ok(vec![
                LevelUpdate::One("ads".into(), Level::Debug),
                LevelUpdate::All(Level::Error)
            ])
        );
        assert_eq!(
            resolve_level_list("ads:debug,mcp:info", known),
            Err(SpecError::UnknownScope("mcp".into()))
        );
        assert_eq!(
            resolve_level_list("ads:debug,", known),
            Err(SpecError::Level("".into()))
        );
    }

    #[test]
    fn caller_lists() {
        assert_eq!(
            resolve_caller_list("", known),
            Ok(CallerUpdate::Scopes(vec![]))
        );
        assert_eq!(
            resolve_caller_list("ads,,model", known),
            Ok(CallerUpdate::Scopes(vec!["ads".into(), "model".into()]))
        );
        assert_eq!(
            resolve_caller_list("ads,all,nope", known),
            Ok(CallerUpdate::All)
        );
        assert_eq!(
            resolve_caller_list("nope", known),
            Err(SpecError::UnknownScope("nope".into()))
        );
    }
}
