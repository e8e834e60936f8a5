import CGcrypt

/// Owns a libgcrypt S-expression.
///
/// All C calls that read `raw` happen inside this class's methods, so the owner is alive
/// for the whole call (an owner released early freed the S-expression under libgcrypt).
final class SExpression: @unchecked Sendable {
    // Never mutated after init; libgcrypt only reads it.
    let raw: gcry_sexp_t

    /// One value for a `%b`, `%d`, `%m` or `%S` slot of `gcry_sexp_build_array`.
    enum Argument {
        case bytes([UInt8])
        case int(Int32)
        case mpi(MPI)
        case sexp(SExpression)
    }

    init(owning raw: gcry_sexp_t) {
        self.raw = raw
    }

    deinit {
        gcry_sexp_release(raw)
    }

    /// Builds an S-expression with `gcry_sexp_build_array`. Byte arguments are copied into
    /// scratch buffers that are zeroed afterwards, since they may be key material.
    convenience init(format: String, _ arguments: [Argument]) throws {
        Library.ensureInitialized()
        var slots: [UnsafeMutableRawPointer?] = []
        var cleanups: [() -> Void] = []
        defer { cleanups.forEach { $0() } }
        for argument in arguments {
            switch argument {
            case .bytes(let bytes):
                let length = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
                length.initialize(to: Int32(bytes.count))
                let data = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
                bytes.withUnsafeBytes { if let base = $0.baseAddress { data.copyMemory(from: base, byteCount: bytes.count) } }
                let dataSlot = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: 1)
                dataSlot.initialize(to: data)
                slots += [UnsafeMutableRawPointer(length), UnsafeMutableRawPointer(dataSlot)]
                cleanups.append {
                    sealdrop_explicit_bzero(data, bytes.count)
                    data.deallocate()
                    dataSlot.deallocate()
                    length.deallocate()
                }
            case .int(let value):
                let slot = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
                slot.initialize(to: value)
                slots.append(UnsafeMutableRawPointer(slot))
                cleanups.append { slot.deallocate() }
            case .mpi(let value):
                let slot = UnsafeMutablePointer<gcry_mpi_t?>.allocate(capacity: 1)
                slot.initialize(to: value.raw)
                slots.append(UnsafeMutableRawPointer(slot))
                cleanups.append { withExtendedLifetime(value) {}; slot.deallocate() }
            case .sexp(let expression):
                let slot = UnsafeMutablePointer<gcry_sexp_t?>.allocate(capacity: 1)
                slot.initialize(to: expression.raw)
                slots.append(UnsafeMutableRawPointer(slot))
                cleanups.append { withExtendedLifetime(expression) {}; slot.deallocate() }
            }
        }
        var result: gcry_sexp_t?
        let rc = slots.withUnsafeMutableBufferPointer { buffer in
            gcry_sexp_build_array(&result, nil, format, buffer.baseAddress)
        }
        try Library.check(rc, "gcry_sexp_build_array")
        guard let result else { throw CryptoError.invalidParameter("gcry_sexp_build_array returned nothing") }
        self.init(owning: result)
    }

    /// The data of the first element after `token` in the sub-list that starts with it,
    /// e.g. `bytes(after: "s")` on `(sig-val (rsa (s #...#)))`.
    func bytes(after token: String) -> [UInt8]? {
        guard let list = gcry_sexp_find_token(raw, token, 0) else { return nil }
        defer { gcry_sexp_release(list) }
        var length = 0
        guard let data = gcry_sexp_nth_data(list, 1, &length) else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }

    /// The MPI after `token`, as an owned `MPI`.
    func mpi(after token: String) -> MPI? {
        guard let list = gcry_sexp_find_token(raw, token, 0) else { return nil }
        defer { gcry_sexp_release(list) }
        guard let value = gcry_sexp_nth_mpi(list, 1, Int32(GCRYMPI_FMT_USG.rawValue)) else { return nil }
        return MPI(owning: value)
    }
}

/// Owns a libgcrypt multi-precision integer; only the arithmetic key import/export needs.
final class MPI: @unchecked Sendable {
    // Never mutated after init except through fresh results.
    let raw: gcry_mpi_t

    init(owning raw: gcry_mpi_t) {
        self.raw = raw
    }

    /// From big-endian unsigned bytes.
    convenience init(unsigned bytes: [UInt8]) throws {
        Library.ensureInitialized()
        var value: gcry_mpi_t?
        let rc = bytes.withUnsafeBytes { buffer in
            gcry_mpi_scan(&value, GCRYMPI_FMT_USG, buffer.baseAddress, buffer.count, nil)
        }
        try Library.check(rc, "gcry_mpi_scan")
        guard let value else { throw CryptoError.invalidParameter("gcry_mpi_scan returned nothing") }
        self.init(owning: value)
    }

    deinit {
        gcry_mpi_release(raw)
    }

    /// Big-endian unsigned bytes without leading zeros ([] for zero).
    var unsignedBytes: [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = gcry_mpi_aprint(GCRYMPI_FMT_USG, &buffer, &length, raw)
        precondition(rc == 0, "gcry_mpi_aprint failed: \(rc)")
        defer {
            if let buffer {
                sealdrop_explicit_bzero(buffer, length)
                gcry_free(buffer)
            }
        }
        let bytes = Array(UnsafeBufferPointer(start: buffer, count: length))
        return Array(bytes.drop(while: { $0 == 0 }))
    }

    func compare(_ other: MPI) -> Int32 {
        gcry_mpi_cmp(raw, other.raw)
    }

    /// self mod m.
    func mod(_ m: MPI) -> MPI {
        let r = gcry_mpi_new(0)!
        gcry_mpi_mod(r, raw, m.raw)
        return MPI(owning: r)
    }

    /// self * other.
    func times(_ other: MPI) -> MPI {
        let r = gcry_mpi_new(0)!
        gcry_mpi_mul(r, raw, other.raw)
        return MPI(owning: r)
    }

    /// self * other mod m.
    func times(_ other: MPI, mod m: MPI) -> MPI {
        let r = gcry_mpi_new(0)!
        gcry_mpi_mulm(r, raw, other.raw, m.raw)
        return MPI(owning: r)
    }

    /// self - 1.
    func minusOne() -> MPI {
        let r = gcry_mpi_new(0)!
        gcry_mpi_sub_ui(r, raw, 1)
        return MPI(owning: r)
    }

    /// self^-1 mod m, or nil when no inverse exists.
    func inverse(mod m: MPI) -> MPI? {
        let r = gcry_mpi_new(0)!
        guard gcry_mpi_invm(r, raw, m.raw) != 0 else {
            gcry_mpi_release(r)
            return nil
        }
        return MPI(owning: r)
    }
}
