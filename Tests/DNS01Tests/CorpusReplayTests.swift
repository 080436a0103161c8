import Foundation
import FuzzEntries
import Testing

/// Every input in Tests/Corpus/<target>/ (seeds, and each crash a fuzzer found once) through the
/// fuzz target's own entry point: an input that traps kills this test, so a crash found once
/// stays found. `scripts/fuzz TARGET SECONDS` adds to the corpus.
@Suite("fuzz corpus replay")
struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpus").path

    @Test(arguments: FuzzEntry.all.map(\.name))
    func replay(_ target: String) throws {
        let directory = "\(Self.corpus)/\(target)"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(!files.isEmpty, "no corpus for \(target) in \(directory)")
        let run = try #require(FuzzEntry.entry(named: target))
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
            run(bytes)
        }
    }

    /// Every corpus folder belongs to a target, so an input is never left out of the replay.
    @Test func everyCorpusFolderHasATarget() throws {
        var isDirectory: ObjCBool = false
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter {
            FileManager.default.fileExists(atPath: "\(Self.corpus)/\($0)", isDirectory: &isDirectory) && isDirectory.boolValue
        }
        #expect(Set(folders) == Set(FuzzEntry.all.map(\.name)))
    }
}
