//! Points of the SM2 curve from bytes, with every check of GB/T 32918.1-2016
//! §6.2 (public key validation) and of the conversion of a byte string to a
//! point (§4.2), each failing with its own [`PointFault`].

use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::elliptic_curve::Group;
use sm2::{ProjectivePoint, PublicKey, Scalar};

use super::curve;
use crate::PointFault;

const COORD: usize = 32;

/// Reads a point in any encoding of GB/T 32918.1 §4.2 and validates it
/// (§6.2 a–d): `00` is O and refused, `02`/`03` ‖ x is compressed,
/// `04` ‖ x ‖ y uncompressed, `06`/`07` ‖ x ‖ y hybrid.
pub(crate) fn decode(bytes: &[u8]) -> Result<PublicKey, PointFault> {
    let (&tag, rest) = bytes.split_first().ok_or(PointFault::Encoding)?;
    let point = match (tag, rest.len()) {
        (0x00, 0) => return Err(PointFault::Infinity),
        (0x02 | 0x03, COORD) => {
            check_field(rest, PointFault::XOutOfField)?;
            PublicKey::from_sec1_bytes(bytes).map_err(|_| PointFault::NoPointWithX)?
        }
        (0x04, 64) => uncompressed(rest)?,
        (0x06 | 0x07, 64) => {
            let point = uncompressed(rest)?;
            let y_is_odd = rest.last().is_some_and(|b| b & 1 == 1);
            if y_is_odd != (tag == 0x07) {
                return Err(PointFault::HybridParity);
            }
            point
        }
        _ => return Err(PointFault::Encoding),
    };
    check_order(&point)?;
    Ok(point)
}

/// A point from its coordinates as big-endian integers of any length (as a
/// GM/T 0009 DER ciphertext carries C1), checked like `04 ‖ x ‖ y`.
pub(crate) fn from_coordinates(x: &[u8], y: &[u8]) -> Result<PublicKey, PointFault> {
    let x = fixed(x).ok_or(PointFault::XOutOfField)?;
    let y = fixed(y).ok_or(PointFault::YOutOfField)?;
    let mut xy = [0u8; 64];
    let (left, right) = xy.split_at_mut(COORD);
    left.copy_from_slice(&x);
    right.copy_from_slice(&y);
    uncompressed(&xy)
}

/// `04 ‖ x ‖ y` of a point.
pub(crate) fn uncompressed_bytes(point: &PublicKey) -> Vec<u8> {
    point.as_affine().to_sec1_point(false).as_bytes().to_vec()
}

/// x ‖ y of a point (64 bytes): the uncompressed encoding without its tag.
pub(crate) fn xy(point: &PublicKey) -> Vec<u8> {
    let mut bytes = uncompressed_bytes(point);
    bytes.remove(0);
    bytes
}

/// x and y (64 bytes after the tag `04`): each in [0, p − 1], then on the curve.
fn uncompressed(xy: &[u8]) -> Result<PublicKey, PointFault> {
    let (x, y) = xy.split_at(COORD.min(xy.len()));
    check_field(x, PointFault::XOutOfField)?;
    check_field(y, PointFault::YOutOfField)?;
    let mut bytes = Vec::with_capacity(65);
    bytes.push(0x04);
    bytes.extend_from_slice(xy);
    // Both coordinates are field elements and 04 cannot encode O: what is
    // left to fail is the curve equation.
    PublicKey::from_sec1_bytes(&bytes).map_err(|_| PointFault::NotOnCurve)
}

/// §6.2 b): a coordinate (32 bytes big-endian) is in [0, p − 1].
fn check_field(coordinate: &[u8], fault: PointFault) -> Result<(), PointFault> {
    if coordinate.len() == COORD && coordinate < curve::P.as_slice() {
        Ok(())
    } else {
        Err(fault)
    }
}

/// §6.2 d): [n]P = O, computed as [n − 1]P + P. Every point of the SM2 curve
/// but O has order n (h = 1), so this holds for any point that passed a)–c);
/// it is computed all the same, as the standard asks.
fn check_order(point: &PublicKey) -> Result<(), PointFault> {
    let p = ProjectivePoint::from(*point.as_affine());
    let n_minus_one = Scalar::ZERO - Scalar::ONE;
    if bool::from((p * n_minus_one + p).is_identity()) {
        Ok(())
    } else {
        Err(PointFault::OrderNotN)
    }
}

/// A big-endian integer as 32 bytes, if it fits.
fn fixed(bytes: &[u8]) -> Option<[u8; COORD]> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let significant = bytes.get(start..)?;
    let mut out = [0u8; COORD];
    let offset = COORD.checked_sub(significant.len())?;
    out.get_mut(offset..)?.copy_from_slice(significant);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn fixed_pads_and_strips() {
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(fixed(&[1]), Some(one));
        let mut long = vec![0u8; 40];
        long[39] = 1;
        assert_eq!(fixed(&long), Some(one));
        assert_eq!(fixed(&[1u8; 33]), None);
        assert_eq!(fixed(&[]), Some([0u8; 32]));
    }
}
