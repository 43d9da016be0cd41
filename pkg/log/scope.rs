//! Logging scopes: named areas of code whose output level, stack-trace level and caller
//! reporting are controlled independently, at start-up by flags and later at run time.
//!
//! A scope is a `tracing` *target*: `tracing::info!(target: "ads", …)` logs under scope `ads`.
//! Events whose target is not a registered scope name (for example the default module-path
//! targets, or any third-party crate) are logged under the `default` scope.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::level::{CallerUpdate, Level, LevelUpdate, DEFAULT_SCOPE};

/// A scope declaration: a name and a one-line description (shown by ControlZ).
///
/// Declare scopes as constants next to the code that logs under them and pass them all to
/// [`configure`](super::configure):
///
/// ```
/// use istio_pkg::log::Scope;
/// pub const ADS: Scope = Scope::new("ads", "ADS debugging");
/// tracing::debug!(target: ADS.name(), "pushing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    name: &'static str,
    description: &'static str,
}

impl Scope {
    /// The scope of everything not logged under a registered scope.
    pub const DEFAULT: Scope = Scope::new(DEFAULT_SCOPE, "Unscoped logging messages.");

    /// Declares a scope. Names may not contain `:`, `,` or `.`; this is checked when the scope
    /// is registered.
    pub const fn new(name: &'static str, description: &'static str) -> Scope {
        Scope { name, description }
    }

    /// The scope name, which is also its `tracing` target.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The description.
    pub const fn description(&self) -> &'static str {
        self.description
    }
}

/// Whether `name` is a valid scope name (no `:`, `,` or `.`).
pub fn is_valid_scope_name(name: &str) -> bool {
    !name.contains([':', ',', '.'])
}

/// A snapshot of one scope's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    /// Scope name.
    pub name: String,
    /// Description given at registration.
    pub description: String,
    /// Minimum level of messages that are written.
    pub output_level: Level,
    /// Minimum level of messages that carry a stack trace.
    pub stack_trace_level: Level,
    /// Whether the caller's `file:line` is written.
    pub log_callers: bool,
}

/// Live state of one scope; the settings are atomics so they can change while logging.
#[derive(Debug)]
pub(crate) struct ScopeState {
    name: String,
    description: String,
    output: AtomicU8,
    stack: AtomicU8,
    callers: AtomicBool,
}

impl ScopeState {
    fn new(name: &str, description: &str) -> ScopeState {
        ScopeState {
            name: name.to_string(),
            description: description.to_string(),
            output: AtomicU8::new(Level::Info as u8),
            stack: AtomicU8::new(Level::None as u8),
            callers: AtomicBool::new(false),
        }
    }

    #[cfg(test)]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The name printed in log lines: none for the default scope.
    pub(crate) fn emitted_name(&self) -> Option<&str> {
        (self.name != DEFAULT_SCOPE).then_some(self.name.as_str())
    }

    pub(crate) fn is_default(&self) -> bool {
        self.name == DEFAULT_SCOPE
    }

    pub(crate) fn output_level(&self) -> Level {
        Level::from_u8(self.output.load(Ordering::Relaxed))
    }

    pub(crate) fn set_output_level(&self, l: Level) {
        self.output.store(l as u8, Ordering::Relaxed);
    }

    pub(crate) fn stack_trace_level(&self) -> Level {
        Level::from_u8(self.stack.load(Ordering::Relaxed))
    }

    pub(crate) fn set_stack_trace_level(&self, l: Level) {
        self.stack.store(l as u8, Ordering::Relaxed);
    }

    pub(crate) fn log_callers(&self) -> bool {
        self.callers.load(Ordering::Relaxed)
    }

    pub(crate) fn set_log_callers(&self, v: bool) {
        self.callers.store(v, Ordering::Relaxed);
    }

    fn info(&self) -> ScopeInfo {
        ScopeInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            output_level: self.output_level(),
            stack_trace_level: self.stack_trace_level(),
            log_callers: self.log_callers(),
        }
    }
}

/// The scopes known to one subscriber. Always contains `default`.
#[derive(Debug)]
pub(crate) struct Scopes {
    default: Arc<ScopeState>,
    by_name: RwLock<BTreeMap<String, Arc<ScopeState>>>,
}

impl Scopes {
    pub(crate) fn new() -> Scopes {
        let default = Arc::new(ScopeState::new(
            Scope::DEFAULT.name,
            Scope::DEFAULT.description,
        ));
        let mut by_name = BTreeMap::new();
        by_name.insert(DEFAULT_SCOPE.to_string(), default.clone());
        Scopes {
            default,
            by_name: RwLock::new(by_name),
        }
    }

    /// Registers a scope with default settings (info, no stack traces, no caller). Registering
    /// an existing name keeps the existing scope. Returns false if the name is invalid.
    pub(crate) fn register(&self, name: &str, description: &str) -> bool {
        if !is_valid_scope_name(name) {
            return false;
        }
        let mut map = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(ScopeState::new(name, description)));
        true
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<ScopeState>> {
        let map = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        let map = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(name)
    }

    /// The scope an event with this `tracing` target belongs to.
    pub(crate) fn for_target(&self, target: &str) -> Arc<ScopeState> {
        self.get(target).unwrap_or_else(|| self.default.clone())
    }

    fn all(&self) -> Vec<Arc<ScopeState>> {
        let map = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    pub(crate) fn infos(&self) -> Vec<ScopeInfo> {
        self.all().iter().map(|s| s.info()).collect()
    }

    pub(crate) fn apply_levels(&self, updates: &[LevelUpdate], set: impl Fn(&ScopeState, Level)) {
        for update in updates {
            match update {
                LevelUpdate::One(name, level) => {
                    if let Some(s) = self.get(name) {
                        set(&s, *level);
                    }
                }
                LevelUpdate::All(level) => {
                    for s in self.all() {
                        set(&s, *level);
                    }
                }
            }
        }
    }

    pub(crate) fn apply_callers(&self, update: &CallerUpdate) {
        match update {
            CallerUpdate::Scopes(names) => {
                for name in names {
                    if let Some(s) = self.get(name) {
                        s.set_log_callers(true);
                    }
                }
            }
            CallerUpdate::All => {
                for s in self.all() {
                    s.set_log_callers(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scope_always_present_and_unnamed_in_output() {
        let scopes = Scopes::new();
        let d = scopes.for_target("istio_pilot::model");
        assert_eq!(d.name(), "default");
        assert_eq!(d.emitted_name(), None);
        assert!(d.is_default());
        assert_eq!(d.output_level(), Level::Info);
        assert_eq!(d.stack_trace_level(), Level::None);
        assert!(!d.log_callers());
    }

    #[test]
    fn registration_is_idempotent_and_validated() {
        let scopes = Scopes::new();
        assert!(scopes.register("ads", "ADS"));
        scopes.get("ads").unwrap().set_output_level(Level::Debug);
        assert!(scopes.register("ads", "other"));
        let ads = scopes.for_target("ads");
        assert_eq!(ads.emitted_name(), Some("ads"));
        assert_eq!(ads.output_level(), Level::Debug);
        for bad in ["a:b", "a,b", "a.b"] {
            assert!(!scopes.register(bad, ""), "{bad}");
        }
        let names: Vec<String> = scopes.infos().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["ads", "default"]);
    }

    #[test]
    fn updates_apply_to_named_or_all_scopes() {
        let scopes = Scopes::new();
        scopes.register("ads", "");
        scopes.register("model", "");
        scopes.apply_levels(
            &[
                LevelUpdate::All(Level::Warn),
                LevelUpdate::One("ads".into(), Level::Debug),
            ],
            ScopeState::set_output_level,
        );
        assert_eq!(scopes.for_target("ads").output_level(), Level::Debug);
        assert_eq!(scopes.for_target("model").output_level(), Level::Warn);
        assert_eq!(scopes.for_target("default").output_level(), Level::Warn);

        scopes.apply_callers(&CallerUpdate::Scopes(vec!["model".into()]));
        assert!(scopes.for_target("model").log_callers());
        assert!(!scopes.for_target("ads").log_callers());
        scopes.apply_callers(&CallerUpdate::All);
        assert!(scopes.for_target("ads").log_callers());
    }
}
