import SealPKI
import Testing

@Suite struct UserNameTests {
    @Test(arguments: ["alice", "bob-2", "c_d", "a", String(repeating: "x", count: 32)])
    func accepted(name: String) throws {
        #expect(try UserName(name).value == name)
    }

    @Test(arguments: ["", "Alice", "1alice", "-a", "al ice", "al/ice", "..", "a.b", "alice\n", "é", String(repeating: "x", count: 33)])
    func refused(name: String) {
        #expect(throws: PKIError.self) { try UserName(name) }
    }
}
