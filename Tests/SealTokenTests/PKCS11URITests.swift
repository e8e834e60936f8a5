import Testing
@testable import SealToken

/// RFC 7512 URIs: what sealdrop writes reads back the same, what other tools write reads,
/// and what sealdrop cannot honour is refused rather than half-used.
@Suite struct PKCS11URITests {
    @Test func whatSealdropWritesReadsBack() throws {
        let uri = PKCS11URI(token: "my token;1", object: "ca", id: [0x00, 0x3A, 0xFF], type: "private",
                            modulePath: "/usr/lib/softhsm/libsofthsm2.so")
        #expect(uri.description == "pkcs11:token=my%20token%3b1;object=ca;id=%00%3a%ff;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so")
        #expect(try PKCS11URI(parsing: uri.description) == uri)
    }

    @Test func urisFromOtherToolsRead() throws {
        // As p11tool prints them: library and slot attributes, upper-case escapes.
        let uri = try PKCS11URI(parsing:
            "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1a2b;token=sealdrop;id=%0A%FF;object=ca;type=private;library-version=2.6")
        #expect(uri.token == "sealdrop" && uri.object == "ca" && uri.id == [0x0A, 0xFF] && uri.serial == "1a2b" && uri.model == "SoftHSM v2")
        #expect(try PKCS11URI(parsing: "PKCS11:token=t?module-path=%2Fx%2Fy.so&x-vendor=1").modulePath == "/x/y.so")
    }

    @Test(arguments: [
        "pkcs:token=x", "token=x", "pkcs11:token=x;token=y", "pkcs11:token=%4", "pkcs11:token=%zz", "pkcs11:tokenx",
        "pkcs11:color=red", "pkcs11:type=secret", "pkcs11:token=x?pin-value=1234", "pkcs11:token=x?pin-source=file:/p",
        "pkcs11:token=x?module=y", "pkcs11:=x", "pkcs11:token=%ff%fe",
    ])
    func whatCannotBeHonouredIsRefused(text: String) {
        #expect(throws: TokenError.self) { try PKCS11URI(parsing: text) }
    }
}
