import Foundation
import EmovoxCore
import EmovoxUtilities

/// How items are split into folds.
public enum FoldSpec: Equatable, CustomStringConvertible {
    /// Leave-speakers-out k-fold (k = number of speakers: leave-one-speaker-out).
    case speaker(k: Int?)
    /// Random k-fold over items (the paper's protocol; leaks speaker and text on acted corpora).
    case random(k: Int)
    /// Folds given by a group field (e.g. IEMOCAP sessions).
    case groups

    public init(_ text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        switch parts.first {
        case "speaker": self = .speaker(k: parts.count > 1 ? Int(parts[1]) : 5)
        case "loso": self = .speaker(k: nil)
        case "random": self = .random(k: parts.count > 1 ? Int(parts[1]) ?? 10 : 10)
        case "session", "groups": self = .groups
        default: throw EmovoxError("unknown fold spec '\(text)' (speaker[:k], loso, random[:k], session)")
        }
    }

    public var description: String {
        switch self {
        case .speaker(let k): return k.map { "speaker-independent \($0)-fold" } ?? "leave-one-speaker-out"
        case .random(let k): return "random \(k)-fold (speaker-dependent)"
        case .groups: return "by group (session)"
        }
    }

    /// Test-fold index per item. Speakers are shuffled by the seed, then dealt largest-first to the
    /// currently smallest fold, so folds are balanced and no speaker spans two folds.
    public func assign(speakers: [String], groups: [String]? = nil, seed: UInt64) -> [Int] {
        var rng = SeededRNG(seed: seed)
        switch self {
        case .random(let k):
            var idx = Array(speakers.indices)
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
            var fold = [Int](repeating: 0, count: speakers.count)
            for (r, i) in idx.enumerated() { fold[i] = r * k / max(idx.count, 1) }
            return fold
        case .groups, .speaker:
            let keys = (self == .groups ? groups ?? speakers : speakers)
            var unique = Array(Set(keys)).sorted()
            for i in stride(from: unique.count - 1, to: 0, by: -1) { unique.swapAt(i, rng.int(below: i + 1)) }
            let k: Int
            if case .speaker(let kk) = self { k = min(kk ?? unique.count, unique.count) } else { k = unique.count }
            let size = Dictionary(grouping: keys, by: { $0 }).mapValues(\.count)
            var load = [Int](repeating: 0, count: k), foldOf: [String: Int] = [:]
            for key in unique.enumerated().sorted(by: { (size[$0.element]!, -$0.offset) > (size[$1.element]!, -$1.offset) }).map(\.element) {
                let f = load.indices.min { load[$0] < load[$1] }!
                foldOf[key] = f; load[f] += size[key]!
            }
            return keys.map { foldOf[$0]! }
        }
    }
}

/// Frozen-student evaluation: a logistic regression on fixed features, cross-validated.
public struct ProbeResult: Codable {
    public struct Summary: Codable { public var mean: Double; public var std: Double }
    public var folds: String
    public var classNames: [String]
    public var items: Int
    public var featureDimension: Int
    public var perFold: [[String: Double]]
    public var ua: Summary, wa: Summary, macroF1: Summary
    /// Pooled over all test folds.
    public var pooled: ClassificationReport

    public func table(title: String) -> String {
        var s = "\(title): UA \(f(ua.mean)) ± \(f(ua.std))   WA \(f(wa.mean)) ± \(f(wa.std))   macro-F1 \(f(macroF1.mean)) ± \(f(macroF1.std))   (\(folds), \(items) clips)\n"
        s += "  per class recall: " + classNames.indices.map { "\(classNames[$0]) \(pooled.recall[$0].map(f) ?? "–")" }.joined(separator: ", ") + "\n"
        return s
    }

    /// One line per fold, as EmoBox prints its results: fold, test clips, WA, UA, macro-F1.
    public func foldTable() -> String {
        var s = "  fold      n     WA     UA  macro-F1\n"
        for r in perFold {
            s += String(format: "  %4d %6d  %.3f  %.3f  %.3f\n", Int(r["fold"]!), Int(r["n"]!), r["wa"]!, r["ua"]!, r["macro_f1"]!)
        }
        return s
    }

    /// The pooled confusion matrix (rows true, columns predicted) as aligned text.
    public func confusionTable() -> String {
        let w = max(8, (classNames.map(\.count).max() ?? 0) + 1)
        func pad(_ t: String) -> String { String(repeating: " ", count: max(0, w - t.count)) + t }
        var s = pad("true\\pred") + classNames.map(pad).joined() + "\n"
        for (i, row) in pooled.confusion.enumerated() { s += pad(classNames[i]) + row.map { pad(String($0)) }.joined() + "\n" }
        return s
    }

    func f(_ x: Double) -> String { String(format: "%.3f", x) }
}

public enum Probe {
    public static func run(features: [[Double]], labels: [Int], speakers: [String], groups: [String]? = nil,
                           classNames: [String], folds spec: FoldSpec, seed: UInt64 = 0, c: Double = 1.0) throws -> ProbeResult {
        guard features.count == labels.count, !features.isEmpty else { throw EmovoxError("probe: \(features.count) feature rows for \(labels.count) labels") }
        let fold = spec.assign(speakers: speakers, groups: groups, seed: seed)
        let k = (fold.max() ?? 0) + 1
        guard k >= 2 else { throw EmovoxError("probe: need at least two folds (got \(k); too few speakers?)") }
        let splits = (0..<k).map { f in (train: features.indices.filter { fold[$0] != f }, test: features.indices.filter { fold[$0] == f }) }
        return evaluate(features: features, labels: labels, classNames: classNames, splits: splits, folds: spec.description, c: c)
    }

    /// The probe on given train/test index lists (EmoBox's fold lists, or one cross-corpus split): a standardiser
    /// and a logistic regression fitted on each train list, UA/WA/macro-F1 on its test list.
    public static func evaluate(features: [[Double]], labels: [Int], classNames: [String], splits: [(train: [Int], test: [Int])],
                                folds: String, foldIDs: [Int]? = nil, c: Double = 1.0) -> ProbeResult {
        var perFold: [[String: Double]] = [], truth: [Int] = [], pred: [Int] = []
        for (f, split) in splits.enumerated() {
            let (train, test) = split
            guard !test.isEmpty, !train.isEmpty else { continue }
            let std = Standardizer(fit: train.map { features[$0] })
            var lr = LogisticRegression(c: c, classes: classNames.count, dimension: features[0].count)
            lr.fit(x: std.transform(train.map { features[$0] }), y: train.map { labels[$0] })
            let p = lr.predict(std.transform(test.map { features[$0] }))
            let r = ClassificationReport(truth: test.map { labels[$0] }, predicted: p, classNames: classNames)
            perFold.append(["fold": Double(foldIDs?[f] ?? f), "ua": r.ua, "wa": r.wa, "macro_f1": r.macroF1, "n": Double(test.count)])
            truth += test.map { labels[$0] }; pred += p
        }
        func summary(_ key: String) -> ProbeResult.Summary {
            let v = perFold.map { $0[key]! }, m = v.reduce(0, +) / Double(max(v.count, 1))
            return .init(mean: m, std: (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(v.count, 1))).squareRoot())
        }
        return ProbeResult(folds: folds, classNames: classNames, items: features.count, featureDimension: features.first?.count ?? 0,
                           perFold: perFold, ua: summary("ua"), wa: summary("wa"), macroF1: summary("macro_f1"),
                           pooled: ClassificationReport(truth: truth, predicted: pred, classNames: classNames))
    }

    /// The probe on `features` and, under the same folds, on random features of the same size (the chance baseline).
    public static func withBaseline(features: [[Double]], labels: [Int], speakers: [String], groups: [String]? = nil,
                                    classNames: [String], folds: FoldSpec, seed: UInt64 = 0, c: Double = 1.0) throws -> (student: ProbeResult, random: ProbeResult) {
        let res = try run(features: features, labels: labels, speakers: speakers, groups: groups, classNames: classNames, folds: folds, seed: seed, c: c)
        let base = try run(features: randomFeatures(count: features.count, dimension: features[0].count, seed: seed + 1), labels: labels,
                           speakers: speakers, groups: groups, classNames: classNames, folds: folds, seed: seed, c: c)
        return (res, base)
    }

    /// Random Gaussian features of the same dimension: the chance-level baseline under the same protocol.
    public static func randomFeatures(count: Int, dimension: Int, seed: UInt64) -> [[Double]] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in (0..<dimension).map { _ in Double(rng.normal()) } }
    }
}

/// A fitted probe kept for later use (`--save-head`): standardiser + classifier + class names.
public struct CalibrationHead: Codable {
    public var classNames: [String]
    public var features: String
    public var standardizer: Standardizer
    public var model: LogisticRegression

    public init(classNames: [String], features: String, x: [[Double]], y: [Int], c: Double) {
        self.classNames = classNames; self.features = features
        standardizer = Standardizer(fit: x)
        model = LogisticRegression(c: c, classes: classNames.count, dimension: x.first?.count ?? 0)
        model.fit(x: standardizer.transform(x), y: y)
    }

    public func probabilities(_ x: [[Double]]) -> [[Double]] { model.probabilities(standardizer.transform(x)) }
}
