//! Server-rendered pages and mails: minijinja templates embedded at build time, auto-escaped
//! (every `.html` template), with the `t(key, **args)` function for locale texts.

use std::sync::LazyLock;

use axum::response::Html;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};

use crate::i18n::{self, Locale};

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    minijinja_embed::load_templates!(&mut env);
    env.add_function("t", translate);
    env
});

fn locale_of(state: &State) -> Locale {
    state
        .lookup("locale")
        .and_then(|value| value.as_str().and_then(Locale::parse))
        .unwrap_or_default()
}

/// Template function `t("key", name=value, ...)`: the locale text with placeholders replaced.
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let locale = locale_of(state);
    let mut text = i18n::text(locale, key);
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    Ok(text)
}

/// Renders a template with the current request's locale added to the context as `locale`.
pub fn render(name: &str, context: Value) -> Result<String, minijinja::Error> {
    render_in(i18n::current_locale(), name, context)
}

/// Renders a template in a given locale, for mails in the recipient's language.
pub fn render_in(locale: Locale, name: &str, context: Value) -> Result<String, minijinja::Error> {
    let template = ENVIRONMENT.get_template(name)?;
    let context = minijinja::context! { locale => locale.code(), ..context };
    template.render(context)
}

/// Renders a page template into an HTML response body.
pub fn page(name: &str, context: Value) -> Result<Html<String>, crate::Error> {
    Ok(Html(render(name, context)?))
}
