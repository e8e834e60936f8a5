import CGcrypt
import Foundation

/// scrypt (RFC 7914 §6): PBKDF2-HMAC-SHA256 on libgcrypt spreads the passphrase over p
/// lanes, ROMix (§5) mixes each lane through a table of N blocks, and PBKDF2 gathers them.
/// libgcrypt's own (`gcry_kdf_derive`) copies every 64-byte block twice per Salsa20/8 call
/// and byte-swaps each word on the way in and out; this ROMix keeps the Salsa20 state in
/// registers, fuses the XOR with the table entry into the mix and writes each block once, in
/// host order: the key file's 0.16 s of one core (four lanes of N = 2^14, r = 8) became
/// 0.12 s. It is checked against libgcrypt's scrypt bit for bit in the tests, for every
/// parameter shape, so a key file means the same to both, and to openssl.
///
/// The lanes are mixed on as many threads as there are cores (a power of two, at most p), in
/// the memory of one table of 128 * r * N bytes shared out between them: two whole 16 MiB
/// tables took a command's peak resident memory over 64 MiB. On two cores a key file unlocks
/// in 0.08-0.10 s instead of 0.13 (and 0.15-0.16 s of CPU instead of 0.12-0.13, the halved
/// tables' price). Each table is wiped before it is freed (libgcrypt's is not), as is
/// everything else derived from the passphrase.
enum Scrypt {
    /// As many threads as there are cores (or `cores`, if fewer), rounded down to a power of
    /// two, at most one per lane and at most N (the table's share of each is N / threads blocks).
    static func threads(lanes: Int, cost: Int, cores: Int?) -> Int {
        let most = min(lanes, cost, ProcessInfo.processInfo.activeProcessorCount, cores ?? .max)
        return most < 1 ? 1 : 1 << (Int.bitWidth - 1 - most.leadingZeroBitCount)
    }

    /// `threads` mix that many lanes at once (a power of two, at most p), each thread in a
    /// table of N / threads blocks, so the memory is the same whatever the count (see LaneMixer).
    static func derive(
        password: SecretBytes, salt: [UInt8], cost: Int, blockSize: Int, parallelization: Int, outputByteCount: Int,
        threads: Int = 1
    ) throws -> SecretBytes {
        precondition(threads > 0 && threads & (threads - 1) == 0 && threads <= parallelization && threads <= cost)
        let laneBytes = 128 * blockSize
        var lanes = try KDF.pbkdf2SHA256(
            password: password, salt: salt, iterations: 1, outputByteCount: parallelization * laneBytes).bytes
        defer { Memory.zero(&lanes) }
        lanes.withUnsafeMutableBytes { buffer in
            let base = Lanes(base: buffer.baseAddress!)
            // Thread t mixes lanes t, t + threads, ...; the caller's thread is the first.
            let mixLanes: @Sendable (Int) -> Void = { first in
                let mixer = LaneMixer(blockSize: blockSize, cost: cost, stride: threads)
                defer { mixer.wipe() }
                for lane in stride(from: first, to: parallelization, by: threads) { mixer.mix(base.base + lane * laneBytes) }
            }
            let helpers = (1..<threads).map { first in HelperThread { mixLanes(first) } }
            mixLanes(0)
            for helper in helpers { helper.join() }
        }
        return try KDF.pbkdf2SHA256(password: password, salt: lanes, iterations: 1, outputByteCount: outputByteCount)
    }
}

/// The lanes' bytes, which each thread mixes a share of: no two touch the same lane, and the
/// caller reads them only once every thread has ended.
private struct Lanes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
}

/// A thread that runs `body` from the moment it is made; `join()` waits for it to end.
private final class HelperThread: Sendable {
    private let finished = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        Thread { [finished] in
            body()
            finished.signal()
        }.start()
    }

    func join() { finished.wait() }
}

/// ROMix (RFC 7914 §5) for one lane at a time, with its table and scratch. Words are held in
/// host order (converted from and to the lane's little-endian bytes at each end).
///
/// The table keeps every `stride`-th V_i (a power of two dividing N): V_j is V_{j - j mod
/// stride} mixed j mod stride times more, made when the second loop asks for it. With a
/// stride of 2, half the table costs a quarter more work; two threads then mix two lanes at
/// once in the memory one full table takes.
private final class LaneMixer {
    private let r: Int
    private let n: Int
    /// log2 of the stride.
    private let shift: Int
    /// 32 * r words: a block B of 2r 64-byte Salsa20 blocks.
    private let blockWords: Int
    /// V_0, V_stride, ... V_{N - stride}, then the first loop's result X as V_N.
    private let table: UnsafeMutablePointer<UInt32>
    /// Two blocks for the second loop's X, alternating, and two for V_js remade, alternating.
    private let scratch: UnsafeMutablePointer<UInt32>

    init(blockSize: Int, cost: Int, stride: Int) {
        (r, n, blockWords, shift) = (blockSize, cost, 32 * blockSize, stride.trailingZeroBitCount)
        table = .allocate(capacity: (cost / stride + 1) * blockWords)
        scratch = .allocate(capacity: 4 * blockWords)
    }

    func wipe() {
        sealdrop_explicit_bzero(table, (n >> shift + 1) * blockWords * MemoryLayout<UInt32>.size)
        sealdrop_explicit_bzero(scratch, 4 * blockWords * MemoryLayout<UInt32>.size)
        table.deallocate()
        scratch.deallocate()
    }

    func mix(_ lane: UnsafeMutableRawPointer) {
        for k in 0..<blockWords { table[k] = UInt32(littleEndian: lane.load(fromByteOffset: 4 * k, as: UInt32.self)) }
        let remade = scratch + 2 * blockWords
        // for i = 0 to N - 1: V_i = X; X = BlockMix(X). The V_is the table skips are made in
        // the remade blocks.
        let skipped = 1 << shift - 1
        var x = UnsafePointer(table)
        for i in 1...n {
            let into = i & skipped == 0 ? table + (i >> shift) * blockWords : alternate(x, remade)
            blockMix(x, xor: nil, into: into)
            x = UnsafePointer(into)
        }
        // for i = 0 to N - 1: j = Integerify(X) mod N; X = BlockMix(X xor V_j). N is a power
        // of two at most 2^32, so j is the low bits of the last 64-byte block's first word.
        var (next, spare) = (scratch, scratch + blockWords)
        let mask = UInt32(truncatingIfNeeded: n - 1)
        for _ in 0..<n {
            let j = Int(x[(2 * r - 1) * 16] & mask)
            var v = UnsafePointer(table + (j >> shift) * blockWords)
            for _ in 0..<(j & skipped) {
                let into = alternate(v, remade)
                blockMix(v, xor: nil, into: into)
                v = UnsafePointer(into)
            }
            blockMix(x, xor: v, into: next)
            x = UnsafePointer(next)
            swap(&next, &spare)
        }
        for k in 0..<blockWords { lane.storeBytes(of: x[k].littleEndian, toByteOffset: 4 * k, as: UInt32.self) }
    }

    /// Of the two blocks at `pair`, the one `block` is not.
    @inline(__always)
    private func alternate(_ block: UnsafePointer<UInt32>, _ pair: UnsafeMutablePointer<UInt32>) -> UnsafeMutablePointer<UInt32> {
        block == UnsafePointer(pair) ? pair + blockWords : pair
    }

    /// BlockMix_{Salsa20/8, r} (RFC 7914 §4) of `input` (xor `other`, fused), into `out`:
    /// Y_i = Salsa(Y_{i-1} xor B_i), even Ys first, then odd.
    @inline(__always)
    private func blockMix(_ input: UnsafePointer<UInt32>, xor other: UnsafePointer<UInt32>?, into out: UnsafeMutablePointer<UInt32>) {
        let last = (2 * r - 1) * 16
        var x = SalsaState(input + last, other.map { $0 + last })
        for i in 0..<(2 * r) {
            x.xor(input + i * 16, other.map { $0 + i * 16 })
            x.salsa20_8()
            x.store(out + ((i & 1) * r + i / 2) * 16)
        }
    }
}

/// The 16 words of a Salsa20 state, in registers.
private struct SalsaState {
    var x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15: UInt32

    @inline(__always)
    init(_ a: UnsafePointer<UInt32>, _ b: UnsafePointer<UInt32>?) {
        (x0, x1, x2, x3, x4, x5, x6, x7) = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
        (x8, x9, x10, x11, x12, x13, x14, x15) = (a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15])
        if let b { xorOnly(b) }
    }

    @inline(__always)
    mutating func xor(_ a: UnsafePointer<UInt32>, _ b: UnsafePointer<UInt32>?) {
        xorOnly(a)
        if let b { xorOnly(b) }
    }

    @inline(__always)
    private mutating func xorOnly(_ a: UnsafePointer<UInt32>) {
        x0 ^= a[0]; x1 ^= a[1]; x2 ^= a[2]; x3 ^= a[3]; x4 ^= a[4]; x5 ^= a[5]; x6 ^= a[6]; x7 ^= a[7]
        x8 ^= a[8]; x9 ^= a[9]; x10 ^= a[10]; x11 ^= a[11]; x12 ^= a[12]; x13 ^= a[13]; x14 ^= a[14]; x15 ^= a[15]
    }

    @inline(__always)
    func store(_ out: UnsafeMutablePointer<UInt32>) {
        (out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]) = (x0, x1, x2, x3, x4, x5, x6, x7)
        (out[8], out[9], out[10], out[11], out[12], out[13], out[14], out[15]) = (x8, x9, x10, x11, x12, x13, x14, x15)
    }

    @inline(__always)
    private static func rotl(_ v: UInt32, _ n: UInt32) -> UInt32 { (v &<< n) | (v &>> (32 - n)) }

    /// The Salsa20/8 core (RFC 7914 §3): four double rounds, then the input added.
    @inline(__always)
    mutating func salsa20_8() {
        let input = self
        for _ in 0..<4 {
            // Columns.
            x4 ^= Self.rotl(x0 &+ x12, 7); x8 ^= Self.rotl(x4 &+ x0, 9)
            x12 ^= Self.rotl(x8 &+ x4, 13); x0 ^= Self.rotl(x12 &+ x8, 18)
            x9 ^= Self.rotl(x5 &+ x1, 7); x13 ^= Self.rotl(x9 &+ x5, 9)
            x1 ^= Self.rotl(x13 &+ x9, 13); x5 ^= Self.rotl(x1 &+ x13, 18)
            x14 ^= Self.rotl(x10 &+ x6, 7); x2 ^= Self.rotl(x14 &+ x10, 9)
            x6 ^= Self.rotl(x2 &+ x14, 13); x10 ^= Self.rotl(x6 &+ x2, 18)
            x3 ^= Self.rotl(x15 &+ x11, 7); x7 ^= Self.rotl(x3 &+ x15, 9)
            x11 ^= Self.rotl(x7 &+ x3, 13); x15 ^= Self.rotl(x11 &+ x7, 18)
            // Rows.
            x1 ^= Self.rotl(x0 &+ x3, 7); x2 ^= Self.rotl(x1 &+ x0, 9)
            x3 ^= Self.rotl(x2 &+ x1, 13); x0 ^= Self.rotl(x3 &+ x2, 18)
            x6 ^= Self.rotl(x5 &+ x4, 7); x7 ^= Self.rotl(x6 &+ x5, 9)
            x4 ^= Self.rotl(x7 &+ x6, 13); x5 ^= Self.rotl(x4 &+ x7, 18)
            x11 ^= Self.rotl(x10 &+ x9, 7); x8 ^= Self.rotl(x11 &+ x10, 9)
            x9 ^= Self.rotl(x8 &+ x11, 13); x10 ^= Self.rotl(x9 &+ x8, 18)
            x12 ^= Self.rotl(x15 &+ x14, 7); x13 ^= Self.rotl(x12 &+ x15, 9)
            x14 ^= Self.rotl(x13 &+ x12, 13); x15 ^= Self.rotl(x14 &+ x13, 18)
        }
        x0 &+= input.x0; x1 &+= input.x1; x2 &+= input.x2; x3 &+= input.x3
        x4 &+= input.x4; x5 &+= input.x5; x6 &+= input.x6; x7 &+= input.x7
        x8 &+= input.x8; x9 &+= input.x9; x10 &+= input.x10; x11 &+= input.x11
        x12 &+= input.x12; x13 &+= input.x13; x14 &+= input.x14; x15 &+= input.x15
    }
}
