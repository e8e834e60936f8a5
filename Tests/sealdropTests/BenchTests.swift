import Foundation
import Testing

/// `sealdrop bench` runs every line and reports both figures; speed itself is never asserted.
@Suite struct BenchTests {
    @Test func jsonLinesCoverEveryPrimitive() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let run = try w.sealdrop(["bench", "--seconds", "0.05", "--sizes", "16k", "--rsa-bits", "2048", "--pipeline-sizes", "1k", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let names = lines.compactMap { $0?["name"] as? String }
        #expect(names == ["sha256", "hmac-sha256", "aes-256-cbc encrypt", "aes-256-gcm encrypt",
                          "rsa-2048 pss sign", "rsa-2048 pss verify", "rsa-2048 oaep wrap", "rsa-2048 oaep unwrap",
                          "seal cbc-hmac", "open cbc-hmac", "seal gcm", "open gcm"])
        for line in lines {
            let sealdrop = line?["sealdrop"] as? Double ?? 0
            let libgcrypt = line?["libgcrypt"] as? Double ?? 0
            #expect(sealdrop > 0 && libgcrypt > 0, "\(String(describing: line))")
            #expect(line?["ratio"] as? Double != nil)
        }
    }

    @Test func badArgumentsAreRefused() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        #expect(try w.sealdrop(["bench", "--rsa-bits", "1024"]).status != 0)
        #expect(try w.sealdrop(["bench", "--sizes", "15"]).status != 0)
        #expect(try w.sealdrop(["bench", "--seconds", "0"]).status != 0)
    }
}
