import ACME
import Providers

extension Issuer {
    /// Providers with `single_value = true` hold one TXT value per name, but a wildcard and its
    /// apex need two at one name (and two certificates may share a name). Such challenges are
    /// split into rounds in which no single-value provider holds two values at one name; every
    /// round but the last is presented, waited for, answered, validated and removed here, so
    /// the usual one-wait flow afterwards handles the last round with everything else. A
    /// certificate whose early round fails fails with that reason.
    func validateEarlyRounds(_ prepared: [Result<Prepared, any Error>], client: ACMEClient) async throws -> [Result<Prepared, any Error>] {
        let rounds = Self.rounds(prepared, singleValue: config.singleValueProviders)
        guard rounds.count > 1 else { return prepared }
        var result = prepared
        for (number, round) in rounds.dropLast().enumerated() {
            let live = round.filter { if case .success = result[$0.index] { return true } else { return false } }
            guard !live.isEmpty else { continue }
            events(.step("single-value provider: validating round \(number + 1) of \(rounds.count) (\(live.count) challenge(s)) on its own"))
            let records = live.map(\.challenge.record)
            var presented: [ChallengeRecord] = []
            do {
                let outcomes = try await deployer.presentEach(records)
                presented = outcomes.flatMap(\.records)
                var failed: [Int: any Error] = [:]
                for outcome in outcomes {
                    guard let error = outcome.error else { continue }
                    for item in live where outcome.records.contains(item.challenge.record) { failed[item.index] = error }
                }
                let visible = live.filter { failed[$0.index] == nil }
                if !visible.isEmpty {
                    try await deployer.waitUntilVisible(visible.map(\.challenge.record))
                }
                let deadline = ContinuousClock.now + config.acme.orderTimeout
                let answers: [(Int, (any Error)?)] = try await concurrentMap(visible) { item in
                    do {
                        _ = try await client.respond(to: item.challenge.challenge)
                        _ = try await client.waitForAuthorization(at: item.challenge.authorization.url, deadline: deadline)
                        return (item.index, nil)
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        return (item.index, error)
                    }
                }
                for case let (index, error?) in answers { failed[index] = error }
                for (index, error) in failed {
                    let name = (try? result[index].get())?.request.certName ?? "?"
                    result[index] = .failure(CertificateError(name, error))
                }
                for item in visible where failed[item.index] == nil {
                    guard case .success(var ready) = result[item.index] else { continue }
                    ready.challenges.removeAll { $0.authorization.url == item.challenge.authorization.url }
                    ready.validatedEarly += 1
                    result[item.index] = .success(ready)
                }
            } catch {
                await deployer.cleanup(presented)
                throw error
            }
            await deployer.cleanup(presented)
        }
        return result
    }

    /// The challenges in rounds: each goes to the first round where none of its single-value
    /// providers already holds a value at its record's name. Challenges no single-value
    /// provider writes go to the last round.
    static func rounds(_ prepared: [Result<Prepared, any Error>], singleValue: Set<String>) -> [[(index: Int, challenge: PendingChallenge)]] {
        struct Slot: Hashable { var provider: String; var name: String }
        var rounds: [[(index: Int, challenge: PendingChallenge)]] = []
        var used: [Set<Slot>] = []
        var free: [(index: Int, challenge: PendingChallenge)] = []
        for (index, item) in prepared.enumerated() {
            guard case .success(let ready) = item else { continue }
            for challenge in ready.challenges {
                let slots = Set(challenge.record.target.providers.filter(singleValue.contains).map {
                    Slot(provider: $0, name: challenge.record.target.recordName)
                })
                guard !slots.isEmpty else { free.append((index, challenge)); continue }
                let round = used.firstIndex { $0.isDisjoint(with: slots) } ?? used.count
                if round == used.count { used.append([]); rounds.append([]) }
                used[round].formUnion(slots)
                rounds[round].append((index, challenge))
            }
        }
        if rounds.isEmpty { return [free] }
        rounds[rounds.count - 1] += free
        return rounds
    }
}
