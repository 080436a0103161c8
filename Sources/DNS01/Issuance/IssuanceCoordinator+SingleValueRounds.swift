import ACME
import Clocks

extension IssuanceCoordinator {
    /// Providers with `single_value = true` hold one TXT value per name, but a wildcard and its
    /// apex need two at one name (and two certificates may share a name). Such challenges are
    /// split into rounds in which no single-value provider holds two values at one name; every
    /// round but the last is presented, waited for, answered, validated and removed here, so
    /// the one-wait flow afterwards handles the last round with everything else. A job whose
    /// early round fails fails with that reason.
    func validateEarlyRounds() async throws {
        let rounds = Self.rounds(jobs.filter { $0.phase == .planned }.map { ($0.index, $0.challenges) },
                                 singleValue: env.config.singleValueProviders)
        guard rounds.count > 1 else { return }
        let dns = env.dns, client = env.client
        for (number, round) in rounds.dropLast().enumerated() {
            let live = round.filter { jobs[$0.index].phase == .planned }
            guard !live.isEmpty else { continue }
            env.events(.step("single-value provider: validating round \(number + 1) of \(rounds.count) (\(live.count) challenge(s)) on its own"))
            let records = live.compactMap(\.challenge.record)
            var written: [ChallengeRecord] = []
            do {
                let outcomes = try await dns.presentEach(records)
                written = outcomes.flatMap(\.records)
                var failed: [Int: any Error] = [:]
                for outcome in outcomes {
                    guard let error = outcome.error else { continue }
                    for item in live where item.challenge.record.map(outcome.records.contains) == true { failed[item.index] = error }
                }
                let visible = live.filter { failed[$0.index] == nil }
                if !visible.isEmpty { try await dns.waitUntilVisible(visible.compactMap(\.challenge.record)) }
                let deadline = env.clock.now + env.config.acme.orderTimeout
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
                for (index, error) in failed { fail(index, error) }
                for item in visible where failed[item.index] == nil && jobs[item.index].phase == .planned {
                    jobs[item.index].challenges.removeAll { $0.authorization.url == item.challenge.authorization.url }
                    jobs[item.index].validatedEarly += 1
                }
            } catch {
                await dns.cleanup(written)
                throw error
            }
            await dns.cleanup(written)
        }
    }

    /// The challenges in rounds: each goes to the first round where none of its single-value
    /// providers already holds a value at its record's name. Challenges no single-value
    /// provider writes (or with nothing to write) go to the last round.
    static func rounds(_ jobs: [(index: Int, challenges: [PlannedChallenge])],
                       singleValue: Set<String>) -> [[(index: Int, challenge: PlannedChallenge)]] {
        struct Slot: Hashable { var provider: String; var name: String }
        var rounds: [[(index: Int, challenge: PlannedChallenge)]] = []
        var used: [Set<Slot>] = []
        var free: [(index: Int, challenge: PlannedChallenge)] = []
        for (index, challenges) in jobs {
            for challenge in challenges {
                guard let record = challenge.record else { free.append((index, challenge)); continue }
                let slots = Set(record.target.providers.filter(singleValue.contains).map { Slot(provider: $0, name: record.target.recordName) })
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
