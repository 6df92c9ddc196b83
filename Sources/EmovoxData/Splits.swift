import Foundation
import EmovoxCore
import EmovoxUtilities

/// The paper's identity splits of a manifest: speakers seen in training (`train`, and `heard` clips held out from it)
/// and speakers never heard (`unheard`). Manifests store the raw value.
public enum SplitName: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case train, heard, unheard
    /// Printed by name (as on the command line and in files).
    public var description: String { rawValue }
}

/// How many speakers to hold out as *unheard*: a count ("4") or a fraction of the speakers ("0.2").
/// The default (4, capped at half the speakers) keeps most voices for training on small corpora.
public struct UnheardSpec: Equatable, CustomStringConvertible {
    public enum Amount: Equatable { case count(Int), fraction(Double) }
    public var amount: Amount
    /// A default is capped at half the speakers; an explicit request is honoured up to all but one.
    public var isDefault: Bool

    public static let standard = UnheardSpec(amount: .count(4), isDefault: true)

    public init(amount: Amount, isDefault: Bool = false) { self.amount = amount; self.isDefault = isDefault }

    /// "4" → a count; "0.25" (anything with a point, in (0, 1)) → a fraction.
    public init(_ text: String) throws {
        if let n = Int(text) {
            guard n >= 1 else { throw EmovoxError("unheard speakers \(text): hold out at least one speaker") }
            self.init(amount: .count(n))
        } else if let f = Double(text), f > 0, f < 1 {
            self.init(amount: .fraction(f))
        } else {
            throw EmovoxError("unheard speakers '\(text)' is neither a speaker count (e.g. 4) nor a fraction in (0, 1) (e.g. 0.2)")
        }
    }

    public var description: String {
        switch amount {
        case .count(let n): return isDefault ? "\(n) (at most half the speakers)" : "\(n)"
        case .fraction(let f): return "\(f) of the speakers"
        }
    }

    /// Unheard speakers out of `speakers`: at least one, and at least one left to train on.
    public func resolve(speakers: Int) throws -> Int {
        guard speakers >= 2 else {
            throw EmovoxError("identity splits need at least 2 speakers (one to train on, one unheard); the corpus has \(speakers)")
        }
        var n: Int
        switch amount {
        case .count(let c): n = c
        case .fraction(let f): n = min(Int((f * Double(speakers)).rounded()), speakers - 1)
        }
        if isDefault { n = min(n, speakers / 2) }
        guard n < speakers else { throw EmovoxError("cannot hold out \(n) of \(speakers) speakers and still train") }
        return max(1, n)
    }
}

/// The paper's identity splits: *unheard* = held-out speakers; *heard* = held-out clips of the other
/// speakers; *train* = the rest. Deterministic for a seed.
public enum Splitter {
    public static func assign(_ manifest: Manifest, unheard: UnheardSpec, heardFraction: Double, seed: UInt64) throws -> Manifest {
        try assign(manifest, unheardSpeakers: try unheard.resolve(speakers: manifest.speakers.count), heardFraction: heardFraction, seed: seed)
    }

    public static func assign(_ manifest: Manifest, unheardSpeakers: Int, heardFraction: Double, seed: UInt64) throws -> Manifest {
        let speakers = manifest.speakers
        guard unheardSpeakers >= 1 else { throw EmovoxError("hold out at least one speaker (got \(unheardSpeakers))") }
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
            if unheard.contains(speaker) { idx.forEach { out.clips[$0].split = SplitName.unheard.rawValue }; continue }
            var shuffled = idx
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.int(below: i + 1)) }
            let nHeard = shuffled.count >= 2 ? max(1, Int((Double(shuffled.count) * heardFraction).rounded())) : 0
            for (k, i) in shuffled.enumerated() { out.clips[i].split = (k < min(nHeard, shuffled.count - 1) ? SplitName.heard : .train).rawValue }
        }
        return out
    }
}
