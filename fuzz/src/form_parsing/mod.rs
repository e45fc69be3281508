//! Form bodies (`application/x-www-form-urlencoded`) and the parsers for the values in them.
//!
//! Properties that `check` asserts on every input:
//!
//! - Deserializing any body into a handler's form struct never panics, and fails only when a
//!   field of the struct is given twice. So a malformed body gets the localized 400 page and
//!   never axum's plain-text 422.
//! - Every form value survives encoding and decoding unchanged.
//! - The public parsers keep the properties listed in [`parsers`].

pub mod mirrors;
pub mod parsers;

use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};

use mirrors::{
    ActiveForm, ChangeForm, ConfirmForm, EditUserForm, EmployeeForm, LoginForm, LoginSettingsForm,
    MirrorForm, NewLoginForm, NewUserForm, PasswordForm, PortalSettingsForm, RegisterForm,
    SetupForm, UnitForm, UsernameForm,
};

/// Keys of built bodies: field names of the forms and one that no form has.
const KEYS: &[&str] = &[
    "username",
    "password",
    "password_repeat",
    "security_code",
    "must_change",
    "email",
    "name",
    "datei",
    "unbekannt",
];

/// Pieces of built values: text that percent-encoding must escape, broken escapes, and values
/// the parsers accept.
const VALUE_PIECES: &[&str] = &[
    "anna.schmidt",
    "Jürgen.Weiß",
    "Ju\u{0308}rgen",
    "ǅ",
    "İ",
    "ß",
    "10001",
    " 10 001 ",
    "baeckerei-mueller",
    "xn--mnchen-3ya",
    "Sommer-Frühling-2026",
    "anna@example.de",
    "01.03.2024",
    "2024-02-30",
    "de-DE,de;q=0.9,en;q=0.8",
    "en;q=0",
    "ja",
    "nein",
    "&",
    "=",
    "+",
    "%",
    "%2",
    "%zz",
    "%C3%A4",
    "%FF",
    "%00",
    "\r\n",
    "\u{0}",
    " ",
    "😀",
];

/// Checks the properties on the input as a body, on a body built from it, on form values
/// built from it, and the parsers on text built from it.
pub fn check(data: &[u8]) {
    check_body(data);
    let mut choices = Unstructured::new(data);
    if let Ok(body) = build_body(&mut choices) {
        check_body(body.as_bytes());
    }
    let _ = check_round_trips(&mut choices);

    let raw = String::from_utf8_lossy(data);
    parsers::check_all(&raw, &raw, "anna");
    let mut choices = Unstructured::new(data);
    if let (Ok(text), Ok(repeated), Ok(username)) = (
        build_value(&mut choices),
        build_value(&mut choices),
        build_value(&mut choices),
    ) {
        parsers::check_all(&text, &repeated, &username);
    }
}

/// Deserializes one body into every form struct and into the key-value list that the
/// invitation form uses.
pub fn check_body(body: &[u8]) {
    check_form_body::<LoginForm>(body);
    check_form_body::<SetupForm>(body);
    check_form_body::<RegisterForm>(body);
    check_form_body::<ChangeForm>(body);
    check_form_body::<UnitForm>(body);
    check_form_body::<EmployeeForm>(body);
    check_form_body::<NewLoginForm>(body);
    check_form_body::<PasswordForm>(body);
    check_form_body::<UsernameForm>(body);
    check_form_body::<ActiveForm>(body);
    check_form_body::<NewUserForm>(body);
    check_form_body::<EditUserForm>(body);
    check_form_body::<LoginSettingsForm>(body);
    check_form_body::<PortalSettingsForm>(body);
    check_form_body::<ConfirmForm>(body);

    let pairs: Result<Vec<(String, String)>, _> = serde_urlencoded::from_bytes(body);
    let expected: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    assert_eq!(
        pairs.as_ref(),
        Ok(&expected),
        "body {:?} as a key-value list",
        String::from_utf8_lossy(body)
    );
}

/// Asserts that `T` parses `body` exactly when none of its fields appears twice, and that a
/// parsed form encodes and decodes to itself.
fn check_form_body<T: MirrorForm>(body: &[u8]) {
    let name = std::any::type_name::<T>();
    let repeated = repeated_fields(body, T::FIELDS);
    match serde_urlencoded::from_bytes::<T>(body) {
        Ok(form) => {
            assert!(
                repeated.is_empty(),
                "{name} accepts {:?}, which repeats {repeated:?}",
                String::from_utf8_lossy(body)
            );
            assert_round_trip(&form);
        }
        Err(error) => assert!(
            !repeated.is_empty(),
            "{name} rejects {:?} without a repeated field: {error}",
            String::from_utf8_lossy(body)
        ),
    }
}

/// Returns the fields of `fields` that the body names more than once.
fn repeated_fields(body: &[u8], fields: &[&str]) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (key, _) in url::form_urlencoded::parse(body) {
        if fields.contains(&key.as_ref()) {
            *counts.entry(key.into_owned()).or_default() += 1;
        }
    }
    let mut repeated: Vec<String> = counts
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(key, _)| key)
        .collect();
    repeated.sort();
    repeated
}

fn assert_round_trip<T: MirrorForm>(form: &T) {
    let name = std::any::type_name::<T>();
    let encoded = serde_urlencoded::to_string(form)
        .unwrap_or_else(|error| panic!("{name} {form:?} cannot be encoded: {error}"));
    let decoded: Result<T, _> = serde_urlencoded::from_str(&encoded);
    assert_eq!(
        decoded.as_ref().ok(),
        Some(form),
        "{name} {form:?} encoded as {encoded:?} decodes differently: {decoded:?}"
    );
}

/// Builds one value of every form struct from the choices and checks its round trip.
fn check_round_trips(choices: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    assert_round_trip(&LoginForm::arbitrary(choices)?);
    assert_round_trip(&RegisterForm::arbitrary(choices)?);
    assert_round_trip(&EmployeeForm::arbitrary(choices)?);
    assert_round_trip(&NewLoginForm::arbitrary(choices)?);
    assert_round_trip(&EditUserForm::arbitrary(choices)?);
    assert_round_trip(&ConfirmForm::arbitrary(choices)?);
    let form = LoginForm {
        username: build_value(choices)?,
        password: build_value(choices)?,
    };
    assert_round_trip(&form);
    let form = NewUserForm {
        username: build_value(choices)?,
        display_name: build_value(choices)?,
        email: build_value(choices)?,
        role: build_value(choices)?,
        password: build_value(choices)?,
        password_repeat: build_value(choices)?,
        must_change_password: Option::<()>::arbitrary(choices)?
            .map(|()| build_value(choices))
            .transpose()?,
    };
    assert_round_trip(&form);
    Ok(())
}

/// Builds a body of `key=value` pairs from known keys and value pieces, sometimes without `=`,
/// with an empty pair or with a repeated key.
fn build_body(choices: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut pairs = Vec::new();
    let count = choices.int_in_range(0..=6)?;
    for _ in 0..count {
        let key = *choices.choose(KEYS)?;
        match choices.int_in_range(0..=5)? {
            0 => pairs.push(key.to_owned()),
            1 => pairs.push(String::new()),
            _ => pairs.push(format!("{key}={}", build_value(choices)?)),
        }
    }
    Ok(pairs.join("&"))
}

/// Builds a value from pieces and arbitrary characters.
fn build_value(choices: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut value = String::new();
    let pieces = choices.int_in_range(0..=5)?;
    for _ in 0..pieces {
        if choices.ratio(3, 4)? {
            value.push_str(choices.choose(VALUE_PIECES)?);
        } else {
            value.push(char::arbitrary(choices)?);
        }
    }
    Ok(value)
}
