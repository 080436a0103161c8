import Foundation
import TestLab

// dns01-lab up --dir DIR [--lag N] [--zone Z]... [--nonce-reject PCT] [--cert-validity SECONDS] [--cloudflare] [--route53] [--google] [--azure] [--acme2certifier] [--postgres]
// Starts the lab, writes DIR/dns01.toml (DIR/dns01-a2c.toml for acme2certifier), DIR/lab.env and
// DIR/ready, and runs until SIGTERM/SIGINT.

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dns01-lab: \(message)\nusage: dns01-lab up --dir DIR [--lag SECONDS] [--zone ZONE]... [--nonce-reject PERCENT] [--authz-reuse PERCENT] [--cert-validity SECONDS] [--secondary-port PORT] [--cloudflare] [--route53] [--google] [--azure] [--acme2certifier] [--postgres]\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "up" else { usage("the only command is 'up'") }
arguments.removeFirst()
var directory: String?
var options = TestLab.Options()
var zones: [String] = []
var cloudflare = false, route53 = false, google = false, azure = false, acme2certifier = false, postgres = false
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    // Flags without a value: the DNS host API stand-ins.
    if flag == "--cloudflare" { cloudflare = true; continue }
    if flag == "--route53" { route53 = true; continue }
    if flag == "--google" { google = true; continue }
    if flag == "--azure" { azure = true; continue }
    // A second real CA beside Pebble, with ARI, profiles and dns-persist-01.
    if flag == "--acme2certifier" { acme2certifier = true; continue }
    // A PostgreSQL for the fleet storage.
    if flag == "--postgres" { postgres = true; continue }
    guard let value = arguments.first else { usage("\(flag) needs a value") }
    arguments.removeFirst()
    switch flag {
    case "--dir": directory = value
    case "--lag":
        guard let lag = Int(value), lag >= 0 else { usage("--lag needs a number of seconds, not '\(value)'") }
        options.secondaryLag = lag
    case "--zone": zones.append(value)
    case "--nonce-reject": options.pebbleEnv["PEBBLE_WFE_NONCEREJECT"] = value
    case "--authz-reuse": options.pebbleEnv["PEBBLE_AUTHZREUSE"] = value
    // Pebble's certificateValidityPeriod: short certificates that a `dns01 run` "a day later"
    // (DNS01_TEST_CLOCK_OFFSET) finds due, as IssuedRenewalTests uses them.
    case "--cert-validity":
        guard let seconds = Int(value), seconds > 0 else { usage("--cert-validity needs a number of seconds, not '\(value)'") }
        options.pebbleConfigExtra["certificateValidityPeriod"] = String(seconds)
    case "--secondary-port":
        guard let port = UInt16(value) else { usage("--secondary-port needs a port number, not '\(value)'") }
        options.secondaryPort = port
    default: usage("unknown option \(flag)")
    }
}
guard let directory else { usage("--dir is required") }
if !zones.isEmpty { options.zones = zones }

signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let done = DispatchSemaphore(value: 0)
let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler { done.signal() }
    source.resume()
    return source
}

Task {
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lab = try await TestLab.start(options)
        try lab.configTOML(stateDir: "\(directory)/state").write(toFile: "\(directory)/dns01.toml", atomically: true, encoding: .utf8)
        let env = """
        LAB_DIR='\(lab.directory)'
        LAB_PRIMARY='\(lab.primary)'
        LAB_SECONDARY='\(lab.secondary)'
        LAB_PORT='\(lab.port)'
        LAB_SECONDARY_PORT='\(lab.secondaryPort)'
        LAB_TSIG_KEY_FILE='\(lab.tsigKeyFile)'
        LAB_TSIG_KEY_NAME='\(lab.tsigKeyName)'
        LAB_PEBBLE_DIR='\(lab.pebbleDirectory)'
        LAB_PEBBLE_CA='\(lab.pebbleCAFile)'
        LAB_PEBBLE_MGMT='\(lab.pebbleManagement)'
        LAB_ZONES='\(lab.options.zones.joined(separator: " "))'

        """
        var extra = ""
        if cloudflare {
            let api = try await lab.startCloudflareAPI()
            extra += "LAB_CLOUDFLARE_URL='\(api.baseURL)'\nLAB_CLOUDFLARE_TOKEN_FILE='\(api.tokenFile)'\n"
        }
        if route53 {
            let r53 = try await lab.startRoute53()
            extra += "LAB_ROUTE53_ENDPOINT='\(r53.endpoint)'\n"
        }
        if google {
            let api = try await lab.startGoogleAPI()
            extra += "LAB_GOOGLE_URL='\(api.baseURL)'\nLAB_GOOGLE_KEY_FILE='\(api.keyFile)'\n"
        }
        if azure {
            let api = try await lab.startAzureAPI()
            extra += "LAB_AZURE_URL='\(api.baseURL)'\nLAB_AZURE_METADATA_URL='\(api.metadataURL)'\nLAB_AZURE_SECRET_FILE='\(api.secretFile)'\n"
                + "LAB_AZURE_TENANT='\(api.tenantID)'\nLAB_AZURE_CLIENT_ID='\(api.clientID)'\nLAB_AZURE_SUBSCRIPTION='\(api.subscriptionID)'\n"
        }
        var ready = "lab ready: primary \(lab.primary), secondary \(lab.secondary), Pebble \(lab.pebbleDirectory)"
        if acme2certifier {
            let a2c = try await lab.startACME2Certifier()
            try a2c.configTOML(stateDir: "\(directory)/state-a2c").write(toFile: "\(directory)/dns01-a2c.toml", atomically: true, encoding: .utf8)
            extra += "LAB_A2C_DIR='\(a2c.directoryURL)'\nLAB_A2C_CA='\(a2c.caBundle)'\n"
            ready += ", acme2certifier \(a2c.directoryURL) (CA bundle \(a2c.caBundle); up in \(String(format: "%.1f", a2c.startSeconds)) s)"
        }
        if postgres {
            let pg = try await lab.startPostgreSQL()
            extra += "LAB_POSTGRES_URL='\(pg.url)'\nLAB_POSTGRES_PASSWORD_FILE='\(pg.passwordFile)'\nLAB_POSTGRES_LOG='\(pg.logFile)'\n"
            ready += ", PostgreSQL \(pg.urlWithoutPassword) (password in \(pg.passwordFile))"
        }
        // With PostgreSQL's URL, which holds the lab's random password, lab.env is made readable
        // by its owner only, from its first byte (nothing else creates files meanwhile).
        let umaskBefore = postgres ? umask(0o077) : nil
        try (env + extra).write(toFile: "\(directory)/lab.env", atomically: true, encoding: .utf8)
        if let umaskBefore { umask(umaskBefore) }
        FileManager.default.createFile(atPath: "\(directory)/ready", contents: Data())
        print(ready)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { done.wait(); continuation.resume() }
        }
        lab.stop()
        try? FileManager.default.removeItem(atPath: "\(directory)/ready")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("dns01-lab: \(error)\n".utf8))
        exit(1)
    }
}
dispatchMain()
