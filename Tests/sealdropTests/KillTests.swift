import Foundation
import Testing

/// SIGKILL during `open` left a plaintext `.NAME.partial-*` file; outputs are now unnamed
/// until verified, so a kill leaves nothing.
@Suite(.serialized) struct KillLeavesNoPlaintextTests {
    @Test func sigkillDuringOpenLeavesNoFile() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["bob"])
        // A large "image": PNG magic and header, then 192 MiB of filler.
        let png = try Data(contentsOf: URL(fileURLWithPath: HostileInputCLITests.fixtures + "/images/horse.png"))
        var big = png.prefix(33)
        big.append(Data(count: 192 << 20))
        try FileManager.default.createDirectory(atPath: w.path("in"), withIntermediateDirectories: true)
        try big.write(to: URL(fileURLWithPath: w.path("in/big.png")))
        #expect(try w.sealdrop(["seal", "in/big.png", "--to", "bob.crt", "--key", "bob.key", "-o", "sealed"]).status == 0)
        try FileManager.default.createDirectory(atPath: w.path("out"), withIntermediateDirectories: true)
        for delay: useconds_t in [200_000, 500_000, 900_000] {
            let opener = try w.start(["open", "sealed/big.png.seal", "--key", "bob.key", "--ca", "root/ca.crt", "-o", "out", "--force"])
            usleep(delay)
            opener.kill()
            let left = try FileManager.default.contentsOfDirectory(atPath: w.path("out"))
            #expect(left.allSatisfy { $0 == "big.png" }, "\(left)")
            if left == ["big.png"] {
                let size = try FileManager.default.attributesOfItem(atPath: w.path("out/big.png"))[.size] as? Int
                #expect(size == big.count)
            }
        }
    }
}
