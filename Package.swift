// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sealdrop",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sealdrop", targets: ["sealdrop"]),
        .library(name: "GcryptKit", targets: ["GcryptKit"]),
        .library(name: "SealPKI", targets: ["SealPKI"]),
        .library(name: "SealEnvelope", targets: ["SealEnvelope"]),
        // For benchmarks/: a catalogue grown to a million images without a million envelopes.
        .library(name: "SealServer", targets: ["SealServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CGcrypt",
            pkgConfig: "libgcrypt",
            providers: [.apt(["libgcrypt20-dev"])]
        ),
        // Optimised in debug builds too: its scrypt (Scrypt.swift) unlocks every key file, and
        // unoptimised it takes seconds, not a tenth of one, in every test that unlocks a key.
        .target(name: "GcryptKit", dependencies: ["CGcrypt"], swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Linux calls Swift's Glibc module leaves out (syncfs), for the server's group commits.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .target(
            name: "SealPKI",
            dependencies: [
                "GcryptKit",
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The PKCS#11 interface (headers only: modules are loaded at run time), for keys on tokens.
        .systemLibrary(name: "CPKCS11", path: "Sources/CPKCS11", providers: [.apt(["libp11-kit-dev"])]),
        // Keys on PKCS#11 tokens (HSMs, smartcards, SoftHSM): the only target that imports CPKCS11.
        .target(name: "SealToken", dependencies: ["CPKCS11", "GcryptKit", "SealPKI"]),
        .target(name: "SealEnvelope", dependencies: ["CLinux", "GcryptKit", "SealPKI"]),
        // What client and server share: the root's layout, drops, answers, the notification log.
        .target(name: "DropProtocol", dependencies: ["GcryptKit", "SealPKI", "SealEnvelope"]),
        // TLS keys kept in libgcrypt, for both ends of the HTTPS transport.
        .target(
            name: "SealTLS",
            dependencies: [
                "GcryptKit", "SealPKI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "SealServer",
            dependencies: [
                "CLinux", "GcryptKit", "SealPKI", "SealToken", "SealEnvelope", "DropProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTPS front of a server root: uploads into the same inbox, outbox, live log.
        .target(
            name: "SealGateway",
            dependencies: [
                "GcryptKit", "SealPKI", "SealEnvelope", "DropProtocol", "SealServer", "SealTLS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SealClient",
            dependencies: [
                "GcryptKit", "SealPKI", "SealToken", "SealEnvelope", "DropProtocol", "SealTLS",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The local web client: the profile on loopback, keys kept in this process.
        .target(
            name: "SealGallery",
            dependencies: [
                "GcryptKit", "SealPKI", "SealEnvelope", "DropProtocol", "SealClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "SealBench", dependencies: ["GcryptKit", "SealPKI", "SealEnvelope", "SealToken"]),
        // Parsers of outside input as fuzz targets (scripts/fuzz); crashes replayed by SealFuzzTests.
        .target(name: "SealFuzz", dependencies: ["SealPKI", "SealEnvelope", "DropProtocol", "SealToken"]),
        .executableTarget(name: "sealdrop-fuzz", dependencies: ["SealFuzz"]),
        .executableTarget(
            name: "sealdrop",
            dependencies: [
                "GcryptKit",
                "SealPKI",
                "SealToken",
                "SealEnvelope",
                "DropProtocol",
                "SealServer",
                "SealGateway",
                "SealGallery",
                "SealClient",
                "SealBench",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GcryptKitTests", dependencies: ["GcryptKit", "CGcrypt"]),
        .testTarget(
            name: "SealPKITests",
            dependencies: ["SealPKI", .product(name: "SwiftASN1", package: "swift-asn1")]
        ),
        .testTarget(name: "SealEnvelopeTests", dependencies: ["SealEnvelope", "SealPKI", "GcryptKit"]),
        // A throwaway PostgreSQL cluster for the tests of both stores (scripts/postgres).
        .target(name: "ClusterSupport", path: "Tests/ClusterSupport"),
        .testTarget(
            name: "SealServerTests",
            dependencies: ["ClusterSupport", "SealServer", "SealClient", "DropProtocol", "SealEnvelope", "SealPKI", "GcryptKit", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "sealdropTests", dependencies: ["sealdrop", "ClusterSupport"]),
        .testTarget(name: "SealFuzzTests", dependencies: ["SealFuzz"]),
        .testTarget(name: "SealTokenTests", dependencies: ["SealToken", "SealEnvelope", "SealPKI", "GcryptKit"]),
    ]
)
