//! Random identifiers and secrets, drawn straight from the operating system's CSPRNG.
//!
//! Everything random in the system (token secrets, token ids, service-account ids) is a string
//! over the base62 alphabet `0-9A-Za-z`. Characters are drawn without modulo bias: each byte
//! from the OS gives six bits, and the two values that fall outside the alphabet are discarded.

use rand::TryRng;
use rand::rngs::SysRng;

/// The base62 alphabet, in the order GitHub's token checksums use.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The operating system refused to provide randomness.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessUnavailable(String);

/// `len` characters drawn uniformly from [`BASE62`], each carrying log2(62) ≈ 5.95 bits.
pub fn base62_string(len: usize) -> Result<String, RandomnessUnavailable> {
    let mut out = String::with_capacity(len);
    // One read usually suffices: 62 of every 64 six-bit values are kept.
    let mut buffer = [0u8; 64];
    while out.len() < len {
        SysRng
            .try_fill_bytes(&mut buffer)
            .map_err(|error| RandomnessUnavailable(error.to_string()))?;
        for byte in buffer {
            let value = usize::from(byte >> 2);
            if let Some(&symbol) = BASE62.get(value) {
                out.push(char::from(symbol));
                if out.len() == len {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Whether every byte of `value` is in [`BASE62`].
pub fn is_base62(value: &str) -> bool {
    value.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_have_the_requested_length_and_alphabet() {
        for len in [0, 1, 16, 43, 200] {
            let value = base62_string(len).unwrap();
            assert_eq!(value.len(), len);
            assert!(is_base62(&value));
        }
    }

    #[test]
    fn every_symbol_of_the_alphabet_is_drawn_and_none_is_favoured() {
        let mut counts = [0usize; 62];
        let sample = base62_string(62 * 2_000).unwrap();
        for byte in sample.bytes() {
            let index = BASE62.iter().position(|&symbol| symbol == byte).unwrap();
            counts[index] += 1;
        }
        // Expected 2,000 per symbol; a biased sampler (e.g. `byte % 62`) would push the first
        // symbols far above the rest. ±25% is more than 10 standard deviations.
        for count in counts {
            assert!((1_500..=2_500).contains(&count), "count {count}");
        }
    }
}
