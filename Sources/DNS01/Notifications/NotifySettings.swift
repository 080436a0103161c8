import FoundationEssentials
import Glibc
import Settings

/// `[notify]`: a command `dns01 run` starts (through /bin/sh -c) when a certificate fails, and
/// on request when one is issued or is close to expiry (`NotifyHook`).
public struct NotifySettings: Sendable, Equatable {
    /// What a notification is about (`DNS01_EVENT`).
    public enum Trigger: String, Sendable, CaseIterable {
        /// The certificate was attempted in this run and failed.
        case failure
        /// The certificate was issued in this run.
        case success
        /// The certificate in live/ expires within `expiringWithin` and was not renewed in this run.
        case expiring
    }

    public var command: String
    /// `on = ["failure", "success", "expiring"]`; only failures when unset.
    public var on: Set<Trigger>
    /// `expiring_within`: how close to notAfter an "expiring" notification starts (default 14d).
    public var expiringWithin: Duration
    /// `timeout`: how long the command may run before its process group is killed (default 60s).
    public var timeout: Duration

    public init(command: String, on: Set<Trigger> = [.failure], expiringWithin: Duration = .seconds(14 * 86400),
                timeout: Duration = .seconds(60)) {
        self.command = command
        self.on = on
        self.expiringWithin = expiringWithin
        self.timeout = timeout
    }

    /// The `[notify]` section, validated.
    static func parse(_ settings: Settings) throws -> NotifySettings {
        try settings.rejectUnknownKeys(allowed: ["command", "on", "expiring_within", "timeout"])
        let command = try settings.requiredString("command")
        var triggers: Set<Trigger> = [.failure]
        if let names = try settings.strings("on") {
            guard !names.isEmpty else {
                throw ConfigError("[notify]: key 'on' must list at least one of \(Trigger.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            triggers = try Set(names.map { name in
                guard let trigger = Trigger(rawValue: name) else {
                    throw ConfigError("[notify]: on '\(name)' is not one of \(Trigger.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                return trigger
            })
        }
        let within = try settings.duration("expiring_within") ?? .seconds(14 * 86400)
        guard within > .zero else { throw ConfigError("[notify]: expiring_within must be longer than 0s.") }
        if settings.has("expiring_within") && !triggers.contains(.expiring) {
            throw ConfigError("[notify]: expiring_within is set but 'on' does not list \"expiring\".")
        }
        let timeout = try settings.duration("timeout") ?? .seconds(60)
        guard timeout >= .seconds(1), timeout <= .seconds(3600) else {
            throw ConfigError("[notify]: timeout must be between 1s and 1h.")
        }
        return NotifySettings(command: command, on: triggers, expiringWithin: within, timeout: timeout)
    }
}
