import GcryptKit
import Testing

/// RSAES-OAEP (SHA-256, MGF1-SHA256) decryption against Wycheproof.
///
/// Policy: no "acceptable" cases exist here. Every invalid case, padding or ciphertext,
/// must fail with the same `authenticationFailure` (no Manger oracle).
@Suite struct RSAOAEPVectorTests {
    @Test(arguments: [
        "rsa_oaep_2048_sha256_mgf1sha256_test.json",
        "rsa_oaep_3072_sha256_mgf1sha256_test.json",
        "rsa_oaep_4096_sha256_mgf1sha256_test.json",
    ])
    func decrypt(file: String) throws {
        let vectors = try WycheproofFile<OAEPGroup>.load(file)
        var ran = 0
        for group in vectors.testGroups {
            let key = try group.privateKey.key()
            for test in group.tests {
                let context = "\(file) tcId \(test.tcId) \(test.flags): \(test.comment)"
                do {
                    let plaintext = try key.decryptOAEP(test.ct.bytes, label: test.label.bytes)
                    #expect(test.result == .valid, "\(context): accepted")
                    #expect(plaintext.bytes == test.msg.bytes, "\(context): wrong plaintext")
                } catch {
                    #expect(test.result == .invalid, "\(context): rejected with \(error)")
                    #expect(error as? CryptoError == .authenticationFailure, "\(context): \(error)")
                }
                ran += 1
            }
        }
        #expect(ran == vectors.numberOfTests)
    }
}
