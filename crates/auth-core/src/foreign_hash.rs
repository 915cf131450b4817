//! Stored password hashes made by other software, so that the users of an imported app keep
//! their passwords: Werkzeug's (Flask's) `pbkdf2:…`, `scrypt:…` and legacy `sha1$…`/`sha256$…`,
//! and bcrypt's `$2a$`/`$2b$`/`$2y$`.
//!
//! [`identify`] recognises and checks a stored hash of any supported format (Argon2 included)
//! without doing the expensive work, for importers that want to refuse a bad row up front. The
//! verification itself runs on the [`Argon2Hasher`](crate::Argon2Hasher)'s worker threads, which
//! report every successful match of a foreign hash as
//! [`Match { needs_rehash: true }`](crate::Verification::Match) so the caller replaces it with
//! Argon2id.
//!
//! # Formats
//!
//! | stored hash | as written by | verified as |
//! | --- | --- | --- |
//! | `pbkdf2:<sha1\|sha256\|sha512>:<iterations>$<salt>$<hex>` | Werkzeug ≥ 0.9 | PBKDF2-HMAC, key length = digest size |
//! | `scrypt:<N>:<r>:<p>$<salt>$<hex>` | Werkzeug ≥ 2.3 | scrypt, 64-byte key |
//! | `<sha1\|sha256\|sha512>$<salt>$<hex>` | Werkzeug < 2.3 (deprecated, removed in 3.0) | HMAC, key = salt |
//! | `$2a$`, `$2b$`, `$2y$` + cost + 53 characters | bcrypt (OpenBSD, pyca, PHP, …) | bcrypt, the password cut at 72 bytes |
//! | `$argon2id$…`, `$argon2i$…`, `$argon2d$…` | Wristband, argon2-cffi, … | Argon2 |
//!
//! A bare `scrypt$<salt>$<hex>`, which Werkzeug never writes, is read as Werkzeug reads it:
//! `32768:8:1`. The salt of a Werkzeug hash is its text's UTF-8 bytes; the digest is lower-case hexadecimal,
//! as Werkzeug writes it (and as its `check_password_hash` compares it).
//!
//! Refused, with a reason: plaintext (`plain$$…`) and unsalted (`sha1$$…`) entries, other
//! digests (`md5$…`), bcrypt's `$2x$` (crypt_blowfish's bug-compatible variant), PHC strings of
//! other algorithms (passlib's `$pbkdf2-sha256$…`), `pbkdf2:sha256$…` without an iteration count
//! (Werkzeug always writes one, and reads a missing one as the default of whichever Werkzeug
//! version reads it — 1,000, 150,000, 260,000, 600,000 or 1,000,000 — so its meaning is
//! unknown), and any hash whose cost is above the limits below, which would tie a worker up for
//! minutes or allocate more memory than a worker may.
//!
//! # Passwords
//!
//! Wristband hashes the NFKC form of a password; other software hashed the password as typed.
//! A foreign hash is therefore checked against the password as received first and, only if that
//! fails and its NFKC form differs, against the NFKC form.

use crate::hasher::{HashError, MAX_VERIFY_MEMORY_KIB, Phc, parse_phc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Longest stored hash accepted, in bytes: far above any supported format's real length.
pub const MAX_HASH_LEN: usize = 1024;
/// Most PBKDF2 iterations accepted (Werkzeug 3.1 writes 1,000,000).
pub const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
/// Most memory a scrypt hash may need, `128·r·(N + p)` bytes (Werkzeug's default needs 32 MiB).
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Most scrypt work accepted, `N·r·p` (Werkzeug's default is 2^18).
pub const MAX_SCRYPT_WORK: u64 = 1 << 24;
/// Highest bcrypt cost accepted (2^16 rounds; common values are 10 to 14).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Most Argon2 work accepted, memory (KiB) × passes: 8 GiB-passes, e.g. 1 GiB at t=8.
pub const MAX_ARGON2_WORK: u64 = 8 * 1024 * 1024;

/// The hash function inside a Werkzeug PBKDF2 or legacy HMAC hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// SHA-1 (Werkzeug 0.9–0.14's default, `pbkdf2:sha1`).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Digest {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The name Werkzeug (and Python's `hashlib`) uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Output size in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// The most an imported hash may cost (`password.import_max_cost`): an import refuses hashes
/// above these, so that no guess at an imported user's password can tie a worker up for
/// seconds or allocate hundreds of MiB. The defaults admit what Flask apps hold (Werkzeug's
/// defaults: scrypt N = 2^15, PBKDF2 600,000 to 1,000,000 iterations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportCostLimits {
    /// Most PBKDF2 iterations.
    pub pbkdf2_iterations: u64,
    /// Most scrypt memory, `128·r·(N+p)` bytes, in KiB.
    pub scrypt_memory_kib: u64,
    /// Highest bcrypt cost.
    pub bcrypt_cost: u32,
    /// Most Argon2 memory, KiB.
    pub argon2_memory_kib: u32,
    /// Most Argon2 passes.
    pub argon2_iterations: u32,
}

impl Default for ImportCostLimits {
    fn default() -> Self {
        Self {
            pbkdf2_iterations: 2_000_000,
            scrypt_memory_kib: 64 * 1024,
            bcrypt_cost: 13,
            argon2_memory_kib: 256 * 1024,
            argon2_iterations: 10,
        }
    }
}

impl ImportCostLimits {
    /// `Err(key …)` when a limit is above what the hasher verifies at all.
    pub fn check(&self) -> Result<(), String> {
        let over = |key: &str, value: u64, max: u64| -> Result<(), String> {
            if value == 0 || value > max {
                Err(format!("{key}` is {value}; it must be between 1 and {max}"))
            } else {
                Ok(())
            }
        };
        over(
            "pbkdf2_iterations",
            self.pbkdf2_iterations,
            MAX_PBKDF2_ITERATIONS,
        )?;
        over(
            "scrypt_memory_kib",
            self.scrypt_memory_kib,
            MAX_SCRYPT_MEMORY_BYTES / 1024,
        )?;
        over(
            "bcrypt_cost",
            self.bcrypt_cost.into(),
            MAX_BCRYPT_COST.into(),
        )?;
        over(
            "argon2_memory_kib",
            self.argon2_memory_kib.into(),
            MAX_VERIFY_MEMORY_KIB.into(),
        )?;
        over("argon2_iterations", self.argon2_iterations.into(), 64)
    }

    /// Refuses `format` when its parameters are above a limit, naming the limit's key.
    pub fn admit(&self, format: &HashFormat) -> Result<(), UnsupportedHashFormat> {
        let refuse = |key, limit| Err(UnsupportedHashFormat::AboveImportLimit { key, limit });
        match *format {
            HashFormat::WerkzeugPbkdf2 { iterations, .. }
                if u64::from(iterations) > self.pbkdf2_iterations =>
            {
                refuse("pbkdf2_iterations", self.pbkdf2_iterations)
            }
            HashFormat::WerkzeugScrypt { n, r, p }
                if scrypt_memory_kib(n, r.into(), p.into()) > self.scrypt_memory_kib =>
            {
                refuse("scrypt_memory_kib", self.scrypt_memory_kib)
            }
            HashFormat::Bcrypt { cost } if cost > self.bcrypt_cost => {
                refuse("bcrypt_cost", self.bcrypt_cost.into())
            }
            HashFormat::Argon2 { memory_kib, .. } if memory_kib > self.argon2_memory_kib => {
                refuse("argon2_memory_kib", self.argon2_memory_kib.into())
            }
            HashFormat::Argon2 { iterations, .. } if iterations > self.argon2_iterations => {
                refuse("argon2_iterations", self.argon2_iterations.into())
            }
            _ => Ok(()),
        }
    }
}

/// scrypt's memory, `128·r·(N+p)` bytes, in KiB (saturating).
fn scrypt_memory_kib(n: u64, r: u64, p: u64) -> u64 {
    n.saturating_add(p).saturating_mul(r).saturating_mul(128) / 1024
}

/// What [`identify`] found: the kind of a stored hash and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFormat {
    /// An Argon2 PHC string (`$argon2id$…`, `$argon2i$…`, `$argon2d$…`), Wristband's own format.
    Argon2 {
        /// Memory, KiB.
        memory_kib: u32,
        /// Passes.
        iterations: u32,
    },
    /// A foreign hash wrapped in Argon2id (`wrapped:…`): the foreign hash's parameters and salt,
    /// and Argon2id over its output. What an import stores, so that a leaked database never
    /// holds a Werkzeug, legacy SHA or bcrypt hash.
    Wrapped,
    /// Werkzeug `pbkdf2:<digest>:<iterations>$salt$hex`.
    WerkzeugPbkdf2 {
        /// The HMAC's hash function.
        digest: Digest,
        /// PBKDF2 iterations.
        iterations: u32,
    },
    /// Werkzeug `scrypt:<N>:<r>:<p>$salt$hex`.
    WerkzeugScrypt {
        /// CPU/memory cost, a power of two.
        n: u64,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
    },
    /// Werkzeug's legacy salted `<digest>$salt$hex`: HMAC with the salt as key.
    WerkzeugLegacyHmac {
        /// The HMAC's hash function.
        digest: Digest,
    },
    /// bcrypt `$2a$`, `$2b$` or `$2y$`.
    Bcrypt {
        /// log2 of the rounds, 4 to [`MAX_BCRYPT_COST`].
        cost: u32,
    },
}

impl HashFormat {
    /// A short, stable name: `argon2`, `pbkdf2:sha256`, `scrypt`, `legacy-hmac:sha1`, `bcrypt`, ….
    pub fn label(&self) -> &'static str {
        match self {
            Self::Argon2 { .. } => "argon2",
            Self::Wrapped => "wrapped",
            Self::WerkzeugPbkdf2 { digest, .. } => match digest {
                Digest::Sha1 => "pbkdf2:sha1",
                Digest::Sha256 => "pbkdf2:sha256",
                Digest::Sha512 => "pbkdf2:sha512",
            },
            Self::WerkzeugScrypt { .. } => "scrypt",
            Self::WerkzeugLegacyHmac { digest } => match digest {
                Digest::Sha1 => "legacy-hmac:sha1",
                Digest::Sha256 => "legacy-hmac:sha256",
                Digest::Sha512 => "legacy-hmac:sha512",
            },
            Self::Bcrypt { .. } => "bcrypt",
        }
    }

    /// True for every format other than Argon2: a successful verification always asks for a
    /// rehash.
    pub fn is_foreign(&self) -> bool {
        !matches!(self, Self::Argon2 { .. })
    }

    /// True for a foreign hash stored as it came, which an import wraps in Argon2id.
    pub fn needs_wrapping(&self) -> bool {
        self.is_foreign() && !matches!(self, Self::Wrapped)
    }
}

/// Why a stored hash is not one this crate can verify.
///
/// The message says what is wrong for a person fixing an import file; it never contains any part
/// of the hash (which may be a password pasted into the wrong column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsupportedHashFormat {
    /// Nothing at all.
    #[error("the password hash is empty")]
    Empty,
    /// Longer than [`MAX_HASH_LEN`].
    #[error(
        "the password hash is longer than {MAX_HASH_LEN} bytes, longer than any supported format"
    )]
    TooLong,
    /// Not shaped like any supported format.
    #[error(
        "not a supported password hash: expected Argon2 ($argon2id$…), bcrypt ($2a$, $2b$, $2y$) \
         or Werkzeug (pbkdf2:…, scrypt:…, sha1$…, sha256$…)"
    )]
    Unrecognised,
    /// Werkzeug's `plain$$password`.
    #[error("a plaintext password (Werkzeug `plain$`) is refused: it is not a hash")]
    Plaintext,
    /// A Werkzeug method other than pbkdf2, scrypt or a legacy sha1/sha256/sha512 HMAC.
    #[error(
        "unsupported Werkzeug method: expected pbkdf2:<sha1|sha256|sha512>:<iterations>, \
         scrypt:<N>:<r>:<p>, or legacy sha1, sha256 or sha512"
    )]
    UnsupportedMethod,
    /// Not `method$salt$digest`.
    #[error("a Werkzeug hash has three parts separated by `$`: method$salt$digest")]
    MissingParts,
    /// `method$$digest`.
    #[error("the salt is empty: unsalted hashes are refused (Werkzeug always writes a salt)")]
    EmptySalt,
    /// `pbkdf2:sha256$…`.
    #[error(
        "the pbkdf2 method has no iteration count: Werkzeug always writes one (e.g. \
         pbkdf2:sha256:600000) and reads a missing one as its own version's default, so its \
         meaning is unknown"
    )]
    MissingIterations,
    /// A count that is not a positive decimal number, or the wrong number of them.
    #[error(
        "malformed cost parameters: pbkdf2 takes <digest>:<iterations>, scrypt takes <N>:<r>:<p>, \
         each a positive decimal number"
    )]
    BadParameter,
    /// scrypt parameters the algorithm itself forbids.
    #[error("invalid scrypt parameters: N must be a power of two above 1 and below 2^(16·r)")]
    InvalidScrypt,
    /// Cost parameters above this crate's limits.
    #[error("the hash's cost is above the limit of {limit}")]
    TooCostly {
        /// The limit exceeded, in words.
        limit: &'static str,
    },
    /// The digest has characters other than `0-9a-f`.
    #[error("the digest is not lower-case hexadecimal")]
    DigestNotHex,
    /// The digest has the wrong length for its method.
    #[error(
        "the digest has the wrong length: this method gives {expected_hex_digits} hexadecimal digits"
    )]
    DigestLength {
        /// The right length.
        expected_hex_digits: usize,
    },
    /// `$2x$`, `$2$` or another bcrypt-like prefix.
    #[error("unsupported bcrypt variant: only $2a$, $2b$ and $2y$ are supported")]
    BcryptVariant,
    /// Not `$2b$NN$` + 53 characters of bcrypt's base64.
    #[error(
        "malformed bcrypt hash: expected 60 characters, $2b$, a two-digit cost, $, then 22 \
         characters of salt and 31 of digest in bcrypt's base64"
    )]
    BcryptMalformed,
    /// A bcrypt cost outside 4..=31.
    #[error("invalid bcrypt cost: it must be between 04 and 31")]
    BcryptCost,
    /// A PHC string (`$name$…`) of an algorithm other than Argon2.
    #[error(
        "unsupported PHC algorithm: only argon2id, argon2i and argon2d (not, e.g., passlib's \
         $pbkdf2-sha256$ or $scrypt$)"
    )]
    PhcAlgorithm,
    /// An Argon2 PHC string that does not parse.
    #[error("malformed Argon2 hash: expected $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>")]
    Argon2Malformed,
    /// A `wrapped:` hash that does not parse.
    #[error(
        "malformed wrapped hash: expected wrapped:<foreign parameters and salt>|<Argon2id hash>"
    )]
    WrappedMalformed,
    /// Above `password.import_max_cost`.
    #[error("the hash's cost is above `password.import_max_cost.{key}` ({limit})")]
    AboveImportLimit {
        /// The key of the limit.
        key: &'static str,
        /// Its value.
        limit: u64,
    },
}

/// The kind of work verifying `stored` takes, for comparing costs: the format with its cost
/// parameters (`argon2:19456:2`, `pbkdf2:sha256:600000`, `wrapped:$2b$12`, …); never any salt
/// or output. Unreadable hashes are one kind, `unreadable`.
pub fn cost_class(stored: &str) -> String {
    match parse(stored) {
        Ok(Parsed::Argon2(phc)) => format!("argon2:{}:{}", phc.memory_kib(), phc.iterations()),
        Ok(Parsed::Foreign(foreign)) => foreign_class(&foreign.format()),
        Ok(Parsed::Wrapped { foreign, outer }) => format!(
            "wrapped:{}:argon2:{}:{}",
            foreign_class(&foreign.format()),
            outer.memory_kib(),
            outer.iterations()
        ),
        Err(_) => "unreadable".to_owned(),
    }
}

fn foreign_class(format: &HashFormat) -> String {
    match *format {
        HashFormat::WerkzeugPbkdf2 { iterations, .. } => {
            format!("{}:{iterations}", format.label())
        }
        HashFormat::WerkzeugScrypt { n, r, p } => format!("scrypt:{n}:{r}:{p}"),
        HashFormat::Bcrypt { cost } => format!("bcrypt:{cost}"),
        _ => format.label().to_owned(),
    }
}

/// Recognises a stored password hash and checks its structure and cost, without hashing.
///
/// Accepts exactly what the [`Argon2Hasher`](crate::Argon2Hasher) can verify (see the
/// [module docs](self) for the formats); for anything else it says what is wrong, never echoing
/// the hash. Cheap: no key derivation runs, so an importer can call it on every row.
///
/// ```
/// use auth_core::foreign_hash::{identify, Digest, HashFormat};
///
/// let werkzeug = "pbkdf2:sha256:600000$abcdefghijklmnop$\
///     0d1a4641f1a9aad40c6e7dc993181b8ac3db35a661fe79bae81fe32cf3306dce";
/// assert_eq!(
///     identify(werkzeug),
///     Ok(HashFormat::WerkzeugPbkdf2 { digest: Digest::Sha256, iterations: 600_000 })
/// );
/// let error = identify("plain$$hunter2").unwrap_err();
/// assert!(!error.to_string().contains("hunter2"));
/// ```
pub fn identify(stored: &str) -> Result<HashFormat, UnsupportedHashFormat> {
    parse(stored).map(|parsed| parsed.format())
}

/// A stored hash, parsed and checked, ready for verification.
pub(crate) enum Parsed<'a> {
    /// Verified by the hasher's own Argon2 code.
    Argon2(Phc),
    /// Verified by [`Foreign::matches`].
    Foreign(Foreign<'a>),
    /// The foreign derivation (its stored output is unused), then Argon2 over its output.
    Wrapped {
        /// The foreign hash's parameters and salt.
        foreign: Foreign<'a>,
        /// Argon2id over the foreign output.
        outer: Phc,
    },
}

impl Parsed<'_> {
    fn format(&self) -> HashFormat {
        match self {
            Self::Argon2(phc) => HashFormat::Argon2 {
                memory_kib: phc.memory_kib(),
                iterations: phc.iterations(),
            },
            Self::Foreign(foreign) => foreign.format(),
            Self::Wrapped { .. } => HashFormat::Wrapped,
        }
    }
}

/// The prefix of a wrapped hash: `wrapped:<foreign parameters and salt>|<Argon2id PHC>`.
pub(crate) const WRAPPED_PREFIX: &str = "wrapped:";

/// A foreign hash with its salt and expected digest decoded.
pub(crate) enum Foreign<'a> {
    Pbkdf2 {
        digest: Digest,
        iterations: u32,
        salt: &'a str,
        expected: Vec<u8>,
    },
    Scrypt {
        params: scrypt::Params,
        salt: &'a str,
        expected: Vec<u8>,
    },
    LegacyHmac {
        digest: Digest,
        salt: &'a str,
        expected: Vec<u8>,
    },
    /// The whole, checked `$2b$…` string: the bcrypt crate parses it again.
    Bcrypt { cost: u32, stored: &'a str },
}

impl Foreign<'_> {
    fn format(&self) -> HashFormat {
        match self {
            Self::Pbkdf2 {
                digest, iterations, ..
            } => HashFormat::WerkzeugPbkdf2 {
                digest: *digest,
                iterations: *iterations,
            },
            Self::Scrypt { params, .. } => HashFormat::WerkzeugScrypt {
                n: 1u64 << params.log_n(),
                r: params.r(),
                p: params.p(),
            },
            Self::LegacyHmac { digest, .. } => HashFormat::WerkzeugLegacyHmac { digest: *digest },
            Self::Bcrypt { cost, .. } => HashFormat::Bcrypt { cost: *cost },
        }
    }

    /// What the foreign hash stored: the derivation's output for the right password.
    pub(crate) fn expected(&self) -> &[u8] {
        match self {
            Self::Pbkdf2 { expected, .. }
            | Self::Scrypt { expected, .. }
            | Self::LegacyHmac { expected, .. } => expected,
            // The 31 characters of bcrypt's base64 after the cost and the 22 of salt.
            Self::Bcrypt { stored, .. } => stored.as_bytes().get(29..).unwrap_or_default(),
        }
    }

    /// The stored hash without its output: the parameters and salt, as a wrapped hash keeps
    /// them (`pbkdf2:sha256:600000$salt`, `$2b$12$<22 characters of salt>`).
    pub(crate) fn stub<'s>(&self, stored: &'s str) -> &'s str {
        match self {
            Self::Bcrypt { .. } => stored.get(..29).unwrap_or(stored),
            _ => stored.rsplit_once('$').map_or(stored, |(stub, _)| stub),
        }
    }

    /// Runs the (slow) key derivation for `password`: what [`expected`](Self::expected) holds
    /// when the password is right. Call on a worker thread only.
    pub(crate) fn derive(&self, password: &[u8]) -> Result<Vec<u8>, HashError> {
        match self {
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                ..
            } => {
                let mut output = vec![0u8; digest.output_len()];
                let salt = salt.as_bytes();
                match digest {
                    Digest::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, *iterations, &mut output);
                    }
                    Digest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut output);
                    }
                    Digest::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut output);
                    }
                }
                Ok(output)
            }
            Self::Scrypt { params, salt, .. } => {
                let mut output = vec![0u8; SCRYPT_KEY_LEN];
                scrypt::scrypt(password, salt.as_bytes(), params, &mut output)
                    .map_err(|_| HashError::UnsupportedHash)?;
                Ok(output)
            }
            Self::LegacyHmac { digest, salt, .. } => {
                let salt = salt.as_bytes();
                match digest {
                    Digest::Sha1 => hmac_output::<Hmac<Sha1>>(salt, password),
                    Digest::Sha256 => hmac_output::<Hmac<Sha256>>(salt, password),
                    Digest::Sha512 => hmac_output::<Hmac<Sha512>>(salt, password),
                }
            }
            // bcrypt semantics: the password is cut at 72 bytes, as when the hash was made.
            Self::Bcrypt { cost, stored } => {
                use base64::Engine as _;
                let salt = stored
                    .get(7..29)
                    .and_then(|salt| bcrypt::BASE_64.decode(salt).ok())
                    .and_then(|salt| <[u8; 16]>::try_from(salt).ok())
                    .ok_or(HashError::UnsupportedHash)?;
                let parts = bcrypt::hash_with_salt(password, *cost, salt)
                    .map_err(|_| HashError::UnsupportedHash)?;
                let full = parts.format_for_version(bcrypt::Version::TwoB);
                Ok(full.as_bytes().get(29..).unwrap_or_default().to_vec())
            }
        }
    }

    /// Runs the (slow) key derivation for `password` and compares in constant time. Call on a
    /// worker thread only.
    pub(crate) fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        match self {
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                expected,
            } => {
                let mut output = vec![0u8; digest.output_len()];
                let salt = salt.as_bytes();
                match digest {
                    Digest::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, *iterations, &mut output);
                    }
                    Digest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut output);
                    }
                    Digest::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut output);
                    }
                }
                Ok(bool::from(output.as_slice().ct_eq(expected.as_slice())))
            }
            Self::Scrypt {
                params,
                salt,
                expected,
            } => {
                let mut output = vec![0u8; expected.len()];
                scrypt::scrypt(password, salt.as_bytes(), params, &mut output)
                    .map_err(|_| HashError::UnsupportedHash)?;
                Ok(bool::from(output.as_slice().ct_eq(expected.as_slice())))
            }
            Self::LegacyHmac {
                digest,
                salt,
                expected,
            } => {
                let salt = salt.as_bytes();
                match digest {
                    Digest::Sha1 => hmac_verify::<Hmac<Sha1>>(salt, password, expected),
                    Digest::Sha256 => hmac_verify::<Hmac<Sha256>>(salt, password, expected),
                    Digest::Sha512 => hmac_verify::<Hmac<Sha512>>(salt, password, expected),
                }
            }
            // bcrypt semantics: the password is cut at 72 bytes, as when the hash was made.
            Self::Bcrypt { stored, .. } => {
                bcrypt::verify(password, stored).map_err(|_| HashError::UnsupportedHash)
            }
        }
    }
}

/// HMAC(key = `key`, message = `message`).
fn hmac_output<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    message: &[u8],
) -> Result<Vec<u8>, HashError> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .map_err(|_| HashError::UnsupportedHash)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// HMAC(key = `key`, message = `message`) compared with `expected` in constant time.
fn hmac_verify<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    message: &[u8],
    expected: &[u8],
) -> Result<bool, HashError> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .map_err(|_| HashError::UnsupportedHash)?;
    mac.update(message);
    Ok(mac.verify_slice(expected).is_ok())
}

/// Parses and checks a stored hash of any supported format.
pub(crate) fn parse(stored: &str) -> Result<Parsed<'_>, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    if stored.is_empty() {
        return Err(E::Empty);
    }
    if stored.len() > MAX_HASH_LEN {
        return Err(E::TooLong);
    }
    if let Some(rest) = stored.strip_prefix(WRAPPED_PREFIX) {
        return parse_wrapped(rest);
    }
    if stored.starts_with("$2") {
        return parse_bcrypt(stored).map(Parsed::Foreign);
    }
    if let Some(rest) = stored.strip_prefix('$') {
        let algorithm = rest.split('$').next().unwrap_or_default();
        if !matches!(algorithm, "argon2id" | "argon2i" | "argon2d") {
            return Err(E::PhcAlgorithm);
        }
        let phc = parse_phc(stored)?;
        return Ok(Parsed::Argon2(phc));
    }
    parse_werkzeug(stored).map(Parsed::Foreign)
}

/// `<stub>|<phc>`: a foreign stub (its output left out) and Argon2id over that output.
fn parse_wrapped(rest: &str) -> Result<Parsed<'_>, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    let (stub, outer) = rest.rsplit_once('|').ok_or(E::WrappedMalformed)?;
    // The stub is a foreign hash without its output: parse it with a placeholder output of the
    // right length, which the wrapped verification never reads.
    let foreign = if stub.starts_with("$2") {
        let placeholder = format!("{stub}{}", "O".repeat(31));
        parse_bcrypt(&placeholder).map_err(|_| E::WrappedMalformed)?;
        // Parsed again from the stub's own text so the result borrows from `rest`.
        let cost = stub
            .get(4..6)
            .and_then(|c| c.parse().ok())
            .ok_or(E::WrappedMalformed)?;
        Foreign::Bcrypt { cost, stored: stub }
    } else {
        let len = werkzeug_output_len(stub).ok_or(E::WrappedMalformed)?;
        let placeholder = format!("{stub}${}", "0".repeat(len * 2));
        parse_werkzeug(&placeholder).map_err(|_| E::WrappedMalformed)?;
        let (method, salt) = stub.split_once('$').ok_or(E::WrappedMalformed)?;
        reparse_werkzeug_stub(method, salt)?
    };
    if !outer.starts_with("$argon2id$") {
        return Err(E::WrappedMalformed);
    }
    let outer = parse_phc(outer).map_err(|_| E::WrappedMalformed)?;
    Ok(Parsed::Wrapped { foreign, outer })
}

/// The output length of the Werkzeug method a stub names.
fn werkzeug_output_len(stub: &str) -> Option<usize> {
    let method = stub.split_once('$')?.0;
    let name = method.split(':').next()?;
    match name {
        "pbkdf2" => Digest::from_name(method.split(':').nth(1)?).map(Digest::output_len),
        "scrypt" => Some(SCRYPT_KEY_LEN),
        other => Digest::from_name(other).map(Digest::output_len),
    }
}

/// The derivation of a checked Werkzeug stub, borrowing its salt (no output).
fn reparse_werkzeug_stub<'a>(
    method: &str,
    salt: &'a str,
) -> Result<Foreign<'a>, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    let mut parts = method.split(':');
    let name = parts.next().unwrap_or_default();
    Ok(match name {
        "pbkdf2" => {
            let digest = parts
                .next()
                .and_then(Digest::from_name)
                .ok_or(E::WrappedMalformed)?;
            let iterations = parts
                .next()
                .and_then(|i| i.parse().ok())
                .ok_or(E::WrappedMalformed)?;
            Foreign::Pbkdf2 {
                digest,
                iterations,
                salt,
                expected: Vec::new(),
            }
        }
        "scrypt" => {
            let mut numbers = parts.map(parse_count);
            let (n, r, p) = match (numbers.next(), numbers.next(), numbers.next()) {
                (Some(n), Some(r), Some(p)) => (n?, r?, p?),
                (None, None, None) => (1 << 15, 8, 1),
                _ => return Err(E::WrappedMalformed),
            };
            Foreign::Scrypt {
                params: scrypt_params(n, r, p)?,
                salt,
                expected: Vec::new(),
            }
        }
        other => Foreign::LegacyHmac {
            digest: Digest::from_name(other).ok_or(E::WrappedMalformed)?,
            salt,
            expected: Vec::new(),
        },
    })
}

/// `method$salt$digest`.
fn parse_werkzeug(stored: &str) -> Result<Foreign<'_>, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    let Some((method, rest)) = stored.split_once('$') else {
        return Err(E::Unrecognised);
    };
    if method == "plain" {
        return Err(E::Plaintext);
    }
    let (name, args) = match method.split_once(':') {
        Some((name, args)) => (name, Some(args)),
        None => (method, None),
    };
    // Recognise the method before judging the rest, so that the message names the real problem.
    enum Method {
        Pbkdf2,
        Scrypt,
        Legacy(Digest),
    }
    let kind = match (name, args) {
        ("pbkdf2", _) => Method::Pbkdf2,
        ("scrypt", _) => Method::Scrypt,
        (name, None) => Method::Legacy(Digest::from_name(name).ok_or(E::UnsupportedMethod)?),
        _ => return Err(E::UnsupportedMethod),
    };
    let Some((salt, hex_digest)) = rest.split_once('$') else {
        return Err(E::MissingParts);
    };
    if salt.is_empty() {
        return Err(E::EmptySalt);
    }
    match kind {
        Method::Pbkdf2 => {
            let Some(args) = args else {
                return Err(E::MissingIterations);
            };
            let (digest, iterations) = match args.split_once(':') {
                Some((digest, iterations)) => (digest, iterations),
                None if Digest::from_name(args).is_some() => return Err(E::MissingIterations),
                None => return Err(E::UnsupportedMethod),
            };
            let digest = Digest::from_name(digest).ok_or(E::UnsupportedMethod)?;
            let iterations = parse_count(iterations)?;
            if iterations > MAX_PBKDF2_ITERATIONS {
                return Err(E::TooCostly {
                    limit: "10,000,000 pbkdf2 iterations",
                });
            }
            let iterations = u32::try_from(iterations).map_err(|_| E::BadParameter)?;
            let expected = decode_hex(hex_digest, digest.output_len())?;
            Ok(Foreign::Pbkdf2 {
                digest,
                iterations,
                salt,
                expected,
            })
        }
        Method::Scrypt => {
            // Werkzeug writes all three; it reads a bare `scrypt` as its default, 32768:8:1.
            let (n, r, p) = match args {
                None => (1 << 15, 8, 1),
                Some(args) => {
                    let mut parts = args.split(':');
                    let (Some(n), Some(r), Some(p), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        return Err(E::BadParameter);
                    };
                    (parse_count(n)?, parse_count(r)?, parse_count(p)?)
                }
            };
            let params = scrypt_params(n, r, p)?;
            let expected = decode_hex(hex_digest, SCRYPT_KEY_LEN)?;
            Ok(Foreign::Scrypt {
                params,
                salt,
                expected,
            })
        }
        Method::Legacy(digest) => {
            let expected = decode_hex(hex_digest, digest.output_len())?;
            Ok(Foreign::LegacyHmac {
                digest,
                salt,
                expected,
            })
        }
    }
}

/// Werkzeug's scrypt key length (`hashlib.scrypt`'s default `dklen`).
const SCRYPT_KEY_LEN: usize = 64;

fn scrypt_params(n: u64, r: u64, p: u64) -> Result<scrypt::Params, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    if n < 2 || !n.is_power_of_two() {
        return Err(E::InvalidScrypt);
    }
    let memory = n
        .checked_add(p)
        .and_then(|blocks| blocks.checked_mul(r))
        .and_then(|bytes| bytes.checked_mul(128));
    if memory.is_none_or(|memory| memory > MAX_SCRYPT_MEMORY_BYTES) {
        return Err(E::TooCostly {
            limit: "256 MiB of scrypt memory (128·r·(N+p) bytes)",
        });
    }
    let work = n.checked_mul(r).and_then(|nr| nr.checked_mul(p));
    if work.is_none_or(|work| work > MAX_SCRYPT_WORK) {
        return Err(E::TooCostly {
            limit: "2^24 for scrypt's N·r·p",
        });
    }
    // The limits above keep r and p far below u32::MAX and log2(N) below 28.
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| E::InvalidScrypt)?;
    let r = u32::try_from(r).map_err(|_| E::InvalidScrypt)?;
    let p = u32::try_from(p).map_err(|_| E::InvalidScrypt)?;
    scrypt::Params::new(log_n, r, p, SCRYPT_KEY_LEN).map_err(|_| E::InvalidScrypt)
}

/// A positive decimal count of ASCII digits; saturates at `u64::MAX` so that the callers' limits
/// reject huge numbers as too costly.
fn parse_count(text: &str) -> Result<u64, UnsupportedHashFormat> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UnsupportedHashFormat::BadParameter);
    }
    let value = text.parse::<u64>().unwrap_or(u64::MAX);
    if value == 0 {
        return Err(UnsupportedHashFormat::BadParameter);
    }
    Ok(value)
}

/// Lower-case hex of exactly `len` bytes.
fn decode_hex(text: &str, len: usize) -> Result<Vec<u8>, UnsupportedHashFormat> {
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(UnsupportedHashFormat::DigestNotHex);
    }
    if text.len() != len * 2 {
        return Err(UnsupportedHashFormat::DigestLength {
            expected_hex_digits: len * 2,
        });
    }
    hex::decode(text).map_err(|_| UnsupportedHashFormat::DigestNotHex)
}

/// `$2b$NN$` + 22 characters of salt + 31 of digest, in bcrypt's base64 alphabet.
fn parse_bcrypt(stored: &str) -> Result<Foreign<'_>, UnsupportedHashFormat> {
    use UnsupportedHashFormat as E;
    let mut parts = stored.split('$');
    let (Some(""), Some(variant)) = (parts.next(), parts.next()) else {
        return Err(E::BcryptMalformed);
    };
    if !matches!(variant, "2a" | "2b" | "2y") {
        return Err(E::BcryptVariant);
    }
    let (Some(cost), Some(body), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(E::BcryptMalformed);
    };
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(E::BcryptMalformed);
    }
    let cost: u32 = cost.parse().map_err(|_| E::BcryptMalformed)?;
    if !(4..=31).contains(&cost) {
        return Err(E::BcryptCost);
    }
    if cost > MAX_BCRYPT_COST {
        return Err(E::TooCostly {
            limit: "bcrypt cost 16",
        });
    }
    if body.len() != 53
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Err(E::BcryptMalformed);
    }
    // Decoded exactly as the bcrypt crate will (unused trailing bits must be zero, as every
    // bcrypt implementation writes them), so that whatever is accepted here also verifies.
    let (salt, digest) = body.split_at(22);
    use base64::Engine as _;
    let salt_ok = bcrypt::BASE_64
        .decode(salt)
        .is_ok_and(|salt| salt.len() == 16);
    let digest_ok = bcrypt::BASE_64
        .decode(digest)
        .is_ok_and(|digest| digest.len() == 23);
    if !(salt_ok && digest_ok) {
        return Err(E::BcryptMalformed);
    }
    Ok(Foreign::Bcrypt { cost, stored })
}

/// Checks the Argon2 cost against this crate's limits (called by the PHC parser).
pub(crate) fn check_argon2_cost(m_cost_kib: u32, t_cost: u32) -> Result<(), UnsupportedHashFormat> {
    if m_cost_kib > MAX_VERIFY_MEMORY_KIB {
        return Err(UnsupportedHashFormat::TooCostly {
            limit: "1 GiB of Argon2 memory",
        });
    }
    if u64::from(m_cost_kib) * u64::from(t_cost) > MAX_ARGON2_WORK {
        return Err(UnsupportedHashFormat::TooCostly {
            limit: "8 GiB-passes of Argon2 work (memory × iterations)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use UnsupportedHashFormat as E;

    const CROSS_CHECK: &str = "pbkdf2:sha256:600000$abcdefghijklmnop$0d1a4641f1a9aad40c6e7dc993181b8ac3db35a661fe79bae81fe32cf3306dce";
    const HEX40: &str = "0123456789abcdef0123456789abcdef01234567";
    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    // bcrypt 5.0.0: hashpw(b"correct horse", b"$2b$04$" + 22 salt characters).
    const BCRYPT: &str = "$2b$04$o2ys2PC1TK3jbsPHjKphi.spOdAalG9wv43lwCCM7qcSNDUQj5ySG";

    fn hex128() -> String {
        HEX64.repeat(2)
    }

    fn err(stored: &str) -> UnsupportedHashFormat {
        match identify(stored) {
            Ok(format) => panic!("accepted as {format:?}"),
            Err(error) => error,
        }
    }

    fn foreign(stored: &str) -> Foreign<'_> {
        match parse(stored) {
            Ok(Parsed::Foreign(foreign)) => foreign,
            Ok(Parsed::Argon2(_)) => panic!("parsed as Argon2"),
            Ok(Parsed::Wrapped { .. }) => panic!("parsed as wrapped"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn recognises_every_format() {
        assert_eq!(
            identify(CROSS_CHECK),
            Ok(HashFormat::WerkzeugPbkdf2 {
                digest: Digest::Sha256,
                iterations: 600_000
            })
        );
        assert_eq!(
            identify(&format!("pbkdf2:sha1:1000$salt${HEX40}")),
            Ok(HashFormat::WerkzeugPbkdf2 {
                digest: Digest::Sha1,
                iterations: 1000
            })
        );
        assert_eq!(
            identify(&format!("scrypt:32768:8:1$salt${}", hex128())),
            Ok(HashFormat::WerkzeugScrypt {
                n: 32768,
                r: 8,
                p: 1
            })
        );
        assert_eq!(
            identify(&format!("scrypt$salt${}", hex128())),
            Ok(HashFormat::WerkzeugScrypt {
                n: 32768,
                r: 8,
                p: 1
            })
        );
        assert_eq!(
            identify(&format!("sha256$salt${HEX64}")),
            Ok(HashFormat::WerkzeugLegacyHmac {
                digest: Digest::Sha256
            })
        );
        assert_eq!(
            identify(&format!("sha1$salt${HEX40}")).map(|f| f.label()),
            Ok("legacy-hmac:sha1")
        );
        assert_eq!(identify(BCRYPT), Ok(HashFormat::Bcrypt { cost: 4 }));
        for variant in ["$2a$", "$2y$"] {
            let stored = BCRYPT.replacen("$2b$", variant, 1);
            assert_eq!(identify(&stored), Ok(HashFormat::Bcrypt { cost: 4 }));
        }
        let argon2 =
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        let argon2_format = HashFormat::Argon2 {
            memory_kib: 64,
            iterations: 1,
        };
        assert_eq!(identify(argon2), Ok(argon2_format));
        assert!(!argon2_format.is_foreign());
        assert!(HashFormat::Bcrypt { cost: 4 }.is_foreign());
    }

    #[test]
    fn pbkdf2_verifies() {
        // Werkzeug 3.1.9: `_hash_internal("pbkdf2:sha1:1000", "HSf0yImiTbnzYsdz", "correct horse")`.
        let hash =
            foreign("pbkdf2:sha1:1000$HSf0yImiTbnzYsdz$43ee721180c6e07a753c4b6502b8f379845594c5");
        assert!(matches!(hash.matches(b"correct horse"), Ok(true)));
        assert!(matches!(hash.matches(b"correct horsf"), Ok(false)));
    }

    #[test]
    fn bcrypt_cuts_passwords_at_72_bytes() {
        // pyca/bcrypt 5.0.0: hashpw(b"a" * 72, b"$2b$04$" + 22 salt characters); bcrypt 4 made
        // the same hash from any longer password that starts with those 72 bytes.
        let stored = "$2b$04$YZ7/0TSRvEZcmdC88Yj2Au27TgHGr/eziPh9Sn63FcUBP.C5ycrMq";
        let hash = foreign(stored);
        assert!(matches!(hash.matches(&[b'a'; 72]), Ok(true)));
        assert!(matches!(hash.matches(&[b'a'; 100]), Ok(true)));
        assert!(matches!(hash.matches(&[b'a'; 71]), Ok(false)));
    }

    #[test]
    fn legacy_hmac_uses_the_salt_as_key() {
        // Python: hmac.new(b"NaCl", b"hunter2", hashlib.sha1).hexdigest()
        let stored = "sha1$NaCl$fbc7949f1260037c3cb0642de52e09c7ea0aef86";
        let hash = foreign(stored);
        assert!(matches!(hash.matches(b"hunter2"), Ok(true)));
        assert!(matches!(hash.matches(b"hunter3"), Ok(false)));
    }

    #[test]
    fn empty_and_unrecognised() {
        assert_eq!(err(""), E::Empty);
        assert_eq!(err(&"a".repeat(MAX_HASH_LEN + 1)), E::TooLong);
        assert_eq!(err("hunter2"), E::Unrecognised);
        assert_eq!(err("plain$$hunter2"), E::Plaintext);
        assert_eq!(err(&format!("md5$salt${HEX64}")), E::UnsupportedMethod);
        assert_eq!(err(&format!("SHA1$salt${HEX40}")), E::UnsupportedMethod);
        assert_eq!(err(&format!("sha1:5$salt${HEX40}")), E::UnsupportedMethod);
        assert_eq!(err("$"), E::PhcAlgorithm);
        assert_eq!(err("$$$"), E::PhcAlgorithm);
        assert_eq!(err("$pbkdf2-sha256$29000$c2FsdA$aGFzaA"), E::PhcAlgorithm);
        assert_eq!(err("$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA"), E::PhcAlgorithm);
        assert_eq!(err("$argon2id$garbage"), E::Argon2Malformed);
        assert_eq!(err("$argon2id$"), E::Argon2Malformed);
        assert_eq!(err("$argon2id$v=19$m=64,t=1,p=1"), E::Argon2Malformed);
        assert_eq!(
            err("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"),
            E::Argon2Malformed
        );
        assert_eq!(
            err("$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"),
            E::Argon2Malformed
        );
    }

    #[test]
    fn missing_parts() {
        assert_eq!(err("pbkdf2:sha256:1000"), E::Unrecognised);
        assert_eq!(err("pbkdf2:sha256:1000$salt"), E::MissingParts);
        assert_eq!(err("sha1$salt"), E::MissingParts);
        assert_eq!(err(&format!("sha1$${HEX40}")), E::EmptySalt);
        assert_eq!(err(&format!("pbkdf2:sha256:1000$${HEX64}")), E::EmptySalt);
        assert_eq!(
            err("pbkdf2:sha256:1000$salt$"),
            E::DigestLength {
                expected_hex_digits: 64
            }
        );
        assert_eq!(
            err(&format!("pbkdf2:sha256$salt${HEX64}")),
            E::MissingIterations
        );
        assert_eq!(err(&format!("pbkdf2$salt${HEX64}")), E::MissingIterations);
        assert_eq!(
            err(&format!("pbkdf2:sha256:$salt${HEX64}")),
            E::BadParameter
        );
        assert_eq!(
            err(&format!("pbkdf2:md5:1000$salt${HEX64}")),
            E::UnsupportedMethod
        );
        assert_eq!(
            err(&format!("pbkdf2:md5$salt${HEX64}")),
            E::UnsupportedMethod
        );
        assert_eq!(
            err(&format!("pbkdf2::1000$salt${HEX64}")),
            E::UnsupportedMethod
        );
        assert_eq!(
            err(&format!("scrypt:32768:8$salt${}", hex128())),
            E::BadParameter
        );
        assert_eq!(
            err(&format!("scrypt:32768:8:1:1$salt${}", hex128())),
            E::BadParameter
        );
        assert_eq!(
            err(&format!("scrypt:::$salt${}", hex128())),
            E::BadParameter
        );
    }

    #[test]
    fn bad_numbers() {
        for iterations in ["0", "-1", "+5", " 5", "1e3", "1_000", "１０００", "0x10"] {
            assert_eq!(
                err(&format!("pbkdf2:sha256:{iterations}$salt${HEX64}")),
                E::BadParameter,
                "{iterations:?}"
            );
        }
        // Leading zeros are still a decimal number (Python's int() reads them the same).
        assert!(identify(&format!("pbkdf2:sha256:001000$salt${HEX64}")).is_ok());
        for huge in [
            "10000001",
            "4294967296",
            "99999999999999999999999999999999999",
        ] {
            assert!(
                matches!(
                    err(&format!("pbkdf2:sha256:{huge}$salt${HEX64}")),
                    E::TooCostly { .. }
                ),
                "{huge}"
            );
        }
        let h = hex128();
        assert_eq!(err(&format!("scrypt:0:8:1$salt${h}")), E::BadParameter);
        assert_eq!(err(&format!("scrypt:1:8:1$salt${h}")), E::InvalidScrypt);
        assert_eq!(err(&format!("scrypt:1000:8:1$salt${h}")), E::InvalidScrypt);
        assert_eq!(err(&format!("scrypt:16:0:1$salt${h}")), E::BadParameter);
        assert_eq!(err(&format!("scrypt:16:8:0$salt${h}")), E::BadParameter);
        // N must be below 2^(16·r).
        assert_eq!(
            err(&format!("scrypt:131072:1:1$salt${h}")),
            E::InvalidScrypt
        );
        for costly in [
            "scrypt:1048576:8:1", // 1 GiB
            "scrypt:2:1:4194304", // 512 MiB of p blocks
            "scrypt:32768:8:128", // 2^25 work
            "scrypt:9223372036854775808:8:1",
            "scrypt:16:18446744073709551615:18446744073709551615",
            "scrypt:16:99999999999999999999999:1",
        ] {
            assert!(
                matches!(err(&format!("{costly}$salt${h}")), E::TooCostly { .. }),
                "{costly}"
            );
        }
    }

    #[test]
    fn bad_digests() {
        assert_eq!(
            err(&format!("sha1$salt${}", HEX40.to_uppercase())),
            E::DigestNotHex
        );
        assert_eq!(err("sha1$salt$not-hex"), E::DigestNotHex);
        assert_eq!(err(&format!("sha1$salt${HEX40}$extra")), E::DigestNotHex);
        assert_eq!(err(&format!("sha1$salt$ {HEX40}")), E::DigestNotHex);
        assert_eq!(
            err(&format!("sha1$salt${HEX64}")),
            E::DigestLength {
                expected_hex_digits: 40
            }
        );
        assert_eq!(
            err(&format!("sha1$salt${HEX40}0")),
            E::DigestLength {
                expected_hex_digits: 40
            }
        );
        assert_eq!(
            err(&format!("sha512$salt${HEX64}")),
            E::DigestLength {
                expected_hex_digits: 128
            }
        );
        assert_eq!(
            err(&format!("pbkdf2:sha512:1000$salt${HEX64}")),
            E::DigestLength {
                expected_hex_digits: 128
            }
        );
        assert_eq!(
            err(&format!("scrypt:16:8:1$salt${HEX64}")),
            E::DigestLength {
                expected_hex_digits: 128
            }
        );
        assert_eq!(err("sha1$salt$é"), E::DigestNotHex);
    }

    #[test]
    fn bad_bcrypt() {
        assert_eq!(err(&BCRYPT.replacen("$2b$", "$2x$", 1)), E::BcryptVariant);
        assert_eq!(err(&BCRYPT.replacen("$2b$", "$2$", 1)), E::BcryptVariant);
        assert_eq!(err(&BCRYPT.replacen("$2b$", "$2c$", 1)), E::BcryptVariant);
        assert_eq!(err("$2b"), E::BcryptMalformed);
        assert_eq!(err("$2b$"), E::BcryptMalformed);
        assert_eq!(err("$2b$04$"), E::BcryptMalformed);
        assert_eq!(err("$2b$04$$"), E::BcryptMalformed);
        assert_eq!(err(&BCRYPT[..59]), E::BcryptMalformed);
        assert_eq!(err(&format!("{BCRYPT}a")), E::BcryptMalformed);
        assert_eq!(err(&format!("{BCRYPT}$")), E::BcryptMalformed);
        assert_eq!(err(&BCRYPT.replacen("$04$", "$4$", 1)), E::BcryptMalformed);
        assert_eq!(
            err(&BCRYPT.replacen("$04$", "$004$", 1)),
            E::BcryptMalformed
        );
        assert_eq!(err(&BCRYPT.replacen("$04$", "$+4$", 1)), E::BcryptMalformed);
        assert_eq!(err(&BCRYPT.replacen("$04$", "$03$", 1)), E::BcryptCost);
        assert_eq!(err(&BCRYPT.replacen("$04$", "$32$", 1)), E::BcryptCost);
        assert_eq!(err(&BCRYPT.replacen("$04$", "$99$", 1)), E::BcryptCost);
        assert!(matches!(
            err(&BCRYPT.replacen("$04$", "$17$", 1)),
            E::TooCostly { .. }
        ));
        assert!(identify(&BCRYPT.replacen("$04$", "$16$", 1)).is_ok());
        // Not the bcrypt alphabet.
        assert_eq!(
            err(&format!("{}+{}", &BCRYPT[..10], &BCRYPT[11..])),
            E::BcryptMalformed
        );
        assert_eq!(
            err(&format!("{}é{}", &BCRYPT[..10], &BCRYPT[12..])),
            E::BcryptMalformed
        );
        // Non-zero unused bits in the salt's last character (`.` → `/`) or the digest's (`G` → `H`).
        assert_eq!(
            err(&BCRYPT.replacen("phi.sp", "phi/sp", 1)),
            E::BcryptMalformed
        );
        assert_eq!(err(&BCRYPT.replacen("5ySG", "5ySH", 1)), E::BcryptMalformed);
    }

    #[test]
    fn argon2_cost_limits() {
        assert!(matches!(
            err(
                "$argon2id$v=19$m=2097152,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
            ),
            E::TooCostly { .. }
        ));
        assert!(matches!(
            err(
                "$argon2id$v=19$m=65536,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
            ),
            E::TooCostly { .. }
        ));
    }

    #[test]
    fn messages_never_echo_the_hash() {
        let secret = "Tr0ub4dor";
        let cases = [
            secret.to_owned(),
            format!("plain${secret}${secret}"),
            format!("{secret}${secret}${secret}"),
            format!("pbkdf2:{secret}:1$s${secret}"),
            format!("pbkdf2:sha256:{secret}$s$00"),
            format!("scrypt:{secret}$s$00"),
            format!("sha1${secret}${secret}"),
            format!("sha1${secret}$00"),
            format!("$2b$04${secret}"),
            format!("$2{secret}"),
            format!("${secret}$x"),
            format!("$argon2id${secret}"),
        ];
        for case in cases {
            let message = err(&case).to_string();
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains("Tr0"), "{message}");
        }
    }

    #[test]
    fn werkzeug_salts_are_text() {
        // Non-ASCII salt text: its UTF-8 bytes are the salt, as in Werkzeug's `salt.encode()`.
        // Python: hmac.new("sél".encode(), "pw".encode(), hashlib.sha256).hexdigest()
        let stored = "sha256$sél$e3ebfb3ab38afd4aae8660a46023c52a18b53dfac94f39ab97db4216a87e7123";
        let hash = foreign(stored);
        assert!(matches!(hash.matches(b"pw"), Ok(true)));
        assert!(matches!(hash.matches(b"pW"), Ok(false)));
    }
}
