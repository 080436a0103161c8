import Glibc

/// The open-files limit, raised for a run of many certificates. `dns01 run` holds one lock file
/// per certificate for the whole run, beside its sockets: 10,000 certificates need 10,000
/// descriptors. systemd starts services with a soft limit of 1024 and a hard limit far above, and
/// asks programs that need more to raise their own soft limit to the hard one (systemd.exec(5),
/// LimitNOFILE=), as Go programs do at start.
public enum OpenFileLimit {
    /// Raises the soft limit to the hard limit; returns the limit in force afterwards (nil when
    /// it cannot be read). A limit that cannot be raised stays as it was: the run then meets it
    /// with "Too many open files", naming the file.
    @discardableResult
    public static func raiseToHardLimit() -> rlim_t? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        guard limit.rlim_cur < limit.rlim_max else { return limit.rlim_cur }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 ? raised.rlim_cur : limit.rlim_cur
    }
}
