import Foundation

extension TestLab {
    /// How the lab's acme2certifier is configured (its acme_srv.cfg).
    public struct ACME2CertifierOptions: Sendable {
        /// A certificate profile (draft-ietf-acme-profiles) the CA offers, served by an openssl
        /// CA handler of its own that issues certificates valid for `validityDays`.
        public struct Profile: Sendable {
            public var name: String
            public var description: String
            public var validityDays: Int
            public init(_ name: String, _ description: String, validityDays: Int) {
                self.name = name
                self.description = description
                self.validityDays = validityDays
            }
        }

        /// Validity of certificates ordered without a profile.
        public var validityDays: Int
        /// The profiles the directory lists; an order naming another is refused.
        public var profiles: [Profile]
        /// RFC 9773 renewalInfo: the suggested window starts this far (percent) into a
        /// certificate's lifetime (`[Renewalinfo] renewalthreshold_pctg`; acme2certifier's default 85).
        public var renewalThresholdPercent: Int
        /// The window lasts at most this long (`renewal_window_duration`, acme2certifier's duration
        /// syntax: "3600", "30m", "2d"); nil: until notAfter.
        public var renewalWindowDuration: String?
        /// `renewal_force`: every certificate's window began a year ago and ends in a day, as a CA
        /// that wants everything renewed now (a mass revocation) says.
        public var renewalForce: Bool
        /// The Retry-After of renewalInfo answers, in seconds.
        public var renewalInfoRetryAfter: Int
        /// The directory has no renewalInfo (`renewalinfo_disable`).
        public var renewalInfoDisabled: Bool
        /// dns-persist-01 offered beside dns-01 in every DNS authorization.
        public var dnsPersist: Bool
        /// The issuer domain names dns-persist-01 records must name (`[Directory] caaidentities`;
        /// also the directory's `caaIdentities`).
        public var issuerDomainNames: [String]
        /// dns-persist-01 records with `policy=wildcard` authorize wildcard names.
        public var allowPolicyWildcard: Bool
        /// Seconds acme2certifier's clock is set off the real one, by libfaketime (all its clocks:
        /// with the monotonic one left real, Python's sleeps fail with EINVAL). -266_400 makes it
        /// issue certificates that started 3 days 2 hours ago: a certificate old enough to be due,
        /// without waiting for it. 0: the real time.
        public var clockOffset: Int

        public init(validityDays: Int = 90,
                    profiles: [Profile] = [Profile("default", "90-day certificates", validityDays: 90),
                                           Profile("shortlived", "6-day certificates", validityDays: 6)],
                    renewalThresholdPercent: Int = 85, renewalWindowDuration: String? = nil, renewalForce: Bool = false,
                    renewalInfoRetryAfter: Int = 21600, renewalInfoDisabled: Bool = false, dnsPersist: Bool = true,
                    issuerDomainNames: [String] = ["ca.lab.test"], allowPolicyWildcard: Bool = true, clockOffset: Int = 0) {
            self.validityDays = validityDays
            self.profiles = profiles
            self.renewalThresholdPercent = renewalThresholdPercent
            self.renewalWindowDuration = renewalWindowDuration
            self.renewalForce = renewalForce
            self.renewalInfoRetryAfter = renewalInfoRetryAfter
            self.renewalInfoDisabled = renewalInfoDisabled
            self.dnsPersist = dnsPersist
            self.issuerDomainNames = issuerDomainNames
            self.allowPolicyWildcard = allowPolicyWildcard
            self.clockOffset = clockOffset
        }
    }

    /// The virtualenv with acme2certifier and gunicorn (scripts/lib.sh `ensure_a2c_venv`):
    /// $DNS01_A2C_VENV, else the repository's .venv-a2c.
    public static var acme2certifierVirtualenv: String {
        if let path = ProcessInfo.processInfo.environment["DNS01_A2C_VENV"], !path.isEmpty { return path }
        return URL(fileURLWithPath: supportDirectory).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".venv-a2c").path
    }

    /// Starts acme2certifier (PyPI `acme2certifier`) beside Pebble: its own WSGI application under
    /// gunicorn, over HTTPS on a free loopback port with a certificate the lab makes; the openssl
    /// CA handler signing with a CA the lab makes, one handler per profile; SQLite; dns-01 and
    /// dns-persist-01 validated by asking the lab's secondary (or its resolver), as Pebble does.
    /// Returns once its directory answers.
    public func startACME2Certifier(_ options: ACME2CertifierOptions = .init()) async throws -> ACME2Certifier {
        let dir = "\(directory)/acme2certifier"
        let fm = FileManager.default
        for sub in ["", "/ca", "/certs"] {
            try fm.createDirectory(atPath: dir + sub, withIntermediateDirectories: true)
        }
        let tls = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(dir)/tls-key.pem", "-out", "\(dir)/tls-cert.pem", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "30",
        ])
        guard tls.status == 0 else { throw LabError("openssl could not make acme2certifier's TLS certificate: \(tls.output)") }
        let ca = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
            "-keyout", "\(dir)/ca/ca-key.pem", "-out", "\(dir)/ca/ca-cert.pem", "-subj", "/CN=dns01 lab acme2certifier CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-days", "3650",
        ])
        guard ca.status == 0 else { throw LabError("openssl could not make acme2certifier's issuing CA: \(ca.output)") }
        let server = ACME2Certifier(lab: self, directory: dir, port: try FreePort.find(on: ["127.0.0.1"]), options: options)
        try await server.launch()
        return server
    }
}
