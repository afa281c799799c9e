#if arch(x86_64)
import CSwiftWSSystem
#endif

/// What the CPU we run on can do beyond the baseline the library is compiled for, asked once.
/// The one owner of the question for every vector pass that has a wider form (UTF-8
/// validation, masking): Swift compiles for baseline x86-64 (SSE2), and the AVX2 forms are C
/// functions with a target attribute that may only run where this says so.
@usableFromInline
enum CPUFeatures {
    #if arch(x86_64)
    /// Whether AVX2 may run: the CPU has it and the kernel saves the YMM registers.
    @usableFromInline static let hasAVX2 = swiftws_utf8_avx2_usable() != 0
    #else
    @usableFromInline static let hasAVX2 = false
    #endif
}
