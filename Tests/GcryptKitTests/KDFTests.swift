import CGcrypt
import Foundation
@testable import GcryptKit
import Testing

@Suite struct KDFTests {
    /// RFC 7914 section 12, third vector (N = 1024, r = 8, p = 16).
    @Test func scryptKnownAnswer() throws {
        let key = try KDF.scrypt(
            password: SecretBytes(Array("password".utf8)), salt: Array("NaCl".utf8),
            parameters: .init(cost: 1024, parallelization: 16), outputByteCount: 64)
        #expect(key.bytes.hexString == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    /// RFC 7914 section 12, fourth vector (N = 16384, r = 8, p = 1: one lane of the key file's).
    @Test func scryptKnownAnswerOneLane() throws {
        let key = try KDF.scrypt(
            password: SecretBytes(Array("pleaseletmein".utf8)), salt: Array("SodiumChloride".utf8),
            parameters: .init(cost: 1 << 14, parallelization: 1), outputByteCount: 64)
        #expect(key.bytes.hexString == "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887")
    }

    /// The same output as libgcrypt's own scrypt (`gcry_kdf_derive`, lanes one after the
    /// other) for N and p of every shape, with r = 8 (what key files carry) and r = 1
    /// (libgcrypt's algorithm 41, its hook for the RFC's r = 1 vectors); and for the key
    /// file's own parameters; on one thread in the whole table, and on 2, 4 and 8 threads, each
    /// in that share of it.
    @Test func scryptMatchesLibgcrypt() throws {
        let password = SecretBytes(Random.bytes(count: 19))
        let salt = Random.bytes(count: 16)
        var shapes = [(cost: 2, lanes: 1), (2, 2)]
        for cost in [4, 16, 256, 1024] { for lanes in [1, 2, 3, 5, 16] { shapes.append((cost, lanes)) } }
        for blockSize in [8, 1] {
            for (cost, lanes) in shapes {
                let theirs = try libgcryptScrypt(password, salt: salt, cost: cost, blockSize: blockSize, lanes: lanes)
                for threads in [1, 2, 4, 8] where threads <= lanes && threads <= cost {
                    let ours = try Scrypt.derive(password: password, salt: salt, cost: cost, blockSize: blockSize,
                                                 parallelization: lanes, outputByteCount: 32, threads: threads)
                    #expect(ours.bytes == theirs, "N \(cost), r \(blockSize), p \(lanes), \(threads) threads")
                }
            }
        }
        let keyFile = try KDF.scrypt(password: password, salt: salt, parameters: .keyFile, outputByteCount: 32)
        #expect(keyFile.bytes == (try libgcryptScrypt(password, salt: salt, cost: 1 << 14, blockSize: 8, lanes: 4)))
    }

    /// The threads scrypt runs on: a power of two, the largest within the lanes, N, the cores
    /// asked for and the machine's.
    @Test func scryptThreadCount() {
        let machine = ProcessInfo.processInfo.activeProcessorCount
        for lanes in 1...16 {
            for cost in [2, 4, 1024] {
                for cores in [nil, 1, 2, 3, 8] {
                    let threads = Scrypt.threads(lanes: lanes, cost: cost, cores: cores)
                    let most = min(lanes, cost, machine, cores ?? .max)
                    #expect(threads.nonzeroBitCount == 1 && threads <= most && 2 * threads > most,
                            "p \(lanes), N \(cost), cores \(String(describing: cores)): \(threads)")
                }
            }
        }
    }

    private func libgcryptScrypt(_ password: SecretBytes, salt: [UInt8], cost: Int, blockSize: Int, lanes: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let algorithm = blockSize == 8 ? Int32(GCRY_KDF_SCRYPT.rawValue) : 41
        let rc = password.withUnsafeBytes { pass in
            gcry_kdf_derive(pass.baseAddress, pass.count, algorithm, Int32(cost), salt, salt.count, UInt(lanes), out.count, &out)
        }
        #expect(rc == 0)
        return out
    }

    /// RFC 7914 section 11, first vector (PBKDF2-HMAC-SHA256, c = 1).
    @Test func pbkdf2KnownAnswer() throws {
        let key = try KDF.pbkdf2SHA256(
            password: SecretBytes(Array("passwd".utf8)), salt: Array("salt".utf8), iterations: 1, outputByteCount: 64)
        #expect(key.bytes.hexString == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    /// RFC 5869 test case 1.
    @Test func hkdfKnownAnswer() {
        let okm = KDF.hkdfSHA256(
            inputKey: SecretBytes([UInt8](repeating: 0x0B, count: 22)),
            salt: [UInt8](hexString: "000102030405060708090a0b0c")!,
            info: [UInt8](hexString: "f0f1f2f3f4f5f6f7f8f9")!, outputByteCount: 42)
        #expect(okm.bytes.hexString == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func hostileParametersAreRefused() {
        let password = SecretBytes(Array("x".utf8))
        #expect(throws: CryptoError.self) {
            try KDF.scrypt(password: password, salt: [1], parameters: .init(cost: 1 << 21, parallelization: 1), outputByteCount: 32)
        }
        #expect(throws: CryptoError.self) {
            try KDF.scrypt(password: password, salt: [1], parameters: .init(cost: 1000, parallelization: 1), outputByteCount: 32)
        }
        #expect(throws: CryptoError.self) {
            try KDF.pbkdf2SHA256(password: password, salt: [1], iterations: 0, outputByteCount: 32)
        }
    }
}
