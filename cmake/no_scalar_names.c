/* Stand-in for the Swift runtime's _swift_stdlib_getScalarName in libswiftws.so's static runtime
 * (cmake/clear_retain.py renames the standard library's one reference to it to this function).
 *
 * Why: the real function is the only user of the Unicode scalar-name tables (552 KB of the
 * runtime's read-only data: _swift_stdlib_names, _names_scalars, _words, _word_indices,
 * _names_scalar_sets), which serve Unicode.Scalar.Properties.name and nothing else. The standard
 * library's always-linked code references it, so --gc-sections cannot drop the tables; libswiftws
 * never asks a scalar for its name. Returning 0 is the function's own answer for "no name":
 * Unicode.Scalar.Properties.name then returns nil (names the standard library computes itself,
 * CJK and Hangul syllables, are unaffected). Nothing outside libswiftws.so can call it: the
 * runtime's symbols are local to the library (version script). */
#include <stdint.h>

__attribute__((visibility("hidden")))
intptr_t swiftws_stdlib_noScalarName(uint32_t scalar, uint8_t *buffer, intptr_t capacity)
{
    (void)scalar;
    (void)buffer;
    (void)capacity;
    return 0;
}
