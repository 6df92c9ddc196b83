import Foundation
import EmovoxCore

/// The paper's identity splits: *unheard* = held-out speakers; *heard* = held-out clips of the other
/// speakers; *train* = the rest. Deterministic for a seed.
public enum Splitter {
    public static func assign(_ manifest: Manifest, unheardSpeakers: Int, heardFraction: Double, seed: UInt64) throws -> Manifest {
        let speakers = manifest.speakers
        guard unheardSpeakers < speakers.count else {
            throw EmovoxError("cannot hold out \(unheardSpeakers) of \(speakers.count) speakers and still train")
        }
        var rng = SeededRNG(seed: seed)
        var order = speakers
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        // Alternate genders when the corpus records them, so the unheard set is balanced.
        let gender = Dictionary(manifest.clips.map { ($0.speaker, $0.extra?["gender"] ?? "") }, uniquingKeysWith: { a, _ in a })
        if Set(gender.values).count > 1 {
            let groups = Dictionary(grouping: order, by: { gender[$0] ?? "" }).values.map { $0 }
            var merged: [String] = [], k = 0
            while merged.count < order.count { for g in groups where k < g.count { merged.append(g[k]) }; k += 1 }
            order = merged
        }
        let unheard = Set(order.prefix(unheardSpeakers))
        var out = manifest
        let bySpeaker = Dictionary(grouping: out.clips.indices, by: { out.clips[$0].speaker })
        for (speaker, idx) in bySpeaker.sorted(by: { $0.key < $1.key }) {
            if unheard.contains(speaker) { idx.forEach { out.clips[$0].split = "unheard" }; continue }
            var shuffled = idx
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.int(below: i + 1)) }
            let nHeard = shuffled.count >= 2 ? max(1, Int((Double(shuffled.count) * heardFraction).rounded())) : 0
            for (k, i) in shuffled.enumerated() { out.clips[i].split = k < min(nHeard, shuffled.count - 1) ? "heard" : "train" }
        }
        return out
    }
}
