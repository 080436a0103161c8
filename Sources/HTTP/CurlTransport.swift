internal import CCurl
import Blocking
import Clocks
import FoundationEssentials
import Glibc
import Synchronization

/// HTTPS through libcurl. Easy handles are pooled so connections stay alive between requests;
/// each transfer runs on the blocking pool. Redirects are never followed (RFC 8555 gives none).
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    /// Who the transport talks to, for messages: "the CA", "the Cloudflare API".
    public let peer: String
    private let caBundle: String?
    private let timeout: Duration
    private let userAgent: String
    /// Idle handles, how many exist, and the requests waiting for one (by id, so a cancelled
    /// request can leave the queue).
    private struct Pool {
        var idle: [Handle] = []
        var count = 0
        var waiting: [(id: UInt64, continuation: CheckedContinuation<Handle?, Never>)] = []
        var nextID: UInt64 = 0
    }

    private let pool = Mutex(Pool())
    private let setupError: String?
    /// At most this many transfers (and connections to the CA) at once; more requests wait
    /// for a handle. Each handle keeps a TLS connection and libcurl's buffers (~0.5 MB):
    /// without a bound, a batch of 1,000 certificates opened hundreds of them.
    public static let maxConnections = 8
    /// The most of one response body read: 1 MiB. The largest documents an ACME CA sends are
    /// an order of a few hundred identifiers (its authorization URLs, ~100 bytes each) and a
    /// PEM chain (a few certificates of 1–3 KB); both are tens of KB. Without a bound, a body
    /// that never ends was buffered whole: gigabytes within the 30 s timeout.
    public static let maxBodyBytes = 1 << 20
    /// The most header bytes of one response (every header line, after 100 Continue too).
    public static let maxHeaderBytes = 64 << 10

    /// `caBundle` adds trust in the CA's TLS certificate (Pebble's, a private CA's) on top of
    /// the system's roots: the file is CURLOPT_CAINFO and the system's hashed certificate
    /// directory CURLOPT_CAPATH, which OpenSSL reads lazily (parsing the whole system bundle
    /// for every connection cost more CPU than everything else dns01 does).
    public init(peer: String = "the CA", caBundle: String? = nil, timeout: Duration = .seconds(30), userAgent: String = "dns01") {
        self.peer = peer
        CurlTransport.globalInit
        self.timeout = timeout
        self.userAgent = userAgent
        self.caBundle = caBundle
        if let caBundle, !FileManager.default.isReadableFile(atPath: caBundle) {
            setupError = "cannot read ca_bundle \(caBundle)"
        } else {
            setupError = nil
        }
    }

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Sends one request. When the calling task is cancelled (SIGINT/SIGTERM), a request still
    /// waiting for a handle is never sent and one in flight is aborted within about a second
    /// (libcurl's progress callback); both throw `CancellationError`.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if let setupError {
            let host = CurlTransport.host(of: request.url)
            throw HTTPError(.network, "Cannot reach \(peer) at \(host): \(setupError).", host: host)
        }
        try Task.checkCancellation()
        let handle = try await acquire()
        let sink = Sink()
        let result = await withTaskCancellationHandler {
            await BlockingPool.shared.run { [self] in self.perform(request, on: handle, sink: sink) }
        } onCancel: {
            sink.cancelled.store(true, ordering: .relaxed)
        }
        release(handle)
        return try result.get()
    }

    /// A handle of the pool; waits while all are busy. Throws `CancellationError` when the
    /// task is cancelled before one is free.
    private func acquire() async throws -> Handle {
        enum Next { case ready(Handle), create, wait(UInt64) }
        let next: Next = pool.withLock { pool in
            if let handle = pool.idle.popLast() { return .ready(handle) }
            if pool.count < CurlTransport.maxConnections {
                pool.count += 1
                return .create
            }
            pool.nextID += 1
            return .wait(pool.nextID)
        }
        switch next {
        case .ready(let handle): return handle
        case .create: return Handle()
        case .wait(let id):
            let handle: Handle? = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let now: Handle?? = pool.withLock { pool in
                        // A handle may have come back between the two locks; a cancellation
                        // that came before this lock found no waiter to resume.
                        if let handle = pool.idle.popLast() { return .some(handle) }
                        if Task.isCancelled { return .some(nil) }
                        pool.waiting.append((id, continuation))
                        return nil
                    }
                    if let now { continuation.resume(returning: now) }
                }
            } onCancel: {
                let waiter = pool.withLock { pool -> CheckedContinuation<Handle?, Never>? in
                    guard let index = pool.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                    return pool.waiting.remove(at: index).continuation
                }
                waiter?.resume(returning: nil)
            }
            guard let handle else { throw CancellationError() }
            return handle
        }
    }

    private func release(_ handle: Handle) {
        let waiter: CheckedContinuation<Handle?, Never>? = pool.withLock { pool in
            if !pool.waiting.isEmpty { return pool.waiting.removeFirst().continuation }
            pool.idle.append(handle)
            return nil
        }
        waiter?.resume(returning: handle)
    }

    private func perform(_ request: HTTPRequest, on handle: Handle, sink: Sink) -> Result<HTTPResponse, any Error> {
        guard let curl = handle.curl else {
            return .failure(HTTPError(.network, "libcurl could not start.", host: CurlTransport.host(of: request.url)))
        }
        guard !sink.cancelled.load(ordering: .relaxed) else { return .failure(CancellationError()) }
        curl_easy_reset(curl)
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        headers = curl_slist_append(headers, "Expect:")

        _ = dns01_curl_setopt_string(curl, CURLOPT_URL, request.url)
        _ = dns01_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = dns01_curl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "https,http")
        // HTTP/1.1, not libcurl's default HTTP/2 over TLS: each pooled handle keeps its own
        // connection, so HTTP/2's multiplexing is never used, and its framing cost more CPU per
        // request (bench/README, "HTTP/1.1 to the CA").
        _ = dns01_curl_setopt_long(curl, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = dns01_curl_setopt_string(curl, CURLOPT_USERAGENT, userAgent)
        _ = dns01_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        // The whole exchange, connecting included: the transport's timeout, or less when the
        // request has less time left (a retry within a budget).
        _ = dns01_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, CurlTransport.milliseconds(min(timeout, request.timeout ?? timeout)))
        _ = dns01_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        // A declared length over the limit ends the transfer before the body is read; an
        // undeclared one (chunked, or until close) is cut by the write callback.
        _ = dns01_curl_setopt_long(curl, CURLOPT_MAXFILESIZE, CurlTransport.maxBodyBytes)
        _ = dns01_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers)
        _ = dns01_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION, { data, size, count, user in
            guard let user else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
            let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
            guard !overflow, !sink.cancelled.load(ordering: .relaxed) else { return 0 }
            guard bytes <= CurlTransport.maxBodyBytes - sink.body.count else {
                sink.exceeded = .body
                return 0  // anything but `bytes` aborts the transfer (CURLE_WRITE_ERROR)
            }
            if let data { sink.body += UnsafeRawBufferPointer(start: data, count: bytes) }
            return bytes
        })
        _ = dns01_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, box.toOpaque())
        _ = dns01_curl_setopt_write(curl, CURLOPT_HEADERFUNCTION, { data, size, count, user in
            guard let user else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
            let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
            guard !overflow, !sink.cancelled.load(ordering: .relaxed) else { return 0 }
            sink.headerBytes += bytes
            guard sink.headerBytes <= CurlTransport.maxHeaderBytes else {
                sink.exceeded = .headers
                return 0
            }
            if let data { sink.header(UnsafeRawBufferPointer(start: data, count: bytes)) }
            return bytes
        })
        _ = dns01_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, box.toOpaque())
        // Called about once a second even while nothing arrives: a cancelled task's transfer
        // ends there (CURLE_ABORTED_BY_CALLBACK) instead of at the timeout.
        _ = dns01_curl_setopt_long(curl, CURLOPT_NOPROGRESS, 0)
        _ = dns01_curl_setopt_xferinfo(curl, CURLOPT_XFERINFOFUNCTION, { user, _, _, _, _ in
            guard let user else { return 1 }
            return Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue().cancelled.load(ordering: .relaxed) ? 1 : 0
        })
        _ = dns01_curl_setopt_pointer(curl, CURLOPT_XFERINFODATA, box.toOpaque())
        if let caBundle {
            _ = dns01_curl_setopt_string(curl, CURLOPT_CAINFO, caBundle)
            _ = dns01_curl_setopt_string(curl, CURLOPT_CAPATH, "/etc/ssl/certs")
        }
        let body = request.body ?? []
        let code: CURLcode = body.withUnsafeBytes { bytes in
            switch request.method {
            case "HEAD": _ = dns01_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
            case "GET": _ = dns01_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
            default:
                _ = dns01_curl_setopt_long(curl, CURLOPT_POST, 1)
                if request.method != "POST" { _ = dns01_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method) }
                _ = dns01_curl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, bytes.count)
                if let base = bytes.baseAddress {
                    _ = dns01_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    _ = dns01_curl_setopt_string(curl, CURLOPT_POSTFIELDS, "")
                }
            }
            return curl_easy_perform(curl)
        }
        let host = CurlTransport.host(of: request.url)
        let Peer = peer.prefix(1).uppercased() + peer.dropFirst()
        if sink.cancelled.load(ordering: .relaxed) { return .failure(CancellationError()) }
        if code == CURLE_FILESIZE_EXCEEDED || sink.exceeded == .body {
            return .failure(HTTPError(.tooLarge, "\(Peer) at \(host) sent more than \(CurlTransport.maxBodyBytes >> 20) MiB in answer to \(request.method) \(request.url); dns01 reads no more of one response.", host: host))
        }
        if sink.exceeded == .headers {
            return .failure(HTTPError(.tooLarge, "\(Peer) at \(host) sent more than \(CurlTransport.maxHeaderBytes >> 10) KiB of headers in answer to \(request.method) \(request.url); dns01 reads no more of one response.", host: host))
        }
        guard code == CURLE_OK else {
            let text = String(cString: curl_easy_strerror(code))
            let what = code == CURLE_OPERATION_TIMEDOUT ? HTTPError.Code.timeout : .network
            return .failure(HTTPError(what, "Cannot reach \(peer) at \(host): \(text) (\(request.method) \(request.url)).", host: host))
        }
        var status = 0
        _ = dns01_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        // RFC 8555 sends no redirects, and following one would take a signed request elsewhere.
        if (300...399).contains(status) {
            let target = sink.headers["location"]?.first.map { " to \(UntrustedText.clip($0))" } ?? ""
            return .failure(HTTPError(.redirect, "\(Peer) at \(host) answered \(request.method) \(request.url) with a redirect (HTTP \(status)\(target)); dns01 follows no redirects.", host: host))
        }
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }

    /// A timeout in whole milliseconds for libcurl: at least 1 (0 would mean none at all), and
    /// at most a day.
    static func milliseconds(_ duration: Duration) -> Int {
        Int(max(1, min(duration.wholeMilliseconds, 86_400_000)))
    }

    public static func host(of url: String) -> String {
        URL(string: url)?.host.map { host in URL(string: url)?.port.map { "\(host):\($0)" } ?? host } ?? url
    }

    /// One libcurl easy handle, cleaned up when the transport goes.
    private final class Handle: @unchecked Sendable {
        let curl: UnsafeMutableRawPointer?
        init() { curl = curl_easy_init() }
        deinit { if let curl { curl_easy_cleanup(curl) } }
    }

    /// Collects one response. Everything but `cancelled` is used only by the thread running
    /// the transfer; `cancelled` is set by the task's cancellation handler.
    private final class Sink: @unchecked Sendable {
        enum Limit { case body, headers }
        var body: [UInt8] = []
        var headers: [String: [String]] = [:]
        var headerBytes = 0
        var exceeded: Limit?
        let cancelled = Atomic<Bool>(false)

        func header(_ bytes: UnsafeRawBufferPointer) {
            // Byte-level parsing: this runs for every header line of every response.
            var end = bytes.count
            while end > 0 && (bytes[end - 1] == 0x0a || bytes[end - 1] == 0x0d || bytes[end - 1] == 0x20) { end -= 1 }
            if end >= 5 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "T") && bytes[4] == UInt8(ascii: "/") {
                headers = [:]  // a new response (after 100 Continue)
                return
            }
            guard let colon = bytes[..<end].firstIndex(of: UInt8(ascii: ":")) else { return }
            var start = colon + 1
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            let name = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
            headers[name, default: []].append(String(decoding: bytes[start..<end], as: UTF8.self))
        }
    }
}
