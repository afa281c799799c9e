/*
 * The AVX2 form of the UTF-8 vector pass (Sources/SwiftWSCore/UTF8/UTF8VectorScan.swift has the
 * contract and the SSE2 form): Keiser and Lemire's lookup algorithm ("Validating UTF-8 in less
 * than one instruction per byte", Software: Practice and Experience 51(5), 2021), the one simdutf
 * uses, with its three 16-entry tables read by `vpshufb`. Swift cannot compile a function for
 * AVX2 alone (no per-function target features) and building the whole library for AVX2 would drop
 * older x86-64 CPUs, so this is C with a target attribute, chosen at run time
 * (swiftws_utf8_avx2_usable) and otherwise not executed. Header-only: nothing to build or link,
 * and the fuzz build (fuzz/run.sh) and CMake see it through the same module as the other shims.
 *
 * Like the Swift pass it needs no state: it reads the 3 bytes before `start` (they end a
 * complete character) with unaligned loads, and returns where the first 64-byte block holding
 * an error starts, or where fewer than 64 bytes remain; the Swift caller turns that into a
 * character boundary and its byte-at-a-time validator decides the rest (exact error position,
 * a character cut at the end of a piece).
 */
#ifndef SWIFTWS_UTF8_LOOKUP_H
#define SWIFTWS_UTF8_LOOKUP_H
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>

/* Whether the CPU has AVX2 and the kernel saves the YMM registers (OSXSAVE, XCR0 bits 1-2). */
static inline int swiftws_utf8_avx2_usable(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 27)) || !(ecx & (1u << 28))) return 0;   /* OSXSAVE, AVX */
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 6u) != 6u) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & (1u << 5)) != 0;                                /* AVX2 */
}

/* The error bits of one 32-byte vector `input` given the three vectors of the bytes 1, 2 and 3
 * before each of its bytes: simdutf's check_special_cases and check_multibyte_lengths. */
__attribute__((target("avx2")))
static inline __m256i swiftws_utf8_avx2_errors(__m256i input, __m256i prev1, __m256i prev2, __m256i prev3) {
    /* Bit meanings (a pair of bytes "first second" that breaks the rule sets the bit in all three
     * lookups): */
    enum {
        TOO_SHORT = 1 << 0,   /* 11______ 0_______ or 11______ 11______: a lead wanted a continuation */
        TOO_LONG = 1 << 1,    /* 0_______ 10______: a continuation no lead wanted */
        OVERLONG_3 = 1 << 2,  /* 11100000 100_____ */
        TOO_LARGE = 1 << 3,   /* 11110100 1001____ and above: > U+10FFFF */
        SURROGATE = 1 << 4,   /* 11101101 101_____ */
        OVERLONG_2 = 1 << 5,  /* 1100000_ 10______ */
        TOO_LARGE_1000 = 1 << 6, /* 11110101 1000____ and above */
        OVERLONG_4 = 1 << 6,  /* 11110000 1000____ */
        TWO_CONTS = 1 << 7,   /* 10______ 10______ (legal only where 3/4-byte leads want it: below) */
        CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
    };
    /* Each table once; both 128-bit lanes get it (`vpshufb` looks up within a lane). */
    const __m256i byte_1_high_table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        TOO_SHORT | OVERLONG_2, TOO_SHORT, TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4));
    const __m256i byte_1_low_table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000));
    const __m256i byte_2_high_table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT));
    const __m256i low_nibble = _mm256_set1_epi8(0x0F);
    const __m256i byte_1_high = _mm256_shuffle_epi8(byte_1_high_table,
                                                    _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low_nibble));
    const __m256i byte_1_low = _mm256_shuffle_epi8(byte_1_low_table, _mm256_and_si256(prev1, low_nibble));
    const __m256i byte_2_high = _mm256_shuffle_epi8(byte_2_high_table,
                                                    _mm256_and_si256(_mm256_srli_epi16(input, 4), low_nibble));
    const __m256i special = _mm256_and_si256(_mm256_and_si256(byte_1_high, byte_1_low), byte_2_high);
    /* A continuation two or three bytes after a 3- or 4-byte lead is wanted (it set TWO_CONTS
     * above): 111_____ two back or 1111____ three back gives 0x80 here, cancelling that bit, and
     * gives 0x80 alone (an error) where such a lead wanted a continuation and got none. */
    const __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    const __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    const __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must23, special);
}

/* The start of the first 64-byte block of base[start..<count] that holds an error, or the
 * offset where fewer than 64 bytes remain. `start` >= 3 and a character boundary. */
__attribute__((target("avx2")))
static inline long swiftws_utf8_avx2_scan(const uint8_t *base, long start, long count) {
    long index = start;
    /* Whether the block before ends inside a character (an all-ASCII block must then be checked). */
    int previous_incomplete = 0;
    /* A block whose last three bytes hold no lead of a longer character than fits ends complete. */
    const __m256i incomplete_limits = _mm256_setr_epi8(
        (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF,
        (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF,
        (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF,
        (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF,
        (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    while (index + 64 <= count) {
        const uint8_t *block = base + index;
        const __m256i low = _mm256_loadu_si256((const __m256i *)block);
        const __m256i high = _mm256_loadu_si256((const __m256i *)(block + 32));
        if (previous_incomplete || _mm256_movemask_epi8(_mm256_or_si256(low, high)) != 0) {
            __m256i errors = swiftws_utf8_avx2_errors(
                low, _mm256_loadu_si256((const __m256i *)(block - 1)), _mm256_loadu_si256((const __m256i *)(block - 2)),
                _mm256_loadu_si256((const __m256i *)(block - 3)));
            errors = _mm256_or_si256(errors, swiftws_utf8_avx2_errors(
                high, _mm256_loadu_si256((const __m256i *)(block + 31)), _mm256_loadu_si256((const __m256i *)(block + 30)),
                _mm256_loadu_si256((const __m256i *)(block + 29))));
            if (!_mm256_testz_si256(errors, errors)) break;
            /* Unsigned `high > limit` per byte: max(high, limit) != limit. */
            const __m256i over = _mm256_xor_si256(_mm256_max_epu8(high, incomplete_limits), incomplete_limits);
            previous_incomplete = !_mm256_testz_si256(over, over);
        } else {
            previous_incomplete = 0;
        }
        index += 64;
    }
    return index;
}
#endif
#endif
