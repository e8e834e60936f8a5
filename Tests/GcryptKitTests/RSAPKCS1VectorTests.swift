import GcryptKit
import Testing

/// RSASSA-PKCS1-v1_5 SHA-256 verification against Wycheproof.
///
/// Policy for "acceptable": the only such case is `MissingNull` (a DigestInfo without the
/// NULL parameter). sealdrop verifies by re-encoding the one DER form RFC 8017 gives, so it
/// rejects it; the test pins that choice.
@Suite struct RSAPKCS1VectorTests {
    @Test(arguments: [
        "rsa_signature_2048_sha256_test.json",
        "rsa_signature_3072_sha256_test.json",
        "rsa_signature_4096_sha256_test.json",
    ])
    func verify(file: String) throws {
        let vectors = try WycheproofFile<SignatureGroup>.load(file)
        var ran = 0
        for group in vectors.testGroups {
            #expect(group.sha == "SHA-256")
            let key = try group.publicKey.key()
            for test in group.tests {
                let valid = key.isValidPKCS1v15Signature(test.sig.bytes, for: SHA256.hash(data: test.msg.bytes))
                #expect(valid == (test.result == .valid), "\(file) tcId \(test.tcId) \(test.flags): \(test.comment)")
                ran += 1
            }
        }
        #expect(ran == vectors.numberOfTests)
    }
}
