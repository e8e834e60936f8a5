import CGcrypt
import Foundation

extension RSA {
    enum SignaturePadding {
        case pss, pkcs1v15
    }

    /// `bytes` without leading zeros, left-padded with zeros to `length` (libgcrypt returns
    /// signatures and ciphertexts as integers, which drop leading zero bytes).
    static func leftPadded(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        let trimmed = bytes.drop(while: { $0 == 0 })
        precondition(trimmed.count <= length, "RSA output longer than the modulus")
        return [UInt8](repeating: 0, count: length - trimmed.count) + trimmed
    }

    static func digestData(_ digest: SHA256Digest, padding: SignaturePadding) throws -> SExpression {
        switch padding {
        case .pss:
            try SExpression(
                format: "(data (flags pss) (hash sha256 %b) (salt-length %d))",
                [.bytes(digest.bytes), .int(Int32(pssSaltByteCount))])
        case .pkcs1v15:
            try SExpression(format: "(data (flags pkcs1) (hash sha256 %b))", [.bytes(digest.bytes)])
        }
    }
}

/// Signatures found valid lately. The envelopes of a batch share one signature over their
/// Merkle root and one sender certificate, so a server or reader checks the same signature
/// for each of them: the check is remembered, by everything it depends on (key, digest,
/// padding, signature), so the answer is the same. Only successes are kept, at most
/// `capacity`; anything else is checked with libgcrypt every time.
enum VerifiedSignatures {
    struct Check: Hashable {
        let modulus: [UInt8]
        let exponent: [UInt8]
        let digest: [UInt8]
        let padding: RSA.SignaturePadding
        let signature: [UInt8]
    }

    static let capacity = 256
    private static let lock = NSLock()
    nonisolated(unsafe) private static var checks = Set<Check>()

    static func contains(_ check: Check) -> Bool { lock.withLock { checks.contains(check) } }

    static func insert(_ check: Check) {
        lock.withLock {
            if checks.count >= capacity { checks.removeAll(keepingCapacity: true) }
            checks.insert(check)
        }
    }
}

extension RSA.PublicKey {
    func verify(_ signature: [UInt8], digest: SHA256Digest, padding: RSA.SignaturePadding) -> Bool {
        let check = VerifiedSignatures.Check(modulus: modulus, exponent: exponent, digest: digest.bytes, padding: padding, signature: signature)
        if VerifiedSignatures.contains(check) { return true }
        guard verifyOnce(signature, digest: digest, padding: padding) else { return false }
        VerifiedSignatures.insert(check)
        return true
    }

    private func verifyOnce(_ signature: [UInt8], digest: SHA256Digest, padding: RSA.SignaturePadding) -> Bool {
        guard let data = try? RSA.digestData(digest, padding: padding),
              let sig = try? SExpression(format: "(sig-val (rsa (s %b)))", [.bytes(signature)])
        else { return false }
        return withExtendedLifetime((data, sig, key)) {
            gcry_pk_verify(sig.raw, data.raw, key.raw) == 0
        }
    }

    func encrypt(_ message: SecretBytes, label: [UInt8]) throws -> [UInt8] {
        let data = try message.withUnsafeBytes { bytes in
            label.isEmpty
                ? try SExpression(format: "(data (flags oaep) (hash-algo sha256) (value %b))", [.bytes(Array(bytes))])
                : try SExpression(
                    format: "(data (flags oaep) (hash-algo sha256) (label %b) (value %b))",
                    [.bytes(label), .bytes(Array(bytes))])
        }
        var result: gcry_sexp_t?
        try withExtendedLifetime((data, key)) {
            try Library.check(gcry_pk_encrypt(&result, data.raw, key.raw), "gcry_pk_encrypt")
        }
        guard let result else { throw CryptoError.invalidParameter("gcry_pk_encrypt returned nothing") }
        let encrypted = SExpression(owning: result)
        guard let a = encrypted.bytes(after: "a") else {
            throw CryptoError.invalidParameter("gcry_pk_encrypt result has no ciphertext")
        }
        return RSA.leftPadded(a, to: byteCount)
    }
}

extension RSA.PrivateKey {
    static func generateKey(bits: Int) throws -> RSA.PrivateKey {
        try RSA.checkModulusSize(bits)
        let parameters = try SExpression(format: "(genkey (rsa (nbits %d)))", [.int(Int32(bits))])
        var result: gcry_sexp_t?
        try withExtendedLifetime(parameters) {
            try Library.check(gcry_pk_genkey(&result, parameters.raw), "gcry_pk_genkey")
        }
        guard let result else { throw CryptoError.invalidParameter("gcry_pk_genkey returned nothing") }
        let pair = SExpression(owning: result)
        guard let privatePart = gcry_sexp_find_token(pair.raw, "private-key", 0) else {
            throw CryptoError.invalidKey("gcry_pk_genkey returned no private key")
        }
        return try fromGcrypt(SExpression(owning: privatePart))
    }

    /// Wraps a libgcrypt `(private-key (rsa ...))`, reading the public half out of it.
    private static func fromGcrypt(_ key: SExpression) throws -> RSA.PrivateKey {
        guard let n = key.mpi(after: "n"), let e = key.mpi(after: "e") else {
            throw CryptoError.invalidKey("private key lacks n or e")
        }
        let publicKey = try RSA.PublicKey(modulus: n.unsignedBytes, exponent: e.unsignedBytes)
        return RSA.PrivateKey(publicKey: publicKey, key: key)
    }

    static func importKey(_ c: Components) throws -> RSA.PrivateKey {
        // Refuse small moduli before doing any arithmetic.
        _ = try RSA.PublicKey(modulus: c.modulus, exponent: c.publicExponent)
        let n = try MPI(unsigned: c.modulus)
        let e = try MPI(unsigned: c.publicExponent)
        let d = try MPI(unsigned: c.privateExponent)
        let prime1 = try MPI(unsigned: c.prime1)
        let prime2 = try MPI(unsigned: c.prime2)
        // libgcrypt wants p < q and u = p^-1 mod q; PKCS#1 files may order the primes either way.
        let (p, q) = prime1.compare(prime2) < 0 ? (prime1, prime2) : (prime2, prime1)
        // Each prime must be of a real RSA key's size before any arithmetic modulo p - 1 or
        // q - 1: p = 1 would make libgcrypt divide by zero.
        let three = try MPI(unsigned: [3])
        guard p.compare(three) >= 0, q.compare(three) >= 0,
              c.prime1.count >= c.modulus.count / 4, c.prime2.count >= c.modulus.count / 4
        else { throw CryptoError.invalidKey("RSA primes are not of the modulus's size") }
        guard let u = p.inverse(mod: q) else { throw CryptoError.invalidKey("RSA primes are not coprime") }
        let key = try SExpression(
            format: "(private-key (rsa (n %m) (e %m) (d %m) (p %m) (q %m) (u %m)))",
            [.mpi(n), .mpi(e), .mpi(d), .mpi(p), .mpi(q), .mpi(u)])
        // Check the algebra ourselves: gcry_pk_testkey accepts a damaged private exponent.
        let one = try MPI(unsigned: [1])
        let consistent = n.compare(p.times(q)) == 0
            && d.times(e, mod: p.minusOne()).compare(one) == 0
            && d.times(e, mod: q.minusOne()).compare(one) == 0
            && withExtendedLifetime(key) { gcry_pk_testkey(key.raw) == 0 }
        guard consistent else { throw CryptoError.invalidKey("RSA private key components are inconsistent") }
        return try fromGcrypt(key)
    }

    func exportComponents() -> Components {
        guard let n = key.mpi(after: "n"), let e = key.mpi(after: "e"), let d = key.mpi(after: "d"),
              let p = key.mpi(after: "p"), let q = key.mpi(after: "q"), let u = key.mpi(after: "u")
        else { fatalError("libgcrypt private key lacks a component") }
        // PKCS#1 names the larger prime first: prime1 = q, prime2 = p, so that
        // coefficient = prime2^-1 mod prime1 is libgcrypt's u.
        return Components(
            modulus: n.unsignedBytes, publicExponent: e.unsignedBytes, privateExponent: d.unsignedBytes,
            prime1: q.unsignedBytes, prime2: p.unsignedBytes,
            exponent1: d.mod(q.minusOne()).unsignedBytes, exponent2: d.mod(p.minusOne()).unsignedBytes,
            coefficient: u.unsignedBytes)
    }

    func sign(digest: SHA256Digest) throws -> [UInt8] {
        let data = try RSA.digestData(digest, padding: .pss)
        var result: gcry_sexp_t?
        try withExtendedLifetime((data, key)) {
            try Library.check(gcry_pk_sign(&result, data.raw, key.raw), "gcry_pk_sign")
        }
        guard let result else { throw CryptoError.invalidParameter("gcry_pk_sign returned nothing") }
        guard let s = SExpression(owning: result).bytes(after: "s") else {
            throw CryptoError.invalidParameter("gcry_pk_sign result has no signature")
        }
        return RSA.leftPadded(s, to: publicKey.byteCount)
    }

    /// The raw RSA private-key operation (libgcrypt blinds it), then our own OAEP decoding.
    func decrypt(_ ciphertext: [UInt8], label: [UInt8]) throws -> SecretBytes {
        let encrypted = try SExpression(format: "(enc-val (flags raw) (rsa (a %b)))", [.bytes(ciphertext)])
        var result: gcry_sexp_t?
        let rc = withExtendedLifetime((encrypted, key)) { gcry_pk_decrypt(&result, encrypted.raw, key.raw) }
        guard rc == 0, let result else { throw CryptoError.authenticationFailure }
        guard var value = SExpression(owning: result).bytes(after: "value") else {
            throw CryptoError.authenticationFailure
        }
        var encoded = RSA.leftPadded(value, to: publicKey.byteCount)
        defer {
            Memory.zero(&value)
            Memory.zero(&encoded)
        }
        return try RSA.oaepDecode(encoded: encoded, label: label)
    }
}
