//! One observer per channel.

use super::Observer;
use crate::error::{ensure_finite, invalid, Result};
use crate::per_channel::PerChannelParams;
use crate::range::RealRange;
use crate::scheme::QuantScheme;

/// Runs one observer per channel of tensors laid out `[C, rest...]` (channel outermost,
/// row-major): batch element `i` belongs to channel `i / (len / C)`. This is the layout of
/// ONNX `Conv` weights `[C_out, C_in/groups, kh, kw]` and linear weights `[C_out, K]`.
#[derive(Debug, Clone)]
pub struct PerChannelObserver<O> {
    channels: Vec<O>,
}

impl<O: Observer> PerChannelObserver<O> {
    /// `num_channels` observers, each built by `make`. Fails if `num_channels == 0`.
    pub fn new(num_channels: usize, make: impl FnMut() -> O) -> Result<Self> {
        if num_channels == 0 {
            return Err(invalid("num_channels", "at least one channel is needed"));
        }
        Ok(Self { channels: std::iter::repeat_with(make).take(num_channels).collect() })
    }

    /// Number of channels.
    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// The per-channel observers.
    pub fn channels(&self) -> &[O] {
        &self.channels
    }

    /// Feeds a batch of `C * n` values (`n` per channel, channel blocks contiguous).
    /// Empty batches are ignored; a length that is not a multiple of `C` or a non-finite
    /// value is an error and leaves every channel unchanged.
    pub fn observe(&mut self, x: &[f32]) -> Result<()> {
        if x.is_empty() {
            return Ok(());
        }
        let c = self.channels.len();
        if x.len() % c != 0 {
            return Err(invalid("x", format!("{} values do not split into {c} channels", x.len())));
        }
        ensure_finite("observed batch", x)?;
        for (observer, block) in self.channels.iter_mut().zip(x.chunks(x.len() / c)) {
            observer.observe(block)?;
        }
        Ok(())
    }

    /// The range of every channel.
    pub fn ranges(&self) -> Result<Vec<RealRange>> {
        self.channels.iter().map(Observer::range).collect()
    }

    /// Per-channel parameters on axis 0.
    pub fn params(&self, scheme: QuantScheme) -> Result<PerChannelParams> {
        PerChannelParams::from_ranges(&self.ranges()?, 0, scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::QuantError;
    use crate::observer::MinMaxObserver;

    #[test]
    fn splits_contiguous_channel_blocks() {
        let mut o = PerChannelObserver::new(2, MinMaxObserver::new).unwrap();
        o.observe(&[1.0, -2.0, 3.0, 10.0, 20.0, 30.0]).unwrap();
        o.observe(&[-5.0, 0.0]).unwrap();
        let r = o.ranges().unwrap();
        assert_eq!((r[0].min(), r[0].max()), (-5.0, 3.0));
        assert_eq!((r[1].min(), r[1].max()), (0.0, 30.0));
        let p = o.params(QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!(p.scales(), vec![5.0 / 127.0, 30.0 / 127.0]);
        assert_eq!(p.axis(), 0);
    }

    #[test]
    fn errors_leave_state_untouched() {
        let mut o = PerChannelObserver::new(2, MinMaxObserver::new).unwrap();
        assert_eq!(o.ranges(), Err(QuantError::NoData));
        o.observe(&[]).unwrap();
        assert!(o.observe(&[1.0, 2.0, 3.0]).is_err());
        // The NaN is in channel 1: channel 0 must not have been updated either.
        assert!(o.observe(&[1.0, f32::NAN]).is_err());
        assert_eq!(o.ranges(), Err(QuantError::NoData));
        assert!(PerChannelObserver::new(0, MinMaxObserver::new).is_err());
        assert_eq!(o.num_channels(), 2);
        assert_eq!(o.channels().len(), 2);
    }
}
