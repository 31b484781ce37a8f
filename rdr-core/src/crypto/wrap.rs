//! age wrapping of the master secret: one age file per key slot.
//!
//! A passphrase slot is an age file with a single scrypt recipient (age does
//! not allow scrypt next to other recipients); an X25519 slot is an age file
//! for one or more `age1...` recipients, opened with an `age-keygen`
//! identity file. The age payload is `"RDRMK\x01" ‖ master secret (32)`.

use std::io::{Read, Write};

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use super::CryptoError;

/// Prefix of the age payload, so a foreign age file is never taken for a key.
pub const PAYLOAD_MAGIC: &[u8; 6] = b"RDRMK\x01";
/// Default scrypt work factor (log2 N) for new passphrase slots: 2^15 with
/// r = 8 is 32 MiB and about 0.1 s per attempt on a 2026 server core. That
/// is memory-hard like restic's (which stays under 60 MiB) and keeps every
/// command's peak memory under 64 MB; age's own default, 18, costs 256 MiB
/// and 0.7 s on every repository open. Choose 18 or more (`--kdf-log-n`)
/// for a passphrase a person chose; a random password file does not need it.
pub const DEFAULT_LOG_N: u8 = 15;
/// Largest scrypt work factor accepted when opening (guards against a
/// hostile key file that would take hours).
pub const MAX_LOG_N: u8 = 22;

/// An X25519 recipient (public key) that can open a key slot.
pub type Recipient = age::x25519::Recipient;

/// Identities that may open X25519 key slots.
pub struct Identities(Vec<Box<dyn age::Identity + Send + Sync>>, Vec<Recipient>);

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} keys, <redacted>)", self.0.len())
    }
}

impl Identities {
    /// Parses an age identity file (as written by `age-keygen`).
    ///
    /// # Errors
    /// [`CryptoError::Identity`] when the text holds no usable identity.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let file = age::IdentityFile::from_buffer(text.as_bytes())
            .map_err(|e| CryptoError::Identity(e.to_string()))?;
        let ids = file
            .into_identities()
            .map_err(|e| CryptoError::Identity(e.to_string()))?;
        if ids.is_empty() {
            return Err(CryptoError::Identity("no identities found".into()));
        }
        let public = text
            .lines()
            .filter_map(|l| l.trim().parse::<age::x25519::Identity>().ok())
            .map(|id| id.to_public())
            .collect();
        Ok(Self(ids, public))
    }

    /// The recipients (public keys) of the X25519 identities: a new key
    /// slot for them opens with these identities.
    #[must_use]
    pub fn recipients(&self) -> &[Recipient] {
        &self.1
    }
}

/// A new X25519 identity in `age-keygen`'s file format, and its recipient.
/// The text is a secret: write it to a 0600 file and keep it off-site.
#[must_use]
pub fn generate_identity(created: &str) -> (zeroize::Zeroizing<String>, Recipient) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let public = id.to_public();
    let text = format!(
        "# created: {created}\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    (zeroize::Zeroizing::new(text), public)
}

/// Parses an `age1...` recipient.
///
/// # Errors
/// [`CryptoError::Recipient`] when the string is not an X25519 recipient.
pub fn parse_recipient(s: &str) -> Result<Recipient, CryptoError> {
    s.trim()
        .parse()
        .map_err(|_| CryptoError::Recipient(s.chars().take(100).collect()))
}

fn payload(secret: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut p = Zeroizing::new(Vec::with_capacity(38));
    p.extend_from_slice(PAYLOAD_MAGIC);
    p.extend_from_slice(secret);
    p
}

fn encrypt(enc: age::Encryptor, secret: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| CryptoError::Age(e.to_string()))?;
    w.write_all(&payload(secret))
        .map_err(|e| CryptoError::Age(e.to_string()))?;
    w.finish().map_err(|e| CryptoError::Age(e.to_string()))?;
    Ok(out)
}

/// Wraps the master secret under a passphrase (scrypt with work factor `log_n`).
///
/// # Errors
/// [`CryptoError::Age`] if age fails to encrypt.
pub fn wrap_passphrase(
    secret: &[u8; 32],
    passphrase: &str,
    log_n: u8,
) -> Result<Vec<u8>, CryptoError> {
    let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    r.set_work_factor(log_n);
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
        .map_err(|e| CryptoError::Age(e.to_string()))?;
    encrypt(enc, secret)
}

/// Wraps the master secret for X25519 recipients.
///
/// # Errors
/// [`CryptoError::Age`] if `recipients` is empty or age fails.
pub fn wrap_recipients(
    secret: &[u8; 32],
    recipients: &[Recipient],
) -> Result<Vec<u8>, CryptoError> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| CryptoError::Age(e.to_string()))?;
    encrypt(enc, secret)
}

#[cfg(test)]
/// Whether an age file is a passphrase (scrypt) slot.
///
/// # Errors
/// [`CryptoError::Age`] if the bytes are not an age file.
pub fn is_passphrase(age_bytes: &[u8]) -> Result<bool, CryptoError> {
    let d = age::Decryptor::new(age_bytes).map_err(|e| CryptoError::Age(e.to_string()))?;
    Ok(d.is_scrypt())
}

/// What opens a key slot.
pub enum Unlocker<'a> {
    /// A passphrase, for scrypt slots.
    Passphrase(&'a str),
    /// Identities, for X25519 slots.
    Identities(&'a Identities),
}

/// Opens a key slot and returns the master secret.
///
/// # Errors
/// [`CryptoError::WrongKey`] when the unlocker does not fit this slot (also
/// for a passphrase given to an X25519 slot and vice versa), or
/// [`CryptoError::Age`] when the age file is malformed or its payload is not
/// an rdr master key.
pub fn unwrap(
    age_bytes: &[u8],
    unlocker: &Unlocker<'_>,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let d = age::Decryptor::new(age_bytes).map_err(|e| CryptoError::Age(e.to_string()))?;
    let reader = match unlocker {
        Unlocker::Passphrase(p) => {
            if !d.is_scrypt() {
                return Err(CryptoError::WrongKey);
            }
            let mut id = age::scrypt::Identity::new(SecretString::from((*p).to_owned()));
            id.set_max_work_factor(MAX_LOG_N);
            d.decrypt(std::iter::once(&id as &dyn age::Identity))
        }
        Unlocker::Identities(ids) => {
            if d.is_scrypt() {
                return Err(CryptoError::WrongKey);
            }
            d.decrypt(ids.0.iter().map(|i| i.as_ref() as &dyn age::Identity))
        }
    };
    let mut reader = reader.map_err(|e| match e {
        age::DecryptError::NoMatchingKeys
        | age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed => CryptoError::WrongKey,
        other => CryptoError::Age(other.to_string()),
    })?;
    let mut buf = Zeroizing::new(Vec::with_capacity(38));
    reader
        .by_ref()
        .take(64)
        .read_to_end(&mut buf)
        .map_err(|e| CryptoError::Age(e.to_string()))?;
    let secret = buf
        .strip_prefix(PAYLOAD_MAGIC.as_slice())
        .and_then(|s| <[u8; 32]>::try_from(s).ok())
        .ok_or_else(|| CryptoError::Age("payload is not an rdr master key".into()))?;
    Ok(Zeroizing::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_round_trip() {
        let f = wrap_passphrase(&[5; 32], "pw", 10).unwrap();
        assert!(is_passphrase(&f).unwrap());
        assert_eq!(*unwrap(&f, &Unlocker::Passphrase("pw")).unwrap(), [5; 32]);
        assert!(matches!(
            unwrap(&f, &Unlocker::Passphrase("nope")),
            Err(CryptoError::WrongKey)
        ));
    }

    #[test]
    fn x25519_round_trip() {
        let id = age::x25519::Identity::generate();
        let text = {
            use age::secrecy::ExposeSecret;
            id.to_string().expose_secret().to_owned()
        };
        let f = wrap_recipients(&[6; 32], &[id.to_public()]).unwrap();
        assert!(!is_passphrase(&f).unwrap());
        let ids = Identities::parse(&text).unwrap();
        assert_eq!(*unwrap(&f, &Unlocker::Identities(&ids)).unwrap(), [6; 32]);
        assert_eq!(ids.recipients(), &[id.to_public()]);
        assert!(matches!(
            unwrap(&f, &Unlocker::Passphrase("pw")),
            Err(CryptoError::WrongKey)
        ));
        let other = age::x25519::Identity::generate();
        let other_text = {
            use age::secrecy::ExposeSecret;
            other.to_string().expose_secret().to_owned()
        };
        let others = Identities::parse(&other_text).unwrap();
        assert!(matches!(
            unwrap(&f, &Unlocker::Identities(&others)),
            Err(CryptoError::WrongKey)
        ));
    }

    #[test]
    fn generated_identity_opens_its_slot() {
        let (text, recipient) = generate_identity("2026-11-22T00:00:00Z");
        assert!(text.contains(&recipient.to_string()));
        let f = wrap_recipients(&[8; 32], &[recipient]).unwrap();
        let ids = Identities::parse(&text).unwrap();
        assert_eq!(*unwrap(&f, &Unlocker::Identities(&ids)).unwrap(), [8; 32]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(unwrap(b"not age", &Unlocker::Passphrase("x")).is_err());
        assert!(parse_recipient("age1nope").is_err());
        assert!(Identities::parse("").is_err());
    }
}
