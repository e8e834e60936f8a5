import CGcrypt
import Foundation

/// scrypt (RFC 7914 §6): PBKDF2-HMAC-SHA256 on libgcrypt spreads the passphrase over p
/// lanes, ROMix (§5) mixes each lane through a table of N blocks, and PBKDF2 gathers them.
/// libgcrypt's own (`gcry_kdf_derive`) copies every 64-byte block twice per Salsa20/8 call
/// and byte-swaps each word on the way in and out; this ROMix keeps the Salsa20 state in
/// vector registers, fuses the XOR with the table entry into the mix and writes each block
/// once, in host order: the key file's 0.16 s of one core (four lanes of N = 2^14, r = 8)
/// became 0.12 s. It is checked against libgcrypt's scrypt bit for bit in the tests, for every
/// parameter shape, so a key file means the same to both, and to openssl.
///
/// The lanes are mixed on as many threads as there are cores (a power of two, at most p), in
/// the memory of one table of 128 * r * N bytes shared out between them: two whole 16 MiB
/// tables took a command's peak resident memory over 64 MiB. On two cores a key file unlocks
/// in 0.07 s instead of 0.12 (and 0.13-0.14 s of CPU, the halved tables' price). Each table
/// is wiped before it is freed (libgcrypt's is not), as is everything else derived from the
/// passphrase.
enum Scrypt {
    /// As many threads as there are cores (or `cores`, if fewer), rounded down to a power of
    /// two, at most one per lane and at most N (the table's share of each is N / threads blocks).
    static func threads(lanes: Int, cost: Int, cores: Int?) -> Int {
        let most = min(lanes, cost, Cores.available, cores ?? .max)
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
            // A thread the system refuses leaves its lanes to this one.
            let finished = DispatchSemaphore(value: 0)
            let refused = (1..<threads).filter { first in
                !Threads.start(named: "scrypt-\(first)") {
                    mixLanes(first)
                    finished.signal()
                }
            }
            mixLanes(0)
            for first in refused { mixLanes(first) }
            for _ in 0..<(threads - 1 - refused.count) { finished.wait() }
        }
        return try KDF.pbkdf2SHA256(password: password, salt: lanes, iterations: 1, outputByteCount: outputByteCount)
    }
}

/// The lanes' bytes, which each thread mixes a share of: no two touch the same lane, and the
/// caller reads them only once every thread has ended.
private struct Lanes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
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
        for k in 0..<blockWords {
            table[k] = UInt32(littleEndian: lane.load(fromByteOffset: 4 * SalsaState.word(at: k), as: UInt32.self))
        }
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
        for k in 0..<blockWords { lane.storeBytes(of: x[k].littleEndian, toByteOffset: 4 * SalsaState.word(at: k), as: UInt32.self) }
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

/// The 16 words of a Salsa20 state, in four vector registers, each holding a diagonal of
/// the 4 x 4 matrix: (x0, x5, x10, x15), (x4, x9, x14, x3), (x8, x13, x2, x7), (x12, x1, x6,
/// x11). A column round is then four vector steps, and a row round the same after rotating
/// three of the registers' lanes (as scrypt's reference SSE2 code does). Every 64-byte block
/// of the table is held in this order, so position 0 is still x0, which Integerify reads.
private struct SalsaState {
    var a, b, c, d: SIMD4<UInt32>

    /// The word of a block at position `k` of the diagonal order: x_{5k mod 16}.
    static func word(at k: Int) -> Int { k & ~15 | (5 * k) & 15 }

    @inline(__always)
    private static func load(_ p: UnsafePointer<UInt32>, _ i: Int) -> SIMD4<UInt32> {
        UnsafeRawPointer(p + 4 * i).loadUnaligned(as: SIMD4<UInt32>.self)
    }

    @inline(__always)
    init(_ p: UnsafePointer<UInt32>, _ q: UnsafePointer<UInt32>?) {
        (a, b, c, d) = (Self.load(p, 0), Self.load(p, 1), Self.load(p, 2), Self.load(p, 3))
        if let q { xorOnly(q) }
    }

    @inline(__always)
    mutating func xor(_ p: UnsafePointer<UInt32>, _ q: UnsafePointer<UInt32>?) {
        xorOnly(p)
        if let q { xorOnly(q) }
    }

    @inline(__always)
    private mutating func xorOnly(_ p: UnsafePointer<UInt32>) {
        a ^= Self.load(p, 0); b ^= Self.load(p, 1); c ^= Self.load(p, 2); d ^= Self.load(p, 3)
    }

    @inline(__always)
    func store(_ out: UnsafeMutablePointer<UInt32>) {
        let raw = UnsafeMutableRawPointer(out)
        raw.storeBytes(of: a, as: SIMD4<UInt32>.self)
        raw.storeBytes(of: b, toByteOffset: 16, as: SIMD4<UInt32>.self)
        raw.storeBytes(of: c, toByteOffset: 32, as: SIMD4<UInt32>.self)
        raw.storeBytes(of: d, toByteOffset: 48, as: SIMD4<UInt32>.self)
    }

    /// `x ^= v <<< n`, as two XORs of shifts: written as a rotate, Swift 6.3 makes four scalar
    /// rotates of it on x86-64, three times slower than scalar code.
    @inline(__always)
    private static func xorRotated(_ x: inout SIMD4<UInt32>, _ v: SIMD4<UInt32>, _ n: UInt32) {
        x ^= v &<< n
        x ^= v &>> (32 - n)
    }

    /// The Salsa20/8 core (RFC 7914 §3): four double rounds, then the input added.
    @inline(__always)
    mutating func salsa20_8() {
        let input = self
        for _ in 0..<4 {
            // Columns: x4 ^= (x0 + x12) <<< 7, and so on, four columns at once.
            Self.xorRotated(&b, a &+ d, 7); Self.xorRotated(&c, b &+ a, 9)
            Self.xorRotated(&d, c &+ b, 13); Self.xorRotated(&a, d &+ c, 18)
            // Rows: the same steps once b, c and d are rotated to line up with a's row.
            b = SIMD4(b[3], b[0], b[1], b[2]); c = SIMD4(c[2], c[3], c[0], c[1]); d = SIMD4(d[1], d[2], d[3], d[0])
            Self.xorRotated(&d, a &+ b, 7); Self.xorRotated(&c, d &+ a, 9)
            Self.xorRotated(&b, c &+ d, 13); Self.xorRotated(&a, b &+ c, 18)
            b = SIMD4(b[1], b[2], b[3], b[0]); c = SIMD4(c[2], c[3], c[0], c[1]); d = SIMD4(d[3], d[0], d[1], d[2])
        }
        a &+= input.a; b &+= input.b; c &+= input.c; d &+= input.d
    }
}
