//! A key of either block algorithm of the card system, and the raw block
//! operation that MACs, diversification and check values are built from.

use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

use crate::{Error, Result, Sm4Key, TdesKey};

/// The block algorithms used for card keys: SM4 on current cards, 3DES on
/// the older generation (card-profile: tag `9F0C`/`86` = `03` SM4, `01` 3DES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockAlgorithm {
    /// SM4, 16-byte blocks (GB/T 32907-2016).
    Sm4,
    /// Two- or three-key 3DES (EDE), 8-byte blocks.
    Tdes,
}

impl BlockAlgorithm {
    /// Block size in bytes.
    pub fn block_size(self) -> usize {
        match self {
            Self::Sm4 => 16,
            Self::Tdes => TdesKey::BLOCK,
        }
    }
}

/// A symmetric key of a known block algorithm.
///
/// ```
/// use sscard_gm::{BlockAlgorithm, BlockKey};
/// let key = BlockKey::new(BlockAlgorithm::Tdes, &[0x33; 16]).unwrap();
/// assert_eq!(key.algorithm().block_size(), 8);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BlockKey {
    /// An SM4 key.
    Sm4(Sm4Key),
    /// A 3DES key.
    Tdes(TdesKey),
}

impl BlockKey {
    /// Takes key bytes for the given algorithm, checking their length.
    pub fn new(algorithm: BlockAlgorithm, bytes: &[u8]) -> Result<Self> {
        Ok(match algorithm {
            BlockAlgorithm::Sm4 => Self::Sm4(Sm4Key::from_slice(bytes)?),
            BlockAlgorithm::Tdes => Self::Tdes(TdesKey::from_slice(bytes)?),
        })
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> BlockAlgorithm {
        match self {
            Self::Sm4(_) => BlockAlgorithm::Sm4,
            Self::Tdes(_) => BlockAlgorithm::Tdes,
        }
    }

    /// The key bytes.
    pub fn expose_secret(&self) -> &[u8] {
        match self {
            Self::Sm4(k) => k.expose_secret(),
            Self::Tdes(k) => k.expose_secret(),
        }
    }

    /// A keyed cipher for raw block operations.
    pub(crate) fn cipher(&self) -> Result<RawBlockCipher> {
        Ok(match self {
            Self::Sm4(k) => RawBlockCipher::Sm4(k.cipher()),
            Self::Tdes(k) => match k.expose_secret().len() {
                16 => RawBlockCipher::Tdes2(new_keyed(k.expose_secret())?),
                _ => RawBlockCipher::Tdes3(new_keyed(k.expose_secret())?),
            },
        })
    }
}

fn new_keyed<C: KeyInit>(key: &[u8]) -> Result<C> {
    C::new_from_slice(key).map_err(|_| Error::KeyLength {
        algorithm: "block cipher",
        expected: "the cipher's key length",
        actual: key.len(),
    })
}

/// A keyed block cipher applied to single blocks: the "hazmat" layer under
/// MACs, diversification and check values. Not exported: ECB over raw
/// blocks is only safe in those constructions.
pub(crate) enum RawBlockCipher {
    Sm4(sm4::Sm4),
    Tdes2(des::TdesEde2),
    Tdes3(des::TdesEde3),
    Des(des::Des),
}

impl RawBlockCipher {
    /// Single DES under the first 8 bytes of a 3DES key (retail MAC, ISO/IEC 9797-1 alg. 3).
    pub(crate) fn single_des(key: &TdesKey) -> Result<Self> {
        Ok(Self::Des(new_keyed(key.left())?))
    }

    pub(crate) fn block_size(&self) -> usize {
        match self {
            Self::Sm4(_) => 16,
            Self::Tdes2(_) | Self::Tdes3(_) | Self::Des(_) => TdesKey::BLOCK,
        }
    }

    /// Encrypts one block in place; `block` must be exactly one block long.
    pub(crate) fn encrypt_block(&self, block: &mut [u8]) -> Result<()> {
        match self {
            Self::Sm4(c) => encrypt_with(c, block),
            Self::Tdes2(c) => encrypt_with(c, block),
            Self::Tdes3(c) => encrypt_with(c, block),
            Self::Des(c) => encrypt_with(c, block),
        }
    }
}

impl RawBlockCipher {
    /// Decrypts one block in place; `block` must be exactly one block long.
    pub(crate) fn decrypt_block(&self, block: &mut [u8]) -> Result<()> {
        match self {
            Self::Sm4(c) => decrypt_with(c, block),
            Self::Tdes2(c) => decrypt_with(c, block),
            Self::Tdes3(c) => decrypt_with(c, block),
            Self::Des(c) => decrypt_with(c, block),
        }
    }
}

fn decrypt_with<C: BlockCipherDecrypt>(c: &C, block: &mut [u8]) -> Result<()> {
    let actual = block.len();
    let block: &mut cipher::Block<C> = block.try_into().map_err(|_| Error::NotBlockAligned {
        block: C::block_size(),
        actual,
    })?;
    c.decrypt_block(block);
    Ok(())
}

fn encrypt_with<C: BlockCipherEncrypt>(c: &C, block: &mut [u8]) -> Result<()> {
    let actual = block.len();
    let block: &mut cipher::Block<C> = block.try_into().map_err(|_| Error::NotBlockAligned {
        block: C::block_size(),
        actual,
    })?;
    c.encrypt_block(block);
    Ok(())
}
