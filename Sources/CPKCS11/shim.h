// The PKCS#11 (Cryptoki 2.40) interface, from Debian's libp11-kit-dev. Nothing is linked:
// SealToken loads the module an operator names with dlopen and calls it through its
// function list.
#include <p11-kit-1/p11-kit/pkcs11.h>
