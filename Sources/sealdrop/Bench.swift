import ArgumentParser

extension Sealdrop {
    struct Bench: Reporting {
        static let configuration = CommandConfiguration(abstract: "Measure throughput against libgcrypt's own speed.")

        func perform() throws {}
    }
}
