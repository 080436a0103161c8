import Glibc
import Processes
import Testing

/// `FreePages.release()`, which `dns01 run` calls between windows: glibc's malloc_trim found by
/// name, and pages given back when free ones lie between blocks still in use.
@Suite("free pages")
struct FreePagesTests {
    @Test func freedPagesBetweenLiveBlocksAreGivenBack() {
        // 16 MB in 8 KB blocks (below malloc's mmap threshold: they come from the heap), then
        // all but every 16th freed: whole free pages between blocks still in use.
        var blocks = (0..<2_048).map { _ -> UnsafeMutableRawPointer? in
            let block = malloc(8 << 10)
            if let block { memset(block, 1, 8 << 10) }
            return block
        }
        for index in blocks.indices where index % 16 != 0 {
            free(blocks[index])
            blocks[index] = nil
        }
        #expect(FreePages.release())
        for block in blocks { free(block) }
    }
}
