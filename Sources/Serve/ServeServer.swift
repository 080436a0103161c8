import Clocks
import DNS01
import FoundationEssentials
import Glibc
import HTTP
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Providers
import Settings
import Storage
import Synchronization
import UnixSignals

/// The request context of `dns01 serve`: Hummingbird's, plus the peer's address.
struct ServeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP peer's address bytes (4 or 16), nil for a Unix socket.
    let peer: [UInt8]?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress.flatMap(CIDR.parseAddress)
    }
}

/// `dns01 serve`: acme-dns's API over HTTP or HTTPS (Hummingbird), in front of the `[serve]
/// provider`. Runs until cancelled or SIGTERM/SIGINT, then stops accepting and lets requests in
/// flight finish; SIGHUP reads the TLS certificate and key again.
public struct ServeServer: Sendable {
    public let settings: ServeSettings
    public let api: AcmeDNSAPI
    public let counters: ServeCounters
    /// `[serve] tls_certificate` and `tls_key`, read and checked; nil for plain HTTP.
    public let tls: ServeTLS?
    let redactor: Redactor
    let limiter: RateLimiter

    /// Builds the server from the configuration: `[serve]` validated (ConfigError otherwise),
    /// registrations in the state directory (or the fleet's database when one is given).
    public init(config: Configuration, store: (any AcmeDNSRegistrationStore)? = nil) throws {
        guard let settings = config.serve else {
            throw ConfigError("\(config.path) has no [serve] section: dns01 serve needs at least zone and provider.")
        }
        guard let provider = config.providers.first(where: { $0.name == settings.provider }) else {
            throw ConfigError("[serve]: provider '\(settings.provider)' is not a configured [[provider]].")
        }
        if let certificate = settings.tlsCertificate, let key = settings.tlsKey {
            tls = try ServeTLS(certificate: certificate, key: key)
        } else {
            tls = nil
        }
        let counters = ServeCounters()
        let store = store ?? DirectoryAcmeDNSRegistrationStore(stateDir: config.acme.stateDir)
        let batcher = UpdateBatcher(provider: provider, registrationZone: settings.zone, store: store,
                                    zoneFinder: config.makeZoneFinder(), window: settings.batchWindow,
                                    timeout: settings.updateTimeout ?? config.dns.propagationTimeout,
                                    pollInterval: config.dns.pollInterval, counters: counters)
        self.settings = settings
        self.counters = counters
        api = AcmeDNSAPI(settings: settings, store: store, batcher: batcher, counters: counters)
        redactor = config.redactor
        limiter = RateLimiter(perSecond: settings.requestsPerSecond)
    }

    /// `dns01 serve`: registrations in PostgreSQL with `[storage] type = "postgres"` (shared by
    /// every instance), else in the state directory; serves until SIGTERM/SIGINT.
    public static func serve(config: Configuration, log: @escaping @Sendable (String) -> Void) async throws {
        let state = try await config.openState()
        defer { state.close() }
        try await ServeServer(config: config, store: state.registrations).run(log: log)
    }

    /// Serves until the calling task is cancelled or the process gets SIGTERM/SIGINT.
    /// `log`: one line per request (the access log) and the start line.
    public func run(log: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: ServeRequestContext.self)
        let server = self
        router.get("health") { _, _ in Response(status: .ok) }
        router.post("register") { request, context in
            await server.handle(request, context, log: log) { body in await server.api.register(body: body) }
        }
        router.post("update") { request, context in
            let user = request.headers.first { $0.name.canonicalName == "x-api-user" }?.value
            let key = request.headers.first { $0.name.canonicalName == "x-api-key" }?.value
            let client = server.clientAddress(peer: context.peer, forwarded: ServeServer.forwardedFor(request))
            return await server.handle(request, context, log: log) { body in
                await server.api.update(user: user, key: key, client: client, body: body)
            }
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: server.metricsText())))
        }
        var logger = Logger(label: "dns01.serve")
        logger.logLevel = .warning
        let address: BindAddress = .hostname(settings.host, port: settings.port)
        let scheme = tls == nil ? "http" : "https"
        let app = Application(router: router, server: try tls.map { try .tls(.http1(), tlsConfiguration: $0.configuration) } ?? .http1(),
                              configuration: .init(address: address, serverName: nil),
                              onServerRunning: { channel in
                                  let certificate = server.tls.map { " (certificate serial \($0.identity.serial) from \($0.certificatePath))" } ?? ""
                                  log("dns01 serve: listening on \(scheme)://\(channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?") for registrations in \(server.settings.zone)\(certificate)")
                              }, logger: logger)
        let reloading = Task { await server.reloadOnHangup(log: log) }
        defer { reloading.cancel() }
        // Not a child task: the CLI cancels its task on SIGTERM, which would cut requests in
        // flight; the server's own signal handling shuts down gracefully instead (stops accepting,
        // lets every request finish, its propagation wait included).
        let serving = Task { try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint]) }
        do {
            try await serving.value
        } catch let error as IOError {
            throw OperationError("Cannot listen on \(settings.host):\(settings.port) ([serve] listen): \(String(cString: strerror(error.errnoCode))).")
        }
    }

    /// SIGHUP (a deploy hook's `systemctl reload dns01-serve` after a renewal): reads the TLS
    /// certificate and key again for new connections; if they are bad, keeps the pair in use and
    /// says why in one line naming the file. Never stops the server.
    func reloadOnHangup(log: @escaping @Sendable (String) -> Void) async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            guard let tls else {
                log("dns01 serve: SIGHUP: no [serve] tls_certificate to read again; serving on")
                continue
            }
            do {
                let identity = try await tls.reload()
                log("dns01 serve: SIGHUP: new connections get the certificate with serial \(identity.serial) from \(tls.certificatePath)")
            } catch {
                log("dns01 serve: SIGHUP: kept the certificate with serial \(tls.identity.serial): \(error)")
            }
        }
    }

    /// Reads the body within `max_request_bytes`, applies the rate limit, calls `body`, writes
    /// the access log line.
    func handle(_ request: Request, _ context: ServeRequestContext, log: @Sendable (String) -> Void,
                _ body: ([UInt8]) async -> AcmeDNSAPI.Reply) async -> Response {
        let start = ContinuousClock.now
        let client = clientAddress(peer: context.peer, forwarded: Self.forwardedFor(request))
        let who = client.map(CIDR.text) ?? "?"
        var reply: AcmeDNSAPI.Reply
        if !limiter.allow(client ?? []) {
            reply = .error(429, "too_many_requests", "more than \(settings.requestsPerSecond) requests per second from \(who)")
        } else {
            var request = request
            if let length = request.headers[.contentLength].flatMap(Int.init), length > settings.maxRequestBytes {
                reply = .error(413, "request_too_large", "the body of \(length) bytes is over max_request_bytes (\(settings.maxRequestBytes))")
            } else if let buffer = try? await request.collectBody(upTo: settings.maxRequestBytes) {
                reply = await body(Array(buffer.readableBytesView))
            } else {
                reply = .error(413, "request_too_large", "the body is over max_request_bytes (\(settings.maxRequestBytes)) or was cut off")
            }
        }
        if reply.status >= 400 { counters.rejected.add(1, ordering: .relaxed) }
        let elapsed = ContinuousClock.now - start
        log("\(who) \(request.method) \(request.uri.path) \(reply.status) \(elapsed.elapsedText)\(reply.note.isEmpty ? "" : ": " + redactor(reply.note))")
        return Response(status: .init(code: reply.status), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }

    static func forwardedFor(_ request: Request) -> [String] {
        request.headers.filter { $0.name.canonicalName == "x-forwarded-for" }.map(\.value)
    }

    /// The client: the TCP peer, or, when the peer is a trusted proxy, the last address in
    /// X-Forwarded-For that is not one (proxies append, so earlier entries are the client's word).
    func clientAddress(peer: [UInt8]?, forwarded: [String]) -> [UInt8]? {
        Self.clientAddress(peer: peer, forwarded: forwarded, trustedProxies: settings.trustedProxies)
    }

    public static func clientAddress(peer: [UInt8]?, forwarded: [String], trustedProxies: [CIDR]) -> [UInt8]? {
        guard let peer, trustedProxies.contains(where: { $0.contains(peer) }) else { return peer }
        let hops: [String] = forwarded.flatMap { $0.split(separator: ",") }.map { String($0.filter { $0 != " " && $0 != "\t" }) }
        var client = peer
        for hop in hops.reversed() {
            guard let address = CIDR.parseAddress(hop) else { return client }
            client = address
            if !trustedProxies.contains(where: { $0.contains(address) }) { return address }
        }
        return client
    }

    /// Prometheus text of the counters.
    func metricsText() -> String {
        let rows: [(String, String, Int)] = [
            ("dns01_serve_registrations_total", "Registrations created.", counters.registrations.load(ordering: .relaxed)),
            ("dns01_serve_updates_total", "Updates answered 200 (served everywhere).", counters.updates.load(ordering: .relaxed)),
            ("dns01_serve_rejected_total", "Requests answered 4xx or 5xx.", counters.rejected.load(ordering: .relaxed)),
            ("dns01_serve_provider_writes_total", "Provider calls (present and cleanup) the updates became.", counters.providerWrites.load(ordering: .relaxed)),
            ("dns01_serve_propagation_waits_total", "Propagation waits (one per batch).", counters.propagationWaits.load(ordering: .relaxed)),
            ("dns01_serve_propagation_milliseconds_total", "Time spent in propagation waits.", counters.propagationMilliseconds.load(ordering: .relaxed)),
        ]
        return rows.map { "# HELP \($0.0) \($0.1)\n# TYPE \($0.0) counter\n\($0.0) \($0.2)\n" }.joined()
    }
}

/// A token bucket per client address: `perSecond` tokens, refilled at `perSecond` a second.
public final class RateLimiter: Sendable {
    let perSecond: Int
    private let buckets = Mutex<[[UInt8]: (tokens: Double, at: ContinuousClock.Instant)]>([:])

    public init(perSecond: Int) { self.perSecond = perSecond }

    public func allow(_ client: [UInt8], now: ContinuousClock.Instant = .now) -> Bool {
        buckets.withLock { buckets in
            if buckets.count > 50_000 { buckets = buckets.filter { now - $0.value.at < .seconds(2) } }
            var bucket = buckets[client] ?? (Double(perSecond), now)
            let elapsed = now - bucket.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(perSecond), bucket.tokens + seconds * Double(perSecond))
            bucket.at = now
            guard bucket.tokens >= 1 else { buckets[client] = bucket; return false }
            bucket.tokens -= 1
            buckets[client] = bucket
            return true
        }
    }
}
