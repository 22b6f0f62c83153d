//! The software provider: keys in process memory, zeroized after use,
//! operations on `sscard-gm`. The blob is the key itself, which is why the
//! platform seals every blob with the barrier before storing it.

use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{
    self, CiphertextFormat, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey,
};
use sscard_gm::sm4::{gcm_decrypt, gcm_encrypt};
use sscard_gm::{diversify, kcv, random, sm3, BlockAlgorithm, BlockKey, Sm4Key};
use zeroize::Zeroizing;

use super::CardOperation;
use super::{CryptoProvider, KeyBlob};
use crate::key::KeyAlgorithm;
use crate::{Error, Result};

/// Keys in process memory, on `sscard-gm`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SoftwareProvider;

/// The block algorithm of a symmetric key algorithm.
fn block_algorithm(algorithm: KeyAlgorithm) -> Result<BlockAlgorithm> {
    match algorithm {
        KeyAlgorithm::Sm4 => Ok(BlockAlgorithm::Sm4),
        KeyAlgorithm::Tdes => Ok(BlockAlgorithm::Tdes),
        KeyAlgorithm::Sm2 | KeyAlgorithm::HmacSm3 => Err(Error::Invalid(format!(
            "a {} key is not a block-cipher key",
            algorithm.as_str()
        ))),
    }
}

fn sm2_key(key: &KeyBlob) -> Result<Sm2PrivateKey> {
    Ok(Sm2PrivateKey::from_pkcs8_der(key.as_bytes())?)
}

fn leftmost4(bytes: &[u8]) -> Vec<u8> {
    bytes.get(..4).unwrap_or_default().to_vec()
}

impl CryptoProvider for SoftwareProvider {
    fn name(&self) -> &'static str {
        "software"
    }

    fn generate(&self, algorithm: KeyAlgorithm) -> Result<KeyBlob> {
        Ok(KeyBlob::from_bytes(match algorithm {
            KeyAlgorithm::Sm2 => Sm2PrivateKey::generate()?.to_pkcs8_der()?,
            other => random::bytes(other.secret_len())?,
        }))
    }

    fn import(&self, algorithm: KeyAlgorithm, clear: &[u8]) -> Result<KeyBlob> {
        // A weak block key is refused whichever way it arrives: by
        // components, under a KEK or in an SM2 envelope.
        if let Ok(block) = block_algorithm(algorithm) {
            sscard_gm::weak::check_key(block, clear)?;
        }
        let blob = KeyBlob::from_bytes(Zeroizing::new(clear.to_vec()));
        // A key that does not parse for its algorithm is refused here.
        self.check_value(algorithm, &blob)?;
        Ok(blob)
    }

    fn check_value(&self, algorithm: KeyAlgorithm, key: &KeyBlob) -> Result<String> {
        let bytes = match algorithm {
            KeyAlgorithm::Sm4 | KeyAlgorithm::Tdes => {
                let block = block_algorithm(algorithm)?;
                kcv::kcv(
                    &BlockKey::new(block, key.as_bytes())?,
                    kcv::default_len(block),
                )?
            }
            KeyAlgorithm::HmacSm3 => {
                if key.as_bytes().len() != algorithm.secret_len() {
                    return Err(Error::Invalid("an hmac-sm3 key is 32 bytes".into()));
                }
                leftmost4(&sm3::hmac(key.as_bytes(), &[0u8; 16]))
            }
            KeyAlgorithm::Sm2 => {
                leftmost4(&sm3::digest(&sm2_key(key)?.public_key().to_spki_der()?))
            }
        };
        Ok(hex::encode(bytes))
    }

    fn seal(&self, key: &KeyBlob, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        Ok(gcm_encrypt(
            &Sm4Key::from_slice(key.as_bytes())?,
            iv,
            aad,
            plaintext,
        )?)
    }

    fn open(
        &self,
        key: &KeyBlob,
        iv: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(gcm_decrypt(
            &Sm4Key::from_slice(key.as_bytes())?,
            iv,
            aad,
            sealed,
        )?))
    }

    fn hmac(&self, key: &KeyBlob, data: &[u8]) -> Result<Vec<u8>> {
        Ok(sm3::hmac(key.as_bytes(), data).to_vec())
    }

    fn sign(&self, key: &KeyBlob, data: &[u8]) -> Result<Vec<u8>> {
        let signature: Signature = sm2::sign(&sm2_key(key)?, sm2::DEFAULT_USER_ID, data)?;
        Ok(signature.encode(SignatureFormat::Der))
    }

    fn public_key(&self, key: &KeyBlob) -> Result<Sm2PublicKey> {
        Ok(sm2_key(key)?.public_key())
    }

    fn card_compute(
        &self,
        algorithm: KeyAlgorithm,
        master: &KeyBlob,
        factors: &[&[u8]],
        operation: &CardOperation,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let block = block_algorithm(algorithm)?;
        let master = BlockKey::new(block, master.as_bytes())?;
        let card = diversify::derive_path(&master, factors)?;
        match operation {
            CardOperation::Mac { iv, len } => Ok(mac::mac(
                &card,
                MacAlgorithm::CbcMac,
                iv.as_deref(),
                data,
                *len,
            )?),
            CardOperation::VerifyMac { iv, mac: expected } => {
                mac::verify(&card, MacAlgorithm::CbcMac, iv.as_deref(), data, expected)?;
                Ok(Vec::new())
            }
            CardOperation::EncryptBlocks => {
                let size = block.block_size();
                if data.is_empty() || !data.len().is_multiple_of(size) {
                    return Err(Error::Invalid(format!(
                        "data must be whole {size}-byte blocks"
                    )));
                }
                let mut out = Vec::with_capacity(data.len());
                for chunk in data.chunks(size) {
                    out.extend(diversify::encrypt_block(&card, chunk)?);
                }
                Ok(out)
            }
        }
    }

    fn derive(
        &self,
        algorithm: KeyAlgorithm,
        master: &KeyBlob,
        factors: &[&[u8]],
    ) -> Result<KeyBlob> {
        let master = BlockKey::new(block_algorithm(algorithm)?, master.as_bytes())?;
        let child = diversify::derive_path(&master, factors)?;
        Ok(KeyBlob::from_bytes(Zeroizing::new(
            child.expose_secret().to_vec(),
        )))
    }

    fn wrap(&self, kek: &KeyBlob, key: &KeyBlob, iv: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        self.seal(kek, iv, aad, key.as_bytes())
    }

    fn unwrap(
        &self,
        kek: &KeyBlob,
        algorithm: KeyAlgorithm,
        iv: &[u8],
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<KeyBlob> {
        let clear = self.open(kek, iv, aad, wrapped)?;
        self.import(algorithm, &clear)
    }

    fn envelope(&self, key: &KeyBlob, to: &Sm2PublicKey) -> Result<Vec<u8>> {
        Ok(sm2::encrypt(to, key.as_bytes(), CiphertextFormat::Der)?)
    }

    fn open_envelope(
        &self,
        recipient: &KeyBlob,
        algorithm: KeyAlgorithm,
        envelope: &[u8],
    ) -> Result<KeyBlob> {
        let clear = sm2::decrypt(&sm2_key(recipient)?, envelope, CiphertextFormat::Der)?;
        self.import(algorithm, &clear)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_hide_their_bytes_and_keys_round_trip_through_wrapping() {
        let p = SoftwareProvider;
        let kek = p.generate(KeyAlgorithm::Sm4).unwrap();
        let key = p.generate(KeyAlgorithm::Tdes).unwrap();
        assert_eq!(format!("{key:?}"), "KeyBlob(..)");
        let wrapped = p.wrap(&kek, &key, &[7; 12], b"meta").unwrap();
        let back = p
            .unwrap(&kek, KeyAlgorithm::Tdes, &[7; 12], b"meta", &wrapped)
            .unwrap();
        assert_eq!(
            p.check_value(KeyAlgorithm::Tdes, &back).unwrap(),
            p.check_value(KeyAlgorithm::Tdes, &key).unwrap()
        );
        assert!(p
            .unwrap(&kek, KeyAlgorithm::Tdes, &[7; 12], b"other", &wrapped)
            .is_err());
        let pair = p.generate(KeyAlgorithm::Sm2).unwrap();
        let envelope = p.envelope(&key, &p.public_key(&pair).unwrap()).unwrap();
        let opened = p
            .open_envelope(&pair, KeyAlgorithm::Tdes, &envelope)
            .unwrap();
        assert_eq!(opened.as_bytes(), key.as_bytes());
        assert!(p.import(KeyAlgorithm::Sm4, &[1, 2, 3]).is_err());
    }
}
