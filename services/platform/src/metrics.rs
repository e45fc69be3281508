//! Login counters for the Prometheus endpoint: logins by result, account lockouts, and attempts
//! that the attempt limits rejected.
//!
//! They are process-wide statics because the login code that increments them runs far from any
//! handle to the server. The gateway registers them in the registry that `/metrics` serves.
//! Labels name outcomes only, never a tenant, username or client address, so the number of
//! series stays fixed however many tenants log in.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::login::FailureReason;
use crate::rate_limit::LimitScope;

/// Label set of [`LOGINS`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// `success`, or the [`FailureReason`] of a failed password check.
    pub result: &'static str,
}

/// Label set of [`RATE_LIMITED`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// The limit the attempt ran into: `client_ip` or `tenant`.
    pub scope: &'static str,
}

/// Completed logins (`result="success"`) and failed password checks by reason. A planner with
/// two-factor login counts as a success only after the second factor.
pub static LOGINS: LazyLock<Family<LoginLabels, Counter>> = LazyLock::new(Family::default);

/// Accounts locked after repeated failed logins or second factors.
pub static LOCKOUTS: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Login attempts rejected by the attempt limits before any password was checked.
pub static RATE_LIMITED: LazyLock<Family<LimitLabels, Counter>> = LazyLock::new(Family::default);

/// Counts a completed login.
pub fn count_login_success() {
    LOGINS
        .get_or_create(&LoginLabels { result: "success" })
        .inc();
}

/// Counts a failed password check.
pub fn count_login_failure(reason: FailureReason) {
    LOGINS
        .get_or_create(&LoginLabels {
            result: reason.as_str(),
        })
        .inc();
}

/// Counts an account lockout.
pub fn count_lockout() {
    LOCKOUTS.inc();
}

/// Counts an attempt rejected by a limit.
pub fn count_rate_limited(scope: LimitScope) {
    RATE_LIMITED
        .get_or_create(&LimitLabels {
            scope: scope.as_str(),
        })
        .inc();
}

/// Registers the login counters in `registry`. The exported names get the `_total` suffix.
pub fn register(registry: &mut Registry) {
    registry.register(
        "mep24web_logins",
        "Completed logins and failed password checks, by result",
        LOGINS.clone(),
    );
    registry.register(
        "mep24web_login_lockouts",
        "Accounts locked after repeated failed logins",
        LOCKOUTS.clone(),
    );
    registry.register(
        "mep24web_login_rate_limited",
        "Login attempts rejected by the attempt limits, by the limit they ran into",
        RATE_LIMITED.clone(),
    );
}
