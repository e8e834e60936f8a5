import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import SealClient
@testable import DropProtocol
@testable import SealServer

/// Names of 238 to 255 bytes work end to end (the `.NAME.partial-XXXXXXXX` temporary name
/// made them unfetchable), and NFC/NFD spellings of one name are one owner's name.
@Suite(.serialized) struct LongNameTests {
    @Test(arguments: [238, 250, 255])
    func aLongNameIsPostedAndFetched(length: Int) throws {
        let server = try TestServer()
        // Two-byte characters, then ASCII to reach the length exactly.
        let name = String(repeating: "é", count: (length - 4) / 2) + String(repeating: "x", count: (length - 4) % 2) + ".gif"
        #expect(name.utf8.count == length)
        try server.drop("coffee.gif", as: "alice", name: name)
        #expect(try server.ingester().runUntilEmpty().accepted == 1)
        let (bob, passphrase) = try FetchTests().profile(server, "bob")
        let fetcher = try Fetcher(profile: bob, secret: passphrase)
        let id = try fetcher.request(name)
        #expect(try server.ingester().runUntilEmpty().answered == 1)
        let folder = server.url.appendingPathComponent("fetched").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let output = try OutputPath.inside(folder, name: name)
        _ = try fetcher.receive(id, image: name, to: output, timeout: 5)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: fixturesDirectory.appendingPathComponent("images/coffee.gif")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [name])
    }

    /// bob sealing "café.gif" in NFD cannot take alice's NFC "café.gif": it is the same name.
    @Test func nfcAndNfdAreOneName() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "caf\u{E9}.gif")
        _ = try server.ingester().runUntilEmpty()
        try server.drop("coffee.gif", as: "bob", name: "caf\u{65}\u{301}.gif")
        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 0 && report.quarantined == 1)
        #expect(try server.catalogue.image(named: "caf\u{E9}.gif")?.owner == "alice")
    }
}
