//! Copies of the form structs that the portal and main program handlers deserialize.
//!
//! NOTE: the handlers' structs are private to their crates, so these copies repeat their field
//! names and types. A field added to a handler's form needs the same change here, or this target
//! stops covering it.

use arbitrary::Arbitrary;
use serde::{Deserialize, Serialize};

/// A form body struct and the names of its fields.
pub trait MirrorForm:
    for<'de> Deserialize<'de> + Serialize + for<'a> Arbitrary<'a> + PartialEq + std::fmt::Debug
{
    /// Field names as they appear in the body.
    const FIELDS: &'static [&'static str];
}

/// Declares a form struct with `#[serde(default)]`, as the handlers do, and its field list.
macro_rules! mirror_form {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $type:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Default, PartialEq, Eq, Arbitrary, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(pub $field: $type),+
        }

        impl MirrorForm for $name {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];
        }
    };
}

mirror_form! {
    /// `POST /login` (portal `login.rs`).
    LoginForm { username: String, password: String }
}

mirror_form! {
    /// `POST /setup/{token}` (portal `setup.rs`).
    SetupForm { password: String, password_repeat: String }
}

mirror_form! {
    /// `POST /register/{token}` (portal `register.rs`).
    RegisterForm {
        security_code: String,
        username: String,
        password: String,
        password_repeat: String,
    }
}

mirror_form! {
    /// `POST /password/change` (portal `password.rs`).
    ChangeForm {
        current_password: String,
        new_password: String,
        new_password_repeat: String,
    }
}

mirror_form! {
    /// Creating or renaming a branch or department (admin `masterdata/forms.rs`).
    UnitForm { parent_id: String, name: String }
}

mirror_form! {
    /// The employee record (admin `masterdata/forms.rs`).
    EmployeeForm {
        personnel_number: String,
        first_name: String,
        last_name: String,
        email: String,
        phone: String,
        entry_date: String,
        exit_date: String,
        org_unit_id: String,
        language: String,
    }
}

mirror_form! {
    /// Creating an employee's login (admin `masterdata/forms.rs`).
    NewLoginForm {
        username: String,
        password: String,
        password_repeat: String,
        must_change: Option<String>,
    }
}

mirror_form! {
    /// Setting an employee's password (admin `masterdata/forms.rs`).
    PasswordForm {
        password: String,
        password_repeat: String,
        must_change: Option<String>,
    }
}

mirror_form! {
    /// Changing an employee's username (admin `masterdata/forms.rs`).
    UsernameForm { username: String }
}

mirror_form! {
    /// The "Aktiv?" switch of a login (admin `masterdata/forms.rs`).
    ActiveForm { active: String }
}

mirror_form! {
    /// Creating a planner user (admin `security/form.rs`).
    NewUserForm {
        username: String,
        display_name: String,
        email: String,
        role: String,
        password: String,
        password_repeat: String,
        must_change_password: Option<String>,
    }
}

mirror_form! {
    /// Editing a planner user (admin `security/form.rs`).
    EditUserForm {
        display_name: String,
        email: String,
        role: String,
        active: String,
        password: String,
        password_repeat: String,
        must_change_password: Option<String>,
    }
}

mirror_form! {
    /// Settings tab "Anmeldung" (admin `settings/login_tab.rs`).
    LoginSettingsForm { max_failed_logins: String, lockout_minutes: String }
}

mirror_form! {
    /// Settings tab "Mitarbeiterportal" (admin `settings/portal_tab.rs`).
    PortalSettingsForm {
        security_code: String,
        contact_email: String,
        invitation_valid_days: String,
    }
}

mirror_form! {
    /// Confirming a CSV import (admin `import/mod.rs`).
    ConfirmForm {
        datei: String,
        dateiname: String,
        pruefsumme: String,
        plan: String,
    }
}
