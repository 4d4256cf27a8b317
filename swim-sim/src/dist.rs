//! Delay distributions: network latency and jitter, stream latency, CPU-starvation delays.
//!
//! In a scenario file a distribution is either a plain duration (a constant) or one table:
//!
//! ```toml
//! latency = "1ms"                                      # constant
//! jitter = { uniform = { min = "0", max = "2ms" } }
//! jitter = { exponential = { mean = "200us" } }
//! jitter = { normal = { mean = "1ms", std_dev = "300us" } }   # truncated at 0
//! jitter = { lognormal = { median = "1ms", sigma = 0.5 } }
//! jitter = { pareto = { scale = "1ms", shape = 1.5 } }          # heavy tail
//! ```
//!
//! Every sample is capped at [`MAX_SAMPLE`], so a heavy tail cannot push an event past the end
//! of time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::rng::SimRng;

/// The largest delay any distribution returns: one hour.
pub const MAX_SAMPLE: Duration = Duration::from_secs(3600);

/// A distribution of durations. See the module docs for the file syntax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dist {
    /// Always this duration.
    Constant(Dur),
    /// One of the shapes.
    Shape(Shape),
}

/// The non-constant distributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: Dur,
        /// Upper bound.
        max: Dur,
    },
    /// Exponential with this mean.
    Exponential {
        /// The mean.
        mean: Dur,
    },
    /// Normal, negative samples clamped to zero.
    Normal {
        /// The mean.
        mean: Dur,
        /// The standard deviation.
        std_dev: Dur,
    },
    /// Log-normal: `median * exp(sigma * Z)`.
    Lognormal {
        /// The median.
        median: Dur,
        /// Standard deviation of the underlying normal.
        sigma: f64,
    },
    /// Pareto: `scale / U^(1/shape)`, at least `scale`.
    Pareto {
        /// The minimum (and scale).
        scale: Dur,
        /// The tail index; smaller is heavier.
        shape: f64,
    },
}

impl Default for Dist {
    fn default() -> Self {
        Dist::Constant(Dur::default())
    }
}

impl Dist {
    /// A constant.
    pub fn constant(d: Duration) -> Dist {
        Dist::Constant(Dur(d))
    }

    /// Uniform in `[min, max]`.
    pub fn uniform(min: Duration, max: Duration) -> Dist {
        Dist::Shape(Shape::Uniform { min: Dur(min), max: Dur(max) })
    }

    /// Exponential with mean `mean`.
    pub fn exponential(mean: Duration) -> Dist {
        Dist::Shape(Shape::Exponential { mean: Dur(mean) })
    }

    /// Check the parameters.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Dist::Constant(_) => Ok(()),
            Dist::Shape(Shape::Uniform { min, max }) if min > max => Err(format!("uniform: min {min} > max {max}")),
            Dist::Shape(Shape::Lognormal { sigma, .. }) if !(sigma.is_finite() && *sigma >= 0.0) => {
                Err("lognormal: sigma must be finite and >= 0".into())
            }
            Dist::Shape(Shape::Pareto { shape, .. }) if !(shape.is_finite() && *shape > 0.0) => {
                Err("pareto: shape must be finite and > 0".into())
            }
            Dist::Shape(_) => Ok(()),
        }
    }

    /// The mean (for reports; the Pareto mean is infinite when `shape <= 1`).
    pub fn mean(&self) -> f64 {
        match self.sampler() {
            Sampler::Zero => 0.0,
            Sampler::Const(c) => c as f64 / 1e9,
            Sampler::Uniform(lo, span) => (lo as f64 + span as f64 / 2.0) / 1e9,
            Sampler::Exp(m) => m / 1e9,
            Sampler::Normal(m, _) => m / 1e9,
            Sampler::LogNormal(med, s) => med * (s * s / 2.0).exp() / 1e9,
            Sampler::Pareto(x, a) => {
                if a > 1.0 {
                    a * x / (a - 1.0) / 1e9
                } else {
                    f64::INFINITY
                }
            }
        }
    }

    /// A fast sampler for this distribution.
    pub fn sampler(&self) -> Sampler {
        let n = |d: &Dur| u64::try_from(d.0.as_nanos()).unwrap_or(u64::MAX);
        match self {
            Dist::Constant(d) if d.0.is_zero() => Sampler::Zero,
            Dist::Constant(d) => Sampler::Const(n(d)),
            Dist::Shape(Shape::Uniform { min, max }) => Sampler::Uniform(n(min), n(max).saturating_sub(n(min))),
            Dist::Shape(Shape::Exponential { mean }) => Sampler::Exp(n(mean) as f64),
            Dist::Shape(Shape::Normal { mean, std_dev }) => Sampler::Normal(n(mean) as f64, n(std_dev) as f64),
            Dist::Shape(Shape::Lognormal { median, sigma }) => Sampler::LogNormal(n(median) as f64, *sigma),
            Dist::Shape(Shape::Pareto { scale, shape }) => Sampler::Pareto(n(scale) as f64, *shape),
        }
    }
}

impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dist::Constant(d) => write!(f, "{d}"),
            Dist::Shape(Shape::Uniform { min, max }) => write!(f, "uniform({min}..{max})"),
            Dist::Shape(Shape::Exponential { mean }) => write!(f, "exp(mean {mean})"),
            Dist::Shape(Shape::Normal { mean, std_dev }) => write!(f, "normal({mean}, sd {std_dev})"),
            Dist::Shape(Shape::Lognormal { median, sigma }) => write!(f, "lognormal(median {median}, sigma {sigma})"),
            Dist::Shape(Shape::Pareto { scale, shape }) => write!(f, "pareto(scale {scale}, shape {shape})"),
        }
    }
}

/// A distribution compiled to nanosecond arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// Always zero (no random draw).
    Zero,
    /// Always this many nanoseconds (no random draw).
    Const(u64),
    /// `lo + uniform(0..=span)`.
    Uniform(u64, u64),
    /// Exponential, mean in nanoseconds.
    Exp(f64),
    /// Normal (mean, sd) in nanoseconds, clamped at zero.
    Normal(f64, f64),
    /// Log-normal (median in nanoseconds, sigma).
    LogNormal(f64, f64),
    /// Pareto (scale in nanoseconds, shape).
    Pareto(f64, f64),
}

const CAP: u64 = MAX_SAMPLE.as_nanos() as u64;

/// One draw of the standard normal distribution.
pub fn standard_normal(rng: &mut SimRng) -> f64 {
    // Box-Muller; one of the pair is discarded to keep the sampler stateless.
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Sampler {
    /// One sample, in nanoseconds, at most [`MAX_SAMPLE`].
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        let f = |x: f64| if x.is_finite() && x > 0.0 { (x as u64).min(CAP) } else { 0 };
        match *self {
            Sampler::Zero => 0,
            Sampler::Const(c) => c.min(CAP),
            Sampler::Uniform(lo, 0) => lo.min(CAP),
            Sampler::Uniform(lo, span) => lo.saturating_add(rng.next_u64() % span.saturating_add(1)).min(CAP),
            Sampler::Exp(mean) => f(-mean * (1.0 - rng.unit()).ln()),
            Sampler::Normal(mean, sd) => f(mean + sd * standard_normal(rng)),
            Sampler::LogNormal(median, sigma) => f(median * (sigma * standard_normal(rng)).exp()),
            Sampler::Pareto(scale, shape) => f(scale / (1.0 - rng.unit()).powf(1.0 / shape)),
        }
    }

    /// Whether every sample is zero.
    pub fn is_zero(&self) -> bool {
        matches!(self, Sampler::Zero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Dist {
        #[derive(Deserialize)]
        struct W {
            d: Dist,
        }
        toml::from_str::<W>(&format!("d = {s}")).unwrap().d
    }

    #[test]
    fn file_syntax() {
        assert_eq!(parse("\"1ms\""), Dist::constant(Duration::from_millis(1)));
        assert_eq!(
            parse("{ uniform = { min = \"0\", max = \"2ms\" } }"),
            Dist::uniform(Duration::ZERO, Duration::from_millis(2))
        );
        assert_eq!(parse("{ exponential = { mean = \"200us\" } }"), Dist::exponential(Duration::from_micros(200)));
        assert!(matches!(parse("{ pareto = { scale = \"1ms\", shape = 1.5 } }"), Dist::Shape(Shape::Pareto { .. })));
    }

    #[test]
    fn sample_means_are_close() {
        let mut rng = SimRng::new(1);
        for (d, mean) in [
            (Dist::uniform(Duration::from_millis(1), Duration::from_millis(3)), 2e6),
            (Dist::exponential(Duration::from_millis(2)), 2e6),
            (Dist::Shape(Shape::Normal { mean: Dur::millis(5), std_dev: Dur::millis(1) }), 5e6),
        ] {
            let s = d.sampler();
            let n = 20_000;
            let avg = (0..n).map(|_| s.sample(&mut rng) as f64).sum::<f64>() / n as f64;
            assert!((avg - mean).abs() / mean < 0.05, "{d}: mean {avg} vs {mean}");
            assert!((d.mean() * 1e9 - mean).abs() / mean < 1e-9);
        }
        let p = Dist::Shape(Shape::Pareto { scale: Dur::millis(1), shape: 1.1 }).sampler();
        assert!((0..10_000).all(|_| {
            let x = p.sample(&mut rng);
            (1_000_000..=CAP).contains(&x)
        }));
    }
}
