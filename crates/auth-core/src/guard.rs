//! Route guards: values that decide whether a request may reach a route.
//!
//! A guard looks at who is asking ([`Access`]) and either lets the request through or names a
//! [`Denial`]; the web layer turns each denial into its response (a redirect to the login page,
//! a re-authentication prompt, or 403). Guards are plain values, so they compose and test without
//! a server:
//!
//! ```
//! use auth_core::guard::{Access, Denial, FreshLogin, LoginRequired, RouteGuard};
//! use std::time::Duration;
//! use time::OffsetDateTime;
//!
//! let now = OffsetDateTime::now_utc();
//! let anonymous = Access { user: None, authenticated_at: None, now };
//! assert_eq!(LoginRequired.check(&anonymous), Err(Denial::LoginRequired));
//! assert_eq!(
//!     FreshLogin(Duration::from_secs(600)).check(&anonymous),
//!     Err(Denial::LoginRequired)
//! );
//! ```

use crate::store::User;
use std::time::Duration;
use time::OffsetDateTime;

/// Who is asking, as a guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    /// The logged-in user, if any.
    pub user: Option<&'a User>,
    /// When this session last proved the password (login or re-authentication).
    pub authenticated_at: Option<OffsetDateTime>,
    /// The request's time.
    pub now: OffsetDateTime,
}

/// Why a guard refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Nobody is logged in: send them to log in (HTML) or answer 401 (API).
    LoginRequired,
    /// Logged in, but not recently enough: ask for the password again.
    ReauthenticationRequired,
    /// Logged in, and not allowed (a predicate said no): 403.
    Forbidden,
}

/// Decides whether a request may proceed.
///
/// ```
/// use auth_core::guard::{Access, Denial, RouteGuard};
///
/// /// Only during office hours, for anyone logged in.
/// struct OfficeHours;
///
/// impl RouteGuard for OfficeHours {
///     fn check(&self, access: &Access<'_>) -> Result<(), Denial> {
///         access.user.ok_or(Denial::LoginRequired)?;
///         (9..17).contains(&access.now.hour()).then_some(()).ok_or(Denial::Forbidden)
///     }
/// }
/// let anonymous = Access { user: None, authenticated_at: None, now: time::OffsetDateTime::now_utc() };
/// assert_eq!(OfficeHours.check(&anonymous), Err(Denial::LoginRequired));
/// ```
pub trait RouteGuard: Send + Sync + 'static {
    /// `Ok(())` to let the request through.
    fn check(&self, access: &Access<'_>) -> Result<(), Denial>;
}

/// Requires a logged-in user (Flask-Login's `@login_required`).
///
/// ```
/// use auth_core::guard::{Access, Denial, LoginRequired, RouteGuard};
///
/// let anonymous = Access { user: None, authenticated_at: None, now: time::OffsetDateTime::now_utc() };
/// assert_eq!(LoginRequired.check(&anonymous), Err(Denial::LoginRequired));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginRequired;

impl RouteGuard for LoginRequired {
    fn check(&self, access: &Access<'_>) -> Result<(), Denial> {
        access.user.map(|_| ()).ok_or(Denial::LoginRequired)
    }
}

/// Requires a login (or re-authentication) within the given duration (ASVS 3.3.4).
///
/// ```
/// use auth_core::guard::{Access, Denial, FreshLogin, RouteGuard};
/// use auth_core::{User, UserId, Username};
/// use std::time::Duration;
/// use time::OffsetDateTime;
///
/// let now = OffsetDateTime::now_utc();
/// let ada = User { id: UserId(1), username: Username::parse("ada").unwrap(), auth_stamp: String::new(), created_at: now, email: None, email_verified: false };
/// let an_hour_ago = Access { user: Some(&ada), authenticated_at: Some(now - Duration::from_secs(3600)), now };
/// let guard = FreshLogin(Duration::from_secs(600));
/// assert_eq!(guard.check(&an_hour_ago), Err(Denial::ReauthenticationRequired));
/// assert_eq!(guard.check(&Access { authenticated_at: Some(now), ..an_hour_ago }), Ok(()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FreshLogin(pub Duration);

impl RouteGuard for FreshLogin {
    fn check(&self, access: &Access<'_>) -> Result<(), Denial> {
        LoginRequired.check(access)?;
        match access.authenticated_at {
            Some(at) if access.now - at <= self.0 => Ok(()),
            _ => Err(Denial::ReauthenticationRequired),
        }
    }
}

/// Requires a logged-in user for whom the predicate holds, e.g. `|u| u.username.as_str() ==
/// "admin"`; others get [`Denial::Forbidden`].
///
/// ```
/// use auth_core::guard::{Access, Denial, RouteGuard, UserPredicate};
/// use auth_core::{User, UserId, Username};
///
/// let now = time::OffsetDateTime::now_utc();
/// let bob = User { id: UserId(2), username: Username::parse("bob").unwrap(), auth_stamp: String::new(), created_at: now, email: None, email_verified: false };
/// let admins = UserPredicate(|u: &User| u.username.as_str() == "admin");
/// let access = Access { user: Some(&bob), authenticated_at: Some(now), now };
/// assert_eq!(admins.check(&access), Err(Denial::Forbidden));
/// ```
#[derive(Clone, Copy)]
pub struct UserPredicate<F>(pub F);

impl<F> RouteGuard for UserPredicate<F>
where
    F: Fn(&User) -> bool + Send + Sync + 'static,
{
    fn check(&self, access: &Access<'_>) -> Result<(), Denial> {
        let user = access.user.ok_or(Denial::LoginRequired)?;
        if (self.0)(user) {
            Ok(())
        } else {
            Err(Denial::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserId;
    use crate::username::Username;

    fn user(name: &str) -> User {
        User {
            id: UserId(1),
            username: Username::parse(name).unwrap(),
            auth_stamp: "s".into(),
            created_at: OffsetDateTime::now_utc(),
            email: None,
            email_verified: false,
        }
    }

    #[test]
    fn fresh_login_and_predicate() {
        let now = OffsetDateTime::now_utc();
        let alice = user("alice");
        let stale = Access {
            user: Some(&alice),
            authenticated_at: Some(now - Duration::from_secs(700)),
            now,
        };
        let fresh = Access {
            authenticated_at: Some(now - Duration::from_secs(60)),
            ..stale
        };
        let guard = FreshLogin(Duration::from_secs(600));
        assert_eq!(guard.check(&stale), Err(Denial::ReauthenticationRequired));
        assert_eq!(guard.check(&fresh), Ok(()));
        let admins = UserPredicate(|u: &User| u.username.as_str() == "admin");
        assert_eq!(admins.check(&fresh), Err(Denial::Forbidden));
        let admin = user("admin");
        assert_eq!(
            admins.check(&Access {
                user: Some(&admin),
                ..fresh
            }),
            Ok(())
        );
    }
}
