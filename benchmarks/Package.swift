// swift-tools-version:6.1
import PackageDescription

// package-benchmark suites for sealdrop, kept in their own package so the main build and
// CI do not compile the benchmark framework. Run: cd benchmarks && swift package benchmark
let package = Package(
    name: "sealdrop-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "sealdrop", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Pipeline",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GcryptKit", package: "sealdrop"),
                .product(name: "SealPKI", package: "sealdrop"),
                .product(name: "SealEnvelope", package: "sealdrop"),
            ],
            path: "Benchmarks/Pipeline",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Grows a server's catalogue for scripts/scale.sh (see there).
        .executableTarget(
            name: "grow-catalogue",
            dependencies: [.product(name: "SealServer", package: "sealdrop")],
            path: "Benchmarks/GrowCatalogue"
        ),
    ]
)
