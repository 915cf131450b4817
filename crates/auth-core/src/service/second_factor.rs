//! Second factors (contract §10): enrolling an authenticator app (TOTP) with recovery codes,
//! the login's second step, turning factors off, and an administrator's reset.
//!
//! After the right password, a user with a second factor gets a [`PendingLogin`], not a
//! session: the web layer keeps it in a signed cookie that reaches only the second step, for
//! [`PENDING_LOGIN_LIFETIME`]. [`AuthService::complete_second_factor`] turns it into a session
//! (a new id) after a valid TOTP code, accepted once, or an unused recovery code. Wrong codes
//! count against the same throttle as wrong passwords.

use super::attempt::Attempt;
use super::{ActiveSession, AuthService, Client, ServiceError};
use crate::keys::Sealer;
use crate::mail::LetterKind;
use crate::observe::{LoginMethod, Outcome};
use crate::store::{SecondFactors, User, UserId};
use crate::throttle::ThrottleScope;
use crate::totp::{RecoveryCode, TotpSecret, recovery_code_digest};
use crate::username::Username;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a password-checked login waits for its second factor.
pub const PENDING_LOGIN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long an enrolment form (its secret) stays valid.
pub const ENROLMENT_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The key label of the sealer of TOTP secrets (at rest and in the enrolment form).
pub const TOTP_SEALER_KEY: &str = "totp-secret";

/// A login whose password was right, waiting for its second factor. Its fields are not secret
/// (the web layer signs the encoded form): who, with which auth stamp (a password change or
/// "end every session" meanwhile voids it), since when, remembered or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingLogin {
    /// Who.
    pub user_id: UserId,
    /// The user's auth stamp at the password step.
    pub auth_stamp: String,
    /// "Remember me" was ticked.
    pub remember: bool,
    /// When the password was checked, Unix ms.
    pub started_at_ms: i64,
}

impl PendingLogin {
    /// The cookie form (base64url JSON).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads the cookie form.
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
    }

    fn expired(&self, now: OffsetDateTime) -> bool {
        let age_ms = (now.unix_timestamp_nanos() / 1_000_000) - i128::from(self.started_at_ms);
        age_ms < 0 || age_ms > PENDING_LOGIN_LIFETIME.as_millis() as i128
    }
}

/// The second factors a pending login can be completed with, for the client: `"totp"`,
/// `"recovery_code"`.
pub fn methods(factors: &SecondFactors) -> Vec<&'static str> {
    let mut methods = Vec::new();
    if factors.passkeys > 0 {
        methods.push("passkey");
    }
    if factors.totp {
        methods.push("totp");
        methods.push("recovery_code");
    }
    methods
}

/// What a second step came to.
#[derive(Debug)]
pub enum SecondFactorOutcome {
    /// A new session.
    LoggedIn(Box<ActiveSession>),
    /// A wrong, replayed or used code (counted by the throttle).
    InvalidCode,
    /// The pending login is older than [`PENDING_LOGIN_LIFETIME`], or the account changed
    /// meanwhile: start again from the password.
    Expired,
}

/// An authenticator app being enrolled: what the page shows, and the sealed form value that
/// carries the secret to the confirmation.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The new secret (its base32 is shown beside the QR code).
    pub secret: TotpSecret,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The secret sealed for this user and time, for the form's hidden field.
    pub form_value: String,
}

/// What confirming an enrolment came to.
#[derive(Debug)]
pub enum TotpConfirmation {
    /// TOTP is on; the recovery codes are shown once.
    Enabled(Vec<RecoveryCode>),
    /// The code does not match the secret being enrolled.
    WrongCode,
    /// The form is too old, or not this user's: start again.
    Expired,
}

fn secret_aad(user_id: UserId) -> Vec<u8> {
    format!("totp-secret:{user_id}").into_bytes()
}

fn enrolment_aad(user_id: UserId) -> Vec<u8> {
    format!("totp-enrolment:{user_id}").into_bytes()
}

fn unix_seconds(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

fn ms(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl AuthService {
    fn sealer(&self) -> &Sealer {
        &self.0.sealer
    }

    /// The second factors of `user_id`.
    pub async fn second_factors(&self, user_id: UserId) -> Result<SecondFactors, ServiceError> {
        Ok(self.store().second_factors(user_id).await?)
    }

    /// A pending login for `user`, whose password was just checked.
    pub(crate) fn pending_login(
        &self,
        user: &User,
        remember: bool,
        now: OffsetDateTime,
    ) -> PendingLogin {
        PendingLogin {
            user_id: user.id,
            auth_stamp: user.auth_stamp.clone(),
            remember,
            started_at_ms: ms(now),
        }
    }

    /// The second step of a login: `code` is a TOTP code or a recovery code. Throttled like a
    /// password (the same counters, for the pending user); a TOTP code is accepted once.
    /// `replacing` is the browser's previous session, ended on success.
    pub async fn complete_second_factor(
        &self,
        pending: &PendingLogin,
        code: &str,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<SecondFactorOutcome, ServiceError> {
        let result = self
            .code_second_factor(pending, code, client, replacing)
            .await;
        self.report_second_factor(result)
    }

    /// Reports a second step's result to the observer.
    pub(crate) fn report_second_factor(
        &self,
        result: Result<SecondFactorOutcome, ServiceError>,
    ) -> Result<SecondFactorOutcome, ServiceError> {
        self.report_login(LoginMethod::SecondFactor, result, |outcome| match outcome {
            SecondFactorOutcome::LoggedIn(_) => Outcome::Success,
            SecondFactorOutcome::InvalidCode => Outcome::InvalidCredentials,
            SecondFactorOutcome::Expired => Outcome::Expired,
        })
    }

    async fn code_second_factor(
        &self,
        pending: &PendingLogin,
        code: &str,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<SecondFactorOutcome, ServiceError> {
        let now = OffsetDateTime::now_utc();
        let Some(user) = self.pending_user(pending).await? else {
            return Ok(SecondFactorOutcome::Expired);
        };
        let username_key = user.username.key().to_owned();
        let mut keys = self.0.settings.throttle.keys(&username_key, client.address);
        if client.knows_device(&username_key) {
            keys.retain(|key| key.scope() != ThrottleScope::Account);
        }
        let attempt = match Attempt::begin(self, keys).await? {
            Ok(attempt) => attempt,
            Err(wait) => {
                tracing::info!(event = "login.second_factor.throttled", user_id = %user.id, client = %client.address_field(), retry_after_seconds = wait.seconds(), "second factor refused: too many failures");
                return Err(ServiceError::Throttled {
                    retry_after_seconds: wait.seconds(),
                });
            }
        };
        let method = match self.check_code(&user, code, now).await {
            Ok(Some(method)) => method,
            Ok(None) => {
                attempt.keep();
                tracing::info!(event = "login.second_factor.failure", user_id = %user.id, client = %client.address_field(), "wrong second factor");
                return Ok(SecondFactorOutcome::InvalidCode);
            }
            Err(error) => {
                attempt.abandon(self).await;
                return Err(error);
            }
        };
        attempt.succeeded(self).await?;
        let session = self
            .finish_login(user, pending.remember, client, replacing, method)
            .await?;
        Ok(SecondFactorOutcome::LoggedIn(Box::new(session)))
    }

    /// The user of a pending login that is still live: not older than
    /// [`PENDING_LOGIN_LIFETIME`], the user still there with the same auth stamp.
    pub(crate) async fn pending_user(
        &self,
        pending: &PendingLogin,
    ) -> Result<Option<User>, ServiceError> {
        if pending.expired(OffsetDateTime::now_utc()) {
            return Ok(None);
        }
        Ok(self
            .store()
            .find_user(pending.user_id)
            .await?
            .filter(|user| user.auth_stamp == pending.auth_stamp))
    }

    /// The session a completed second step gets (a new id), ending the browser's previous one.
    pub(crate) async fn finish_login(
        &self,
        user: User,
        remember: bool,
        client: &Client,
        replacing: Option<&ActiveSession>,
        method: &'static str,
    ) -> Result<ActiveSession, ServiceError> {
        if let Some(previous) = replacing {
            self.end(previous).await?;
        }
        let now = OffsetDateTime::now_utc();
        self.notify_if_new_device(&user, client, now);
        let session = self.start_session(user, remember, client, now).await?;
        tracing::info!(event = "login.success", user_id = %session.user.id, client = %client.address_field(), remember, second_factor = method, "login succeeded with a second factor");
        Ok(session)
    }

    /// Which factor `code` proves, if any: a TOTP code (its step not used before) or an unused
    /// recovery code (used up now).
    async fn check_code(
        &self,
        user: &User,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<&'static str>, ServiceError> {
        let store = self.store();
        let trimmed = code.trim();
        if trimmed.len() == crate::totp::DIGITS && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let Some(sealed) = store.totp_secret(user.id).await? else {
                return Ok(None);
            };
            let Some((bytes, _)) = self.sealer().open(&sealed, &secret_aad(user.id)) else {
                tracing::error!(user_id = %user.id, "the stored TOTP secret does not open with SECRET_KEY or its fallbacks");
                return Ok(None);
            };
            let Some(secret) = TotpSecret::from_bytes(&bytes) else {
                return Ok(None);
            };
            let Some(step) = secret.matching_step(trimmed, unix_seconds(now)) else {
                return Ok(None);
            };
            if !store.accept_totp_step(user.id, step).await? {
                tracing::info!(event = "login.second_factor.replay", user_id = %user.id, "a TOTP code was used again");
                return Ok(None);
            }
            return Ok(Some("totp"));
        }
        let Some(digest) = recovery_code_digest(code) else {
            return Ok(None);
        };
        if store.use_recovery_code(user.id, &digest).await? {
            tracing::info!(event = "recovery_code.used", user_id = %user.id, "a recovery code was used");
            return Ok(Some("recovery_code"));
        }
        Ok(None)
    }

    /// A new secret for `session`'s user to enrol (the caller checked the login is fresh).
    pub fn begin_totp_enrolment(&self, session: &ActiveSession) -> TotpEnrolment {
        let secret = TotpSecret::generate();
        let now = OffsetDateTime::now_utc();
        let mut plain = secret.as_bytes().to_vec();
        plain.extend_from_slice(&ms(now).to_be_bytes());
        let sealed = self.sealer().seal(&plain, &enrolment_aad(session.user.id));
        let uri = secret.otpauth_uri(&self.0.settings.totp_issuer, session.user.username.as_str());
        TotpEnrolment {
            secret,
            uri,
            form_value: URL_SAFE_NO_PAD.encode(sealed),
        }
    }

    /// The secret an enrolment form carries, if it is this user's and recent.
    fn enrolment_secret(&self, user_id: UserId, form_value: &str) -> Option<TotpSecret> {
        let sealed = URL_SAFE_NO_PAD.decode(form_value.trim()).ok()?;
        let (plain, _) = self.sealer().open(&sealed, &enrolment_aad(user_id))?;
        let (secret, issued) = plain.split_at_checked(crate::totp::SECRET_BYTES)?;
        let issued_ms = i64::from_be_bytes(issued.try_into().ok()?);
        let age = ms(OffsetDateTime::now_utc()).saturating_sub(issued_ms);
        if age < 0 || age > i64::try_from(ENROLMENT_LIFETIME.as_millis()).unwrap_or(i64::MAX) {
            return None;
        }
        TotpSecret::from_bytes(secret)
    }

    /// Confirms an enrolment with a code from the app: TOTP on (the secret sealed at rest),
    /// ten new recovery codes (returned to be shown once), the confirming code's step used up,
    /// a notice sent.
    pub async fn confirm_totp_enrolment(
        &self,
        session: &ActiveSession,
        form_value: &str,
        code: &str,
        client: &Client,
    ) -> Result<TotpConfirmation, ServiceError> {
        let user = &session.user;
        let Some(secret) = self.enrolment_secret(user.id, form_value) else {
            return Ok(TotpConfirmation::Expired);
        };
        let now = OffsetDateTime::now_utc();
        let Some(step) = secret.matching_step(code, unix_seconds(now)) else {
            return Ok(TotpConfirmation::WrongCode);
        };
        let codes = RecoveryCode::generate_set();
        let digests: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::digest).collect();
        let sealed = self.sealer().seal(secret.as_bytes(), &secret_aad(user.id));
        let store = self.store();
        if !store.enable_totp(user.id, &sealed, &digests).await? {
            return Ok(TotpConfirmation::Expired);
        }
        // The code that confirmed the enrolment cannot log in as well.
        store.accept_totp_step(user.id, step).await?;
        tracing::info!(event = "second_factor.totp.enabled", user_id = %user.id, client = %client.address_field(), "authenticator app enrolled; recovery codes made");
        self.notify_factor_change(user, "an authenticator app was added");
        Ok(TotpConfirmation::Enabled(codes))
    }

    /// Turns `session`'s user's authenticator app and recovery codes off (the caller checked
    /// the login is fresh); `false` if none was on.
    pub async fn disable_totp(
        &self,
        session: &ActiveSession,
        client: &Client,
    ) -> Result<bool, ServiceError> {
        let user = &session.user;
        let cleared = self.store().clear_second_factors(user.id).await?;
        if cleared {
            tracing::info!(event = "second_factor.totp.disabled", user_id = %user.id, client = %client.address_field(), "authenticator app and recovery codes removed");
            self.notify_factor_change(
                user,
                "the authenticator app and recovery codes were removed",
            );
        }
        Ok(cleared)
    }

    /// Ten new recovery codes for `session`'s user, replacing the old ones (the caller checked
    /// the login is fresh); `None` when TOTP is off.
    pub async fn regenerate_recovery_codes(
        &self,
        session: &ActiveSession,
        client: &Client,
    ) -> Result<Option<Vec<RecoveryCode>>, ServiceError> {
        let user = &session.user;
        let store = self.store();
        if !store.second_factors(user.id).await?.totp {
            return Ok(None);
        }
        let codes = RecoveryCode::generate_set();
        let digests: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::digest).collect();
        store.replace_recovery_codes(user.id, &digests).await?;
        tracing::info!(event = "second_factor.recovery_codes.regenerated", user_id = %user.id, client = %client.address_field(), "recovery codes replaced");
        self.notify_factor_change(
            user,
            "new recovery codes were made; the old ones no longer work",
        );
        Ok(Some(codes))
    }

    /// An administrator clears every second factor of `username` (`wristband user
    /// reset-2fa`): `None` for an unknown user, else whether any was on.
    pub async fn reset_second_factors(
        &self,
        username: &Username,
        client: &Client,
    ) -> Result<Option<bool>, ServiceError> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(None);
        };
        let cleared = self.store().clear_second_factors(user.id).await?;
        if cleared {
            tracing::info!(event = "second_factor.reset", user_id = %user.id, client = %client.address_field(), "every second factor cleared by an administrator");
            self.notify_factor_change(&user, "every second factor was removed by an administrator");
        }
        Ok(Some(cleared))
    }

    fn notify_factor_change(&self, user: &User, change: &str) {
        self.notify(
            user,
            LetterKind::SecondFactorChanged {
                change: change.to_owned(),
            },
        );
    }

    /// The new-device notice, for a login from a browser with no device cookie for `user`.
    pub(crate) fn notify_if_new_device(&self, user: &User, client: &Client, now: OffsetDateTime) {
        if !client.knows_device(user.username.key()) {
            // ASVS 2.5.5 / contract §9.
            self.notify(
                user,
                LetterKind::NewDeviceLogin {
                    at: now,
                    address: client.address_field().to_string(),
                    user_agent: client.user_agent.clone(),
                },
            );
        }
    }
}
