//! Logging set-up: one line per request plus events, as text or JSON.

use tracing_subscriber::EnvFilter;

use crate::settings::Settings;

/// Installs the global subscriber; a second call (as in tests) is ignored.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if settings.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
