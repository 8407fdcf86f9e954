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
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every variant this CPU can run, best last.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Neon, Isa::NeonDot, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    /// The best variant this CPU can run. `QPOSE_ISA=scalar|avx2|avx512|neon|neondot` caps it (for
    /// testing a fallback on a bigger machine); an unavailable request falls back to scalar.
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
        }
    }
}
