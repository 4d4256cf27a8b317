//! The few floating-point functions the protocol's formulas need.
//!
//! `core` has no `ln` or `log10` (they live in `std`), and swim-core is `no_std`,
//! so the natural logarithm is computed here by range reduction and the `atanh`
//! series. Results agree with `std` to within 1e-14 relative error (tested), and
//! are bit-for-bit the same on every platform, which determinism needs anyway.

const LN_2: f64 = core::f64::consts::LN_2;
const LN_10: f64 = core::f64::consts::LN_10;
const SQRT_2: f64 = core::f64::consts::SQRT_2;

/// Natural logarithm of a finite `x > 0`. Returns `f64::NEG_INFINITY` for `x <= 0`
/// (never reached by the protocol, whose arguments are at least 1).
pub(crate) fn ln(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    // x = m * 2^e with m in [1, 2), for normal numbers.
    let mut x = x;
    let mut e: i64 = 0;
    if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        x *= (1u64 << 54) as f64;
        e -= 54;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln(m) = 2 * atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + e as f64 * LN_2
}

/// Base-10 logarithm of `x > 0`.
pub(crate) fn log10(x: f64) -> f64 {
    ln(x) / LN_10
}

/// `ceil(log10(n + 1))` computed exactly on integers: the number of decimal digits of `n`.
pub(crate) fn ceil_log10_plus_one(n: usize) -> u32 {
    let mut digits = 0;
    let mut v = n;
    while v > 0 {
        digits += 1;
        v /= 10;
    }
    digits
}

/// `ceil(log2(n))` for `n >= 1`, exactly.
pub(crate) fn ceil_log2(n: usize) -> u32 {
    if n <= 1 { 0 } else { usize::BITS - (n - 1).leading_zeros() }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn ln_matches_std() {
        let mut x = 1e-300;
        while x < 1e300 {
            let want = std::primitive::f64::ln(x);
            let got = ln(x);
            assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "ln({x}) = {got}, want {want}");
            x *= 1.37;
        }
        for n in 1..2000u32 {
            let x = n as f64;
            assert!((ln(x) - x.ln()).abs() < 1e-13, "n={n}");
            assert!((log10(x) - x.log10()).abs() < 1e-13, "n={n}");
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn integer_logs() {
        for n in 0..100_000usize {
            let want = ((n + 1) as f64).log10().ceil() as u32;
            assert_eq!(ceil_log10_plus_one(n), want, "n={n}");
        }
        for n in 1..100_000usize {
            let want = (n as f64).log2().ceil() as u32;
            assert_eq!(ceil_log2(n), want, "n={n}");
        }
    }
}
