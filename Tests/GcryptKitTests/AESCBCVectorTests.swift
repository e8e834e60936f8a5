import GcryptKit
import Testing

/// AES-CBC-PKCS#7 against Wycheproof. sealdrop uses AES-256 only, so the 128- and 192-bit
/// groups are checked to be refused; the 256-bit group runs in full, encrypting the valid
/// cases and decrypting every case, one-shot and streamed byte by byte.
///
/// Policy: no "acceptable" cases exist here.
@Suite struct AESCBCVectorTests {
    @Test func vectors() throws {
        let vectors = try WycheproofFile<CipherGroup>.load("aes_cbc_pkcs5_test.json")
        var ran = 0
        for group in vectors.testGroups {
            for test in group.tests {
                let context = "tcId \(test.tcId) \(test.flags): \(test.comment)"
                let key = SecretBytes(test.key.bytes)
                ran += 1
                guard group.keySize == 256 else {
                    #expect(throws: CryptoError.self, "\(context): short key accepted") {
                        try AES.CBC.encrypt(test.msg.bytes, key: key, iv: test.iv.bytes)
                    }
                    continue
                }
                if test.result == .valid {
                    #expect(try AES.CBC.encrypt(test.msg.bytes, key: key, iv: test.iv.bytes) == test.ct.bytes, "\(context)")
                }
                let oneShot = Result { try AES.CBC.decrypt(test.ct.bytes, key: key, iv: test.iv.bytes) }
                let streamed = Result {
                    var decryptor = try AES.CBC.Decryptor(key: key, iv: test.iv.bytes)
                    var out = [UInt8]()
                    for byte in test.ct.bytes { out += decryptor.update([byte]) }
                    return try out + decryptor.finalize()
                }
                for (path, outcome) in [("one-shot", oneShot), ("streamed", streamed)] {
                    switch outcome {
                    case .success(let plaintext):
                        #expect(test.result == .valid, "\(context) \(path): accepted")
                        #expect(plaintext == test.msg.bytes, "\(context) \(path)")
                    case .failure(let error):
                        #expect(test.result == .invalid, "\(context) \(path): \(error)")
                        #expect(error as? CryptoError == .authenticationFailure, "\(context) \(path)")
                    }
                }
            }
        }
        #expect(ran == vectors.numberOfTests)
    }
}
