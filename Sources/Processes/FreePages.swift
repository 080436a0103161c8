import Glibc

/// Gives the memory malloc holds free back to the system. A long `dns01 run` frees each
/// window's transfers, JSON and keys when the window ends, but glibc's malloc keeps the pages
/// they sat on wherever the records the run holds on to lie between them; `malloc_trim(0)`
/// releases every whole free page of every arena (glibc 2.8 and later), not only the top of the
/// heap. It is glibc's and declared in <malloc.h>, which the Glibc module does not import, so
/// it is looked up once by name; a C library without it makes this do nothing.
public enum FreePages {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()

    /// Returns the free pages; true when some were given back.
    @discardableResult
    public static func release() -> Bool {
        guard let trim else { return false }
        return trim(0) == 1
    }
}
