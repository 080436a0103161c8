// swift-tools-version: 6.1
import Foundation
import PackageDescription

let package = Package(
    name: "dns01",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dns01", targets: ["dns01"]),
        .executable(name: "dns01-lab", targets: ["dns01-lab"]),
        .library(name: "TestLab", targets: ["TestLab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The HTTP server of `dns01 serve` (acme-dns API), and bcrypt for its passwords.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        // TLS for `dns01 serve` (HummingbirdTLS's), and its per-handshake certificate for reloads.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries, confined to their wrappers (STYLE.md 4).
        .systemLibrary(name: "CLDNS", pkgConfig: "ldns", providers: [.apt(["libldns-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // IDN (UTS #46) for the DNS module only: libidn2 is already under libcurl.
        .systemLibrary(name: "CIDN2", pkgConfig: "libidn2", providers: [.apt(["libidn2-dev"])]),
        // PostgreSQL's client library, for fleet storage (`[storage] type = "postgres"`), imported only by Storage.
        .systemLibrary(name: "CPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Runs blocking C calls (ldns, curl) on threads of its own, never on the cooperative pool.
        .target(name: "Blocking"),
        // The injected time source of every wait (SystemClock; ManualClock in tests).
        .target(name: "Clocks"),
        // The git commit `dns01 --version` names, written in by scripts/package (Version.swift).
        .target(name: "CBuildInfo"),

        // HTTPS through libcurl, for the CA and for DNS host APIs.
        .target(name: "HTTP", dependencies: ["CCurl", "Blocking", "Clocks", "FoundationShim"]),
        // Typed configuration tables (read from TOML by the core) and their errors.
        // What FoundationEssentials lacks and dns01 needs (trimming, printf-style numbers), on
        // the standard library: no module of the product imports corelibs Foundation (ICU).
        .target(name: "FoundationShim"),
        .target(name: "Settings", dependencies: ["FoundationShim"]),
        // Where state lives: the fleet's PostgreSQL database (libpq), keys sealed with AES-GCM.
        // Files as DESIGN.md wants them written (atomic, synced, modes set at creation), locks,
        // secret files (mode-checked), bounded reads: what Providers, Storage and the core share.
        .target(name: "Files", dependencies: ["FoundationShim", "Settings"]),
        .target(
            name: "Storage",
            dependencies: ["Files", "Settings", "CPQ", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Running hooks and other programs: process groups, time limits, bounded output.
        .target(name: "Processes", dependencies: ["Blocking", "Clocks", "FoundationShim"]),

        .target(
            name: "ACME",
            dependencies: [
                "HTTP", "Clocks", "FoundationShim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DNS",
            dependencies: ["CLDNS", "CIDN2", "Blocking", "Clocks", "FoundationShim"]
        ),
        .target(
            name: "Providers",
            dependencies: [
                "DNS", "HTTP", "Settings", "Files", "FoundationShim", "Processes", "Blocking", "Clocks",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DNS01",
            dependencies: [
                "ACME", "DNS", "HTTP", "Providers", "Settings", "Files", "FoundationShim", "Storage", "Processes", "Clocks", "Blocking",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `dns01 serve`: the acme-dns-compatible HTTP API in front of every provider.
        .target(
            name: "Serve",
            dependencies: [
                "DNS01", "DNS", "HTTP", "Providers", "Settings", "Storage", "Clocks", "Blocking", "Files", "FoundationShim",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "dns01",
            dependencies: [
                "DNS01", "Serve", "ACME", "DNS", "Providers", "Storage", "Processes", "Clocks", "CBuildInfo", "FoundationShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The release binary (issue 26): no dynamic symbol table for a program nothing links
            // against (39.2 MB stripped -> 35.4 MB), RELRO and immediate binding so that the GOT is
            // read-only after start (lintian's hardening checks), and gold's safe identical code
            // folding (-0.5 MB). RELR relocations (-z pack-relative-relocs, -2.2 to -3 MB) need
            // another linker, and neither fits: bfd writes no RELRO segment (the toolchain's static
            // libraries carry writable .rodata sections, so .rodata lands in the RW segment), and
            // lld links ICU back (it keeps the SHF_GNU_RETAIN metadata of the libFoundation.a
            // members that TOMLKit's autolinked -lFoundation pulls in: 79 MB). bench/README.md,
            // "Issue 26, item 1: the binary's size". gold stays. And the functions dns01's
            // ordinary work runs laid out together (packaging/dns01.text-order, made by
            // scripts/text-order): the kernel maps text 64 KB around each page a process touches,
            // so scattered, they kept about 15 MB of it resident in every run.
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now",
                              "-Xlinker", "--icf=safe",
                              "-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/packaging/dns01.text-order"],
                             .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .target(name: "TestLab"),
        .executableTarget(name: "dns01-lab", dependencies: ["TestLab"]),
        // Test doubles for unit tests of pure logic (not products): an HTTPTransport answering
        // from a script, and a scripted RFC 8555 CA built on it that issues real chains.
        .target(name: "ScriptedHTTP", dependencies: ["HTTP"]),
        .target(
            name: "ScriptedACME",
            dependencies: [
                "ScriptedHTTP", "HTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),

        .testTarget(name: "ACMETests", dependencies: [
            "ACME", "HTTP", "Clocks", "ScriptedHTTP", "ScriptedACME", "TestLab",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        .testTarget(name: "DNSTests", dependencies: ["Clocks", "DNS", "TestLab"]),
        .testTarget(name: "ProvidersTests", dependencies: ["Providers", "DNS", "HTTP", "Processes", "Settings", "TestLab", "ScriptedHTTP"]),
        .testTarget(name: "StorageTests", dependencies: ["ACME", "DNS01", "Files", "Providers", "Settings", "Storage", "TestLab"]),
        .testTarget(name: "DNS01Tests", dependencies: [
            "DNS01", "Serve", "ACME", "DNS", "HTTP", "Providers", "Settings", "Files", "Storage", "Processes", "Clocks", "TestLab",
            "FuzzEntries", "ScriptedHTTP", "ScriptedACME",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The parsers of outside input, one entry each, for the fuzz targets below and the
        // corpus replay test (Tests/Corpus).
        .target(name: "FuzzEntries", dependencies: ["ACME", "DNS", "DNS01", "HTTP", "Providers", "Settings"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets, one per parser of outside input, only when DNS01_FUZZ=1 (scripts/fuzz), so
// normal builds and `swift test` never see them:
//   DNS01_FUZZ=1 swift build --scratch-path .build-fuzz -c debug --product fuzz-config \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address
if ProcessInfo.processInfo.environment["DNS01_FUZZ"] == "1" {
    for name in ["config", "duration", "tsig", "pem", "zonefile", "acmejson", "headers", "persist", "idna"] {
        package.targets.append(.executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzEntries"], path: "Sources/Fuzz/\(name)"))
        package.products.append(.executable(name: "fuzz-\(name)", targets: ["fuzz-\(name)"]))
    }
}

// FoundationEssentials only in the product (issue 26): one corelibs Foundation API links ICU's
// 34 MB of data. MemberImportVisibility makes a member usable only where its module is
// imported, so an extension of Foundation's (Error.localizedDescription, say) cannot leak in
// through a dependency that imports Foundation (TOMLKit imports Foundation.Data).
let productModules: Set<String> = ["Settings", "Blocking", "Clocks", "Files", "FoundationShim", "HTTP", "Processes", "DNS",
                                   "ACME", "Storage", "Providers", "DNS01", "Serve", "dns01"]
// (-Osize for these modules was measured and left out: -0.70 MB, but more CPU per name; bench/README
// "Issue 26, item 1: the binary's size".)
for target in package.targets where productModules.contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
