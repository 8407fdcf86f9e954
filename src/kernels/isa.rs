//! Instruction-set variants of qpose's own kernels, detected at run time.

/// A SIMD instruction set a kernel can be written for. Every kernel has a `Scalar`
/// implementation; the others exist where the architecture has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust.
    Scalar,
    /// x86-64 AVX2 + FMA (8 f32 lanes).
    Avx2,
    /// x86-64 AVX-512 F/BW (16 f32 lanes).
    Avx512,
    /// AArch64 Advanced SIMD (4 f32 lanes).
    Neon,
    /// AArch64 Advanced SIMD with the ARMv8.2 dot product (`sdot`: four s8 × s8 products
    /// summed into each i32 lane). Kernels without a dot-product variant run their `Neon`
    /// code for it.
    NeonDot,
    /// 32-bit ARM (ARMv7-A) Advanced SIMD, written with `asm!` (the `core::arch::arm`
    /// intrinsics and `#[target_feature(enable = "neon")]` are not stable Rust). Detected
    /// from the kernel's `AT_HWCAP` (`arm_hwcap`): NEON and the 32 double registers
    /// its kernels use. Kernels without armv7 code run their scalar code for it.
    Neon32,
}

/// The `AT_HWCAP` word of this process's auxiliary vector, read once from
/// `/proc/self/auxv` (pairs of native-endian u32 key and value on 32-bit Linux, ended by
/// key 0); `0` — no feature — when the file is missing or unreadable. Reading the file
/// instead of calling `getauxval` keeps the lean runtime free of a `libc` dependency.
#[cfg(target_arch = "arm")]
fn arm_hwcap() -> u32 {
    const AT_HWCAP: u32 = 16;
    static HWCAP: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *HWCAP.get_or_init(|| {
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        let word = |b: &[u8]| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        auxv.chunks_exact(8)
            .map(|p| (word(&p[..4]), word(&p[4..])))
            .find(|&(key, _)| key == AT_HWCAP)
            .map_or(0, |(_, v)| v)
    })
}

impl Isa {
    /// Whether this CPU can run code written for `self`.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => {
                std::arch::is_aarch64_feature_detected!("neon") && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => {
                // Linux's `HWCAP_NEON` and `HWCAP_VFPD32` (d16-d31, which the kernels use).
                const NEON: u32 = 1 << 12;
                const VFPD32: u32 = 1 << 19;
                arm_hwcap() & (NEON | VFPD32) == NEON | VFPD32
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every variant this CPU can run, best last.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Neon32, Isa::Neon, Isa::NeonDot, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    /// The best variant this CPU can run. `QPOSE_ISA=scalar|avx2|avx512|neon|neondot|neon32`
    /// caps it (for testing a fallback on a bigger machine); an unavailable request falls back
    /// to scalar.
    pub fn best() -> Isa {
        let best = *Isa::available().last().unwrap_or(&Isa::Scalar);
        match std::env::var("QPOSE_ISA").ok().as_deref() {
            Some(name) => Isa::from_name(name).filter(|i| i.is_available()).unwrap_or(Isa::Scalar),
            None => best,
        }
    }

    /// What a kernel without dot-product code runs for `self`: `Neon` for `NeonDot`, else
    /// `self`.
    pub fn without_dot(self) -> Isa {
        match self {
            Isa::NeonDot => Isa::Neon,
            isa => isa,
        }
    }

    pub fn from_name(name: &str) -> Option<Isa> {
        Some(match name {
            "scalar" => Isa::Scalar,
            "avx2" => Isa::Avx2,
            "avx512" => Isa::Avx512,
            "neon" => Isa::Neon,
            "neondot" => Isa::NeonDot,
            "neon32" => Isa::Neon32,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            Isa::NeonDot => "neondot",
            Isa::Neon32 => "neon32",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name round-trips, and `available()` lists only what `is_available` accepts.
    #[test]
    fn names_round_trip_and_available_is_consistent() {
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::NeonDot, Isa::Neon32] {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
        }
        assert!(Isa::available().iter().all(|i| i.is_available()));
        assert_eq!(Isa::available()[0], Isa::Scalar);
    }

    /// Linux always passes `AT_HWCAP`, non-zero on any ARMv7 CPU (`HWCAP_HALF`, `HWCAP_THUMB`,
    /// ...): a zero word means `/proc/self/auxv` was misread.
    #[cfg(all(target_arch = "arm", target_os = "linux"))]
    #[test]
    fn arm_hwcap_is_read_from_auxv() {
        assert_ne!(arm_hwcap(), 0);
    }
}
