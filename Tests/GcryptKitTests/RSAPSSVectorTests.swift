import GcryptKit
import Testing

/// RSASSA-PSS verification against Wycheproof (SHA-256, MGF1-SHA256, salt 32).
///
/// Policy: these files have no "acceptable" cases; "valid" must verify and "invalid" must
/// not. Groups of the misc file with other hashes or salt lengths are outside sealdrop's one
/// PSS suite: they are run and must all be rejected, since accepting a different parameter
/// set would be a downgrade.
@Suite struct RSAPSSVectorTests {
    @Test(arguments: [
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        "rsa_pss_3072_sha256_mgf1_32_test.json",
        "rsa_pss_4096_sha256_mgf1_32_test.json",
        "rsa_pss_2048_sha256_mgf1_32_params_test.json",
        "rsa_pss_3072_sha256_mgf1_32_params_test.json",
    ])
    func sha256Salt32(file: String) throws {
        let vectors = try WycheproofFile<SignatureGroup>.load(file)
        var ran = 0
        for group in vectors.testGroups {
            #expect(group.sha == "SHA-256" && group.mgfSha == "SHA-256" && group.sLen == 32)
            let key = try group.publicKey.key()
            for test in group.tests {
                let valid = key.isValidPSSSignature(test.sig.bytes, for: SHA256.hash(data: test.msg.bytes))
                #expect(valid == (test.result == .valid), "\(file) tcId \(test.tcId): \(test.comment)")
                ran += 1
            }
        }
        #expect(ran == vectors.numberOfTests)
    }

    @Test func miscFile() throws {
        let vectors = try WycheproofFile<SignatureGroup>.load("rsa_pss_misc_test.json")
        var ran = 0
        var inSuite = 0
        for group in vectors.testGroups {
            let ours = group.sha == "SHA-256" && group.mgfSha == "SHA-256" && group.sLen == 32
            let key = try group.publicKey.key()
            for test in group.tests {
                let valid = key.isValidPSSSignature(test.sig.bytes, for: SHA256.hash(data: test.msg.bytes))
                let expected = ours && test.result == .valid
                #expect(valid == expected, "misc sha=\(group.sha) mgf=\(group.mgfSha ?? "-") sLen=\(group.sLen ?? -1) tcId \(test.tcId)")
                ran += 1
                inSuite += ours ? 1 : 0
            }
        }
        #expect(ran == vectors.numberOfTests)
        #expect(inSuite > 0)
    }
}
