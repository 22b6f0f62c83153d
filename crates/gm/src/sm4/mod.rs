//! SM4 (GB/T 32907-2016) and its modes of operation (GB/T 17964-2021; GCM per
//! RFC 8998). Every mode is RustCrypto's, over the `sm4` block cipher.

mod cbc;
mod ctr;
mod ecb;
mod gcm;
mod key;

pub use cbc::{cbc_decrypt, cbc_encrypt};
pub use ctr::ctr_apply;
pub use ecb::{ecb_decrypt, ecb_encrypt};
pub use gcm::{gcm_decrypt, gcm_encrypt, GCM_IV_LEN, GCM_TAG_LEN};
pub use key::Sm4Key;

/// SM4 block size in bytes.
pub const BLOCK_LEN: usize = 16;

/// Padding of the block modes ECB and CBC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// PKCS#7 (RFC 5652 §6.3), as `openssl enc` pads.
    Pkcs7,
    /// No padding: the data must be a whole number of blocks.
    None,
}

/// Pads (or checks alignment) and encrypts with a keyed block mode.
fn encrypt_padded<M: cipher::BlockModeEncrypt>(
    mode: M,
    data: &[u8],
    padding: Padding,
) -> crate::Result<Vec<u8>> {
    use cipher::block_padding::{NoPadding, Pkcs7};
    match padding {
        Padding::Pkcs7 => Ok(mode.encrypt_padded_vec::<Pkcs7>(data)),
        Padding::None => {
            check_aligned(data)?;
            Ok(mode.encrypt_padded_vec::<NoPadding>(data))
        }
    }
}

/// Decrypts with a keyed block mode and removes the padding.
fn decrypt_padded<M: cipher::BlockModeDecrypt>(
    mode: M,
    data: &[u8],
    padding: Padding,
) -> crate::Result<Vec<u8>> {
    use cipher::block_padding::{NoPadding, Pkcs7};
    check_aligned(data)?;
    match padding {
        Padding::Pkcs7 => mode.decrypt_padded_vec::<Pkcs7>(data),
        Padding::None => mode.decrypt_padded_vec::<NoPadding>(data),
    }
    .map_err(|_| crate::Error::BadPadding)
}

fn check_aligned(data: &[u8]) -> crate::Result<()> {
    if data.len().is_multiple_of(BLOCK_LEN) {
        Ok(())
    } else {
        Err(crate::Error::NotBlockAligned {
            block: BLOCK_LEN,
            actual: data.len(),
        })
    }
}
