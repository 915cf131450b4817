//! Every hash in `tests/data/foreign-hashes.json` (made by Werkzeug and bcrypt themselves, see
//! `tests/data/README.md`) verifies through the `Argon2Hasher`'s workers and is reported as
//! needing a rehash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_core::foreign_hash::identify;
use auth_core::{
    Argon2Hasher, Argon2Settings, HasherConfig, PasswordHashString, PasswordHasher, SecretString,
    Verification,
};

const VECTORS: &str = include_str!("data/foreign-hashes.json");

struct Vector {
    format: String,
    password: String,
    hash: String,
}

fn vectors() -> Vec<Vector> {
    let json: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap().to_owned();
    json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            format: text(v, "format"),
            password: text(v, "password"),
            hash: text(v, "hash"),
        })
        .collect()
}

fn hasher() -> Argon2Hasher {
    Argon2Hasher::start(HasherConfig {
        argon2: Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        workers: 2,
        queue: 64,
        ..HasherConfig::default()
    })
    .unwrap()
}

#[test]
fn the_vectors_cover_every_format() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 16);
    for format in [
        "pbkdf2:sha1",
        "pbkdf2:sha256",
        "pbkdf2:sha512",
        "scrypt",
        "legacy-hmac:sha1",
        "legacy-hmac:sha256",
        "bcrypt",
    ] {
        assert!(vectors.iter().any(|v| v.format == format), "{format}");
    }
    for prefix in ["$2a$", "$2b$", "$2y$"] {
        assert!(
            vectors.iter().any(|v| v.hash.starts_with(prefix)),
            "{prefix}"
        );
    }
    assert!(vectors.iter().any(|v| !v.password.is_ascii()));
}

#[test]
fn identify_accepts_every_vector_as_its_format() {
    for vector in vectors() {
        let format = identify(&vector.hash).unwrap_or_else(|e| panic!("{}: {e}", vector.format));
        assert_eq!(format.label(), vector.format);
        assert!(format.is_foreign());
    }
}

#[tokio::test]
async fn every_vector_verifies_and_needs_a_rehash() {
    let hasher = hasher();
    // One task per vector, so that the slow ones (1,000,000 and 600,000 pbkdf2 iterations) run
    // on both workers at once.
    let mut tasks = Vec::new();
    for vector in vectors() {
        let hasher = hasher.clone();
        tasks.push(tokio::spawn(async move {
            let stored = PasswordHashString::new(vector.hash.as_str());
            let right = hasher
                .verify(&SecretString::new(vector.password.as_str()), &stored)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", vector.format));
            assert_eq!(
                right,
                Verification::Match { needs_rehash: true },
                "{} {:?}",
                vector.format,
                vector.password
            );
            for wrong in [format!("wrong {}", vector.password), String::new()] {
                let verification = hasher
                    .verify(&SecretString::new(wrong), &stored)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", vector.format));
                assert_eq!(verification, Verification::Mismatch, "{}", vector.format);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(hasher.stats().verifications(), 3 * 16);
}

#[test]
fn the_issues_werkzeug_cross_check_vector_is_among_them() {
    // Werkzeug 3.1: `correct horse` with pbkdf2:sha256:600000 and the salt `abcdefghijklmnop`.
    // Being a vector, it is verified (and refused for wrong passwords) by the test above.
    let cross_check = "pbkdf2:sha256:600000$abcdefghijklmnop$0d1a4641f1a9aad40c6e7dc993181b8ac3db35a661fe79bae81fe32cf3306dce";
    assert!(
        vectors()
            .iter()
            .any(|v| v.hash == cross_check && v.password == "correct horse")
    );
}

#[tokio::test]
async fn a_rehashed_foreign_password_is_argon2id_and_verifies() {
    // What the web layer does after a foreign match: hash again and store.
    let hasher = hasher();
    let vector = vectors()
        .into_iter()
        .find(|v| v.format == "legacy-hmac:sha256")
        .unwrap();
    let password = SecretString::new(vector.password.as_str());
    let upgraded = hasher.hash(&password).await.unwrap();
    assert_eq!(identify(upgraded.expose()).unwrap().label(), "argon2");
    assert_eq!(
        hasher.verify(&password, &upgraded).await.unwrap(),
        Verification::Match {
            needs_rehash: false
        }
    );
}

/// Every vector wrapped in Argon2id (as an import stores it) verifies with its password and no
/// other, asks for a rehash, and no longer holds the foreign hash's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_vectors_verify_and_hide_the_foreign_output() {
    use auth_core::foreign_hash::HashFormat;
    let hasher = hasher();
    for v in vectors() {
        let stored = PasswordHashString::new(v.hash.clone());
        let wrapped = hasher.wrap(&stored).await.unwrap();
        let text = wrapped.expose();
        assert!(text.starts_with("wrapped:"), "{}: {text}", v.format);
        assert_eq!(identify(text), Ok(HashFormat::Wrapped), "{}", v.format);
        let output = if v.format == "bcrypt" {
            &v.hash[29..]
        } else {
            v.hash.rsplit_once('$').unwrap().1
        };
        assert!(
            !text.contains(output),
            "{}: the foreign output is still there",
            v.format
        );
        let password = SecretString::new(v.password.clone());
        assert_eq!(
            hasher.verify(&password, &wrapped).await.unwrap(),
            Verification::Match { needs_rehash: true },
            "{}",
            v.format
        );
        // Changed at the start: bcrypt ignores what follows the 72nd byte.
        let wrong = SecretString::new(format!("x{}", v.password));
        assert_eq!(
            hasher.verify(&wrong, &wrapped).await.unwrap(),
            Verification::Mismatch,
            "{}",
            v.format
        );
        // Wrapping is idempotent.
        assert_eq!(hasher.wrap(&wrapped).await.unwrap(), wrapped);
    }
}
