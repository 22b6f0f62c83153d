//! Operator passwords: PBKDF2-HMAC-SM3 (RFC 8018) with a random salt and a
//! high iteration count; checked in constant time. The encoded hash is itself
//! stored through the barrier.

use sscard_gm::{ct_eq, kdf, random};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Iterations for new hashes. Each login costs this many HMAC-SM3 pairs,
/// about 0.1 s on one core: slow for guessing, tolerable for people.
pub const ITERATIONS: u32 = 200_000;

const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// The fewest iterations [`hash_with`] accepts (a cost for tests and
/// small devices; production uses [`ITERATIONS`]).
pub const MIN_ITERATIONS: u32 = 1_000;

/// Hashes a password at the standard cost: `iterations(4, BE) ‖ salt(16) ‖ hash(32)`.
pub fn hash(password: &str) -> Result<Zeroizing<Vec<u8>>> {
    hash_with(password, ITERATIONS)
}

/// Hashes a password with `iterations` (at least [`MIN_ITERATIONS`]):
/// `iterations(4, BE) ‖ salt(16) ‖ hash(32)`. [`verify`] reads the cost
/// from the hash.
pub fn hash_with(password: &str, iterations: u32) -> Result<Zeroizing<Vec<u8>>> {
    if iterations < MIN_ITERATIONS {
        return Err(Error::Invalid(format!(
            "a password hash needs at least {MIN_ITERATIONS} iterations"
        )));
    }
    let salt = random::bytes(SALT_LEN)?;
    let mut out = Zeroizing::new(iterations.to_be_bytes().to_vec());
    out.extend_from_slice(&salt);
    let mut derived = Zeroizing::new([0u8; HASH_LEN]);
    kdf::pbkdf2_hmac_sm3(
        password.as_bytes(),
        &salt,
        iterations,
        derived.as_mut_slice(),
    )?;
    out.extend_from_slice(derived.as_slice());
    Ok(out)
}

/// Checks a password against an encoded hash, in constant time.
pub fn verify(password: &str, encoded: &[u8]) -> Result<bool> {
    if encoded.len() != 4 + SALT_LEN + HASH_LEN {
        return Err(Error::Integrity("stored password hash is malformed".into()));
    }
    let (iterations, rest) = encoded.split_at(4);
    let (salt, expected) = rest.split_at(SALT_LEN);
    let iterations = u32::from_be_bytes(
        iterations
            .try_into()
            .map_err(|_| Error::Integrity("password hash".into()))?,
    );
    let mut derived = Zeroizing::new([0u8; HASH_LEN]);
    kdf::pbkdf2_hmac_sm3(
        password.as_bytes(),
        salt,
        iterations,
        derived.as_mut_slice(),
    )?;
    Ok(ct_eq(derived.as_slice(), expected))
}

/// Spends the time of one [`verify`] at a cost of `iterations` without
/// checking anything: a login for a name that is no account (or may not
/// log in) takes as long as one for an account, so timing does not tell
/// which names exist.
pub fn spend_equal_time(password: &str, iterations: u32) -> Result<()> {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static DUMMIES: Mutex<BTreeMap<u32, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let known = DUMMIES
        .lock()
        .map_err(|_| Error::Integrity("password cost table".into()))?
        .get(&iterations)
        .cloned();
    let dummy = match known {
        Some(d) => d,
        None => {
            let made = hash_with("not an account of this platform", iterations)?.to_vec();
            DUMMIES
                .lock()
                .map_err(|_| Error::Integrity("password cost table".into()))?
                .insert(iterations, made.clone());
            made
        }
    };
    verify(password, &dummy).map(|_| ())
}

/// A random one-time password: 20 characters from an alphabet without
/// look-alikes, about 116 bits.
pub fn generate() -> Result<Zeroizing<String>> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Bytes at or above the largest multiple of the alphabet size are
    // dropped, so every character is equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut text = Zeroizing::new(String::with_capacity(20));
    while text.len() < 20 {
        for b in random::bytes(32)?.iter().map(|b| usize::from(*b)) {
            if b < limit && text.len() < 20 {
                text.push(char::from(
                    ALPHABET.get(b % ALPHABET.len()).copied().unwrap_or(b'x'),
                ));
            }
        }
    }
    Ok(text)
}
