// swift-tools-version: 6.1
// Issue 26, item 4: libcurl (dns01's own CurlTransport) against AsyncHTTPClient (swift-nio-ssl),
// the same requests against the same Pebble. Not part of dns01's package: its own build, run by
// bench/http-stack/run (bench/README.md, "Issue 26, item 4").
import PackageDescription

// The release flags of dns01's own binary (Package.swift), so that sizes compare.
let releaseLink: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now"],
                 .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "http-stack",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // dns01's HTTP module and what it imports, as they are (Sources/* are symlinks into the
        // main tree): the libcurl side is CurlTransport itself, not a copy.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl"),
        .target(name: "Blocking"),
        .target(name: "Clocks"),
        .target(name: "FoundationShim"),
        .target(name: "HTTP", dependencies: ["CCurl", "Blocking", "Clocks", "FoundationShim"]),
        .executableTarget(name: "curl-requests", dependencies: ["HTTP"], linkerSettings: releaseLink),
        .executableTarget(
            name: "ahc-requests",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            linkerSettings: releaseLink
        ),
    ],
    swiftLanguageModes: [.v6]
)
