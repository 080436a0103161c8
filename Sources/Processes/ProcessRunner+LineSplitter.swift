import FoundationEssentials
import Glibc

extension ProcessRunner {
    /// Most of a stream kept for `Output.stdout`/`stderr`: its last 64 KiB, enough for the line
    /// an error quotes. A hook printing megabytes costs neither memory nor CPU in proportion.
    public static let keptOutputBytes = 64 * 1024
    /// Longest line handed to `onLine`; the rest of a longer line is dropped and counted.
    public static let lineBytes = 4096

    /// Splits one output stream into lines as its bytes arrive. Every byte is looked at once
    /// (a partial line is never rescanned), and what is kept is bounded: the first `lineLimit`
    /// bytes of the line being read and the last `keepLimit` bytes of the stream.
    struct LineSplitter {
        let lineLimit: Int
        let keepLimit: Int
        /// The end of the stream, between `keepLimit` and twice that many bytes before trimming.
        private var kept: [UInt8] = []
        private var line: [UInt8] = []
        /// Bytes of the current line beyond `lineLimit`.
        private var dropped = 0

        init(lineLimit: Int = ProcessRunner.lineBytes, keepLimit: Int = ProcessRunner.keptOutputBytes) {
            self.lineLimit = max(1, lineLimit)
            self.keepLimit = max(1, keepLimit)
        }

        /// Adds bytes as read; `emit` gets each line they complete (without its newline).
        mutating func append(_ bytes: ArraySlice<UInt8>, emit: (String) -> Void) {
            kept.append(contentsOf: bytes)
            // Trimmed only once twice the limit is held: each byte is moved a bounded number of times.
            if kept.count > 2 * keepLimit { kept.removeFirst(kept.count - keepLimit) }
            bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                var start = 0
                while start < buffer.count {
                    // memchr: the newline search is one pass over new bytes, fast even unoptimized.
                    let found = memchr(base + start, Int32(UInt8(ascii: "\n")), buffer.count - start)
                    let end = found.map { base.distance(to: UnsafeRawPointer($0)) } ?? buffer.count
                    let take = min(max(0, lineLimit - line.count), end - start)
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + take)]))
                    dropped += (end - start) - take
                    guard found != nil else { return }
                    emit(currentLine())
                    start = end + 1
                }
            }
        }

        /// The last line, when the stream ended without a newline.
        mutating func finish(emit: (String) -> Void) {
            if !line.isEmpty || dropped > 0 { emit(currentLine()) }
        }

        /// The kept end of the stream, as text.
        var text: String {
            String(decoding: kept.suffix(keepLimit), as: UTF8.self)
        }

        private mutating func currentLine() -> String {
            var text = String(decoding: line, as: UTF8.self)
            if dropped > 0 { text += " … (\(dropped) more bytes)" }
            line.removeAll(keepingCapacity: true)
            dropped = 0
            return text
        }
    }
}
