/*
 * The AVX2 form of payload masking (RFC 6455 section 5.3; Sources/SwiftWSCore/Frames/Masking.swift
 * has the contract and the portable SSE2/NEON form). Masking is most of the user-space work of a
 * large echo (callgrind, 64 KiB binary: 87 % of the server's instructions), and Swift's SIMD
 * types give 16-byte vectors on a baseline x86-64 build; these 32-byte ones halve the work. C with
 * a target attribute, chosen at run time (swiftws_utf8_avx2_usable in utf8_lookup.h decides for
 * both), for the reason given there. Header-only.
 *
 * Both functions work on whole 32-byte blocks from `base` on and return how many bytes they did
 * (a multiple of 32, so the caller continues with the same key rotation); `key` is the 4 key bytes
 * as seen from base[0], in memory order.
 */
#ifndef SWIFTWS_MASK_AVX2_H
#define SWIFTWS_MASK_AVX2_H
#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the 128 bytes at `src` XORed with `k` to `dst` (the same place, or one that does not
 * overlap); returns the OR of the unmasked bytes (its high bits say whether any is non-ASCII;
 * unused, the compiler drops it). */
__attribute__((target("avx2")))
static inline __m256i swiftws_mask_avx2_128(uint8_t *dst, const uint8_t *src, __m256i k) {
    const __m256i *s = (const __m256i *)src;
    __m256i *d = (__m256i *)dst;
    const __m256i a = _mm256_xor_si256(_mm256_loadu_si256(s), k);
    const __m256i b = _mm256_xor_si256(_mm256_loadu_si256(s + 1), k);
    const __m256i c = _mm256_xor_si256(_mm256_loadu_si256(s + 2), k);
    const __m256i e = _mm256_xor_si256(_mm256_loadu_si256(s + 3), k);
    _mm256_storeu_si256(d, a);
    _mm256_storeu_si256(d + 1, b);
    _mm256_storeu_si256(d + 2, c);
    _mm256_storeu_si256(d + 3, e);
    return _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, e));
}

/* Writes the 32 bytes at `src` XORed with `k` to `dst` (as above); returns the unmasked bytes. */
__attribute__((target("avx2")))
static inline __m256i swiftws_mask_avx2_32(uint8_t *dst, const uint8_t *src, __m256i k) {
    const __m256i a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)src), k);
    _mm256_storeu_si256((__m256i *)dst, a);
    return a;
}

/* XORs the 32-byte blocks of base[0..<count] with the key, 128 bytes per iteration. */
__attribute__((target("avx2")))
static inline size_t swiftws_mask_avx2(uint8_t *base, size_t count, uint32_t key) {
    const __m256i k = _mm256_set1_epi32((int)key);
    size_t index = 0;
    for (; index + 128 <= count; index += 128) (void)swiftws_mask_avx2_128(base + index, base + index, k);
    for (; index + 32 <= count; index += 32) (void)swiftws_mask_avx2_32(base + index, base + index, k);
    return index;
}

/* Like swiftws_mask_avx2, but reads the bytes at `src` and writes them XORed to `dst` (the two do
 * not overlap): unmasking fused with the copy of a payload into a message buffer. */
__attribute__((target("avx2")))
static inline size_t swiftws_mask_copy_avx2(uint8_t *dst, const uint8_t *src, size_t count, uint32_t key) {
    const __m256i k = _mm256_set1_epi32((int)key);
    size_t index = 0;
    for (; index + 128 <= count; index += 128) (void)swiftws_mask_avx2_128(dst + index, src + index, k);
    for (; index + 32 <= count; index += 32) (void)swiftws_mask_avx2_32(dst + index, src + index, k);
    return index;
}

/* Like swiftws_mask_avx2, and sets *ascii_prefix to the offset of the first 128-byte block
 * (32-byte block in the tail) that holds a byte >= 0x80 after unmasking, or leaves it alone when
 * every byte done is ASCII. */
__attribute__((target("avx2")))
static inline size_t swiftws_mask_ascii_avx2(uint8_t *base, size_t count, uint32_t key, long *ascii_prefix) {
    const __m256i k = _mm256_set1_epi32((int)key);
    size_t index = 0;
    int seen = 0;
    for (; index + 128 <= count; index += 128) {
        const __m256i all = swiftws_mask_avx2_128(base + index, base + index, k);
        if (!seen && _mm256_movemask_epi8(all) != 0) {
            *ascii_prefix = (long)index;
            seen = 1;
        }
    }
    for (; index + 32 <= count; index += 32) {
        const __m256i all = swiftws_mask_avx2_32(base + index, base + index, k);
        if (!seen && _mm256_movemask_epi8(all) != 0) {
            *ascii_prefix = (long)index;
            seen = 1;
        }
    }
    return index;
}
#endif
#endif
