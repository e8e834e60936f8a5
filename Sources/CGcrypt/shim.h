#ifndef SEALDROP_CGCRYPT_SHIM_H
#define SEALDROP_CGCRYPT_SHIM_H

#include <gcrypt.h>
#include <string.h>

/* gcry_control is C-variadic; Swift cannot call it. Each use gets a fixed-arity wrapper. */

static inline const char *sealdrop_gcry_check_version(const char *required) {
    return gcry_check_version(required);
}

static inline gcry_error_t sealdrop_gcry_disable_secmem(void) {
    return gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
}

static inline gcry_error_t sealdrop_gcry_initialization_finished(void) {
    return gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

static inline int sealdrop_gcry_is_initialized(void) {
    return gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P) != 0;
}

/* Zeroes secrets in a way the optimiser may not remove. */
static inline void sealdrop_explicit_bzero(void *buffer, size_t length) {
    explicit_bzero(buffer, length);
}

#endif
