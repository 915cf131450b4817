//! Where Wristband's routes are mounted (chosen by the application), and the URLs the pages
//! and redirects are built from.

use serde::Serialize;

/// Where each group of routes is mounted; `None` leaves the group out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mounts {
    /// The auth pages (`/login`, `/register`, `/logout`, `/account…`, `/reauthenticate`) and
    /// their static files, under this prefix (`""`: at the root).
    pub pages: Option<String>,
    /// The JSON API, under this prefix.
    pub api: Option<String>,
    /// The health check, at this path.
    pub health: Option<String>,
}

impl Default for Mounts {
    fn default() -> Self {
        Self {
            pages: Some(String::new()),
            api: Some("/api/v1".into()),
            health: Some("/healthz".into()),
        }
    }
}

/// Checks a prefix or path given to the builder: empty (the root; prefixes only) or `/` and
/// then segments of unreserved characters, no trailing `/`.
pub(crate) fn check_path(what: &str, path: &str, empty_allowed: bool) -> Result<String, String> {
    let trimmed = path.trim_end_matches('/');
    let valid = if trimmed.is_empty() {
        empty_allowed
    } else {
        trimmed.starts_with('/')
            && trimmed[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            })
    };
    if valid {
        Ok(trimmed.to_owned())
    } else {
        Err(format!(
            "{what} {path:?} is not a path: use \"/segment/…\" with letters, digits, '-', '.', '_' or '~'"
        ))
    }
}

/// The URLs every page and redirect is built from.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Urls {
    /// The site's home: `/`.
    pub home: String,
    /// Where a login lands without `next` (`login.default_redirect`).
    pub after_login: String,
    /// The auth pages; `None` when they are not mounted.
    pub login: Option<String>,
    /// Registration.
    pub register: Option<String>,
    /// Logout.
    pub logout: Option<String>,
    /// The account page.
    pub account: Option<String>,
    /// Changing the password.
    pub account_password: Option<String>,
    /// Ending sessions.
    pub account_revoke: Option<String>,
    /// The password prompt.
    pub reauthenticate: Option<String>,
    /// Asking for a password reset link; `None` also when `account.email = "off"`.
    pub forgot_password: Option<String>,
    /// Where a reset link's form posts.
    pub reset_password: Option<String>,
    /// Where a verification link's form posts.
    pub verify_email: Option<String>,
    /// Changing the address.
    pub account_email: Option<String>,
    /// The login's second step.
    pub login_2fa: Option<String>,
    /// Second factors on the account.
    pub account_2fa: Option<String>,
    /// Confirming an authenticator app.
    pub account_2fa_enable: Option<String>,
    /// Turning it off.
    pub account_2fa_disable: Option<String>,
    /// New recovery codes.
    pub account_2fa_recovery_codes: Option<String>,
    /// Personal API tokens: the list, and where the form that makes one posts; `None` unless
    /// the API is mounted too.
    pub account_tokens: Option<String>,
    /// Revoking a token.
    pub account_tokens_revoke: Option<String>,
    /// Renaming a passkey.
    pub account_passkeys_rename: Option<String>,
    /// Removing a passkey.
    pub account_passkeys_remove: Option<String>,
    /// The passkey ceremonies' script; `None` when passkeys are off.
    pub passkeys_script: Option<String>,
    /// The JSON API's prefix, for the passkey script's calls.
    pub api: Option<String>,
    /// The stylesheet.
    pub stylesheet: Option<String>,
    /// The password show/hide script.
    pub password_toggle: Option<String>,
}

impl Urls {
    pub fn new(mounts: &Mounts, after_login: &str, email: bool, passkeys: bool) -> Self {
        let page = |path: &str| {
            mounts
                .pages
                .as_ref()
                .map(|prefix| format!("{prefix}{path}"))
        };
        let email_page = |path: &str| if email { page(path) } else { None };
        Self {
            home: "/".into(),
            after_login: after_login.to_owned(),
            login: page("/login"),
            register: page("/register"),
            logout: page("/logout"),
            account: page("/account"),
            account_password: page("/account/password"),
            account_revoke: page("/account/sessions/revoke"),
            reauthenticate: page("/reauthenticate"),
            forgot_password: email_page("/forgot-password"),
            reset_password: email_page("/reset-password"),
            verify_email: email_page("/verify-email"),
            account_email: email_page("/account/email"),
            login_2fa: page("/login/2fa"),
            account_2fa: page("/account/2fa"),
            account_2fa_enable: page("/account/2fa/enable"),
            account_2fa_disable: page("/account/2fa/disable"),
            account_2fa_recovery_codes: page("/account/2fa/recovery-codes"),
            account_tokens: mounts.api.as_ref().and_then(|_| page("/account/tokens")),
            account_tokens_revoke: mounts
                .api
                .as_ref()
                .and_then(|_| page("/account/tokens/revoke")),
            account_passkeys_rename: page("/account/passkeys/rename"),
            account_passkeys_remove: page("/account/passkeys/remove"),
            passkeys_script: if passkeys && mounts.api.is_some() {
                page("/static/passkeys.js")
            } else {
                None
            },
            api: mounts.api.clone(),
            stylesheet: page("/static/app.css"),
            password_toggle: page("/static/password-toggle.js"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_paths_or_nothing() {
        assert_eq!(check_path("p", "", true), Ok(String::new()));
        assert_eq!(check_path("p", "/auth/", true), Ok("/auth".into()));
        assert_eq!(check_path("p", "/a/b-c", true), Ok("/a/b-c".into()));
        for bad in ["auth", "//x", "/a//b", "/{id}", "/a b", "/*"] {
            assert!(check_path("p", bad, true).is_err(), "{bad:?}");
        }
        assert!(check_path("p", "", false).is_err());
    }

    #[test]
    fn urls_follow_the_pages_prefix() {
        let mounts = Mounts {
            pages: Some("/auth".into()),
            ..Mounts::default()
        };
        let urls = Urls::new(&mounts, "/shop", true, true);
        assert_eq!(urls.login.as_deref(), Some("/auth/login"));
        assert_eq!(urls.stylesheet.as_deref(), Some("/auth/static/app.css"));
        let none = Urls::new(
            &Mounts {
                pages: None,
                ..Mounts::default()
            },
            "/",
            true,
            true,
        );
        assert_eq!(none.login, None);
        let no_email = Urls::new(&Mounts::default(), "/", false, false);
        assert_eq!(no_email.forgot_password, None);
        assert_eq!(no_email.login.as_deref(), Some("/login"));
    }
}
