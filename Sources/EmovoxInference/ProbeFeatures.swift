import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxEval

public enum ProbeFeatures {
    /// Probe features: student logits or fc7 embeddings on whole clips (centre ≤ 10 s).
    public static func extract(manifest: Manifest, student: StudentRunner, embedding: Bool,
                               skipped: inout [(String, String)],
                               warn: (_ file: String, _ message: String) -> Void = AudioLoader.printWarning) -> (clips: [Clip], features: [[Double]]) {
        var clips: [Clip] = [], feats: [[Double]] = []
        let progress = ProgressBar("student features", total: manifest.clips.count)
        for start in stride(from: 0, to: manifest.clips.count, by: 32) {
            let part = Array(manifest.clips[start..<min(start + 32, manifest.clips.count)])
            var ok: [Clip] = [], audio: [[Float]] = []
            for c in part {
                do { audio.append(try AudioLoader.load(c.audio, start: c.start, end: c.end, warn: warn)); ok.append(c) } catch { skipped.append((c.id, "\(error)")) }
            }
            let (l, e) = student.score(audio)
            clips += ok
            feats += (embedding ? e : l).map { $0.map(Double.init) }
            progress.update(min(start + 32, manifest.clips.count), part.last?.id ?? "")
        }
        return (clips, feats)
    }
}

/// The probe on train/test lists given from outside: EmoBox's folds, or a cross-corpus split (train the head
/// on one corpus, test on another). Labels go through `map` first; each distinct clip is scored once.
public enum ListedFoldProbe {
    public struct Fold {
        public var id: Int, train: [Clip], test: [Clip]
        public init(id: Int, train: [Clip], test: [Clip]) { self.id = id; self.train = train; self.test = test }
    }

    public struct Outcome {
        public var student: ProbeResult
        public var randomBaseline: ProbeResult
        /// Clips left out, by reason (label mapped to '-', or a test label the training side never has).
        public var dropped: [String: Int]
        public var skipped: [(String, String)]
    }

    public static func run(_ folds: [Fold], description: String, student: StudentRunner, embedding: Bool, map: LabelMap,
                           c: Double, seed: UInt64) throws -> Outcome {
        var dropped: [String: Int] = [:]
        func mapped(_ clips: [Clip]) -> [Clip] {
            clips.compactMap { clip in
                guard let l = clip.label else { dropped["no label", default: 0] += 1; return nil }
                guard let m = map.apply(l) else { dropped["\(l) mapped to -", default: 0] += 1; return nil }
                var c = clip; c.label = m; return c
            }
        }
        let trainSides = folds.map { mapped($0.train) }
        let classNames = Array(Set(trainSides.flatMap { $0.map { $0.label! } })).sorted()
        let testSides = folds.map { mapped($0.test).filter { clip in
            if classNames.contains(clip.label!) { return true }
            dropped["test label '\(clip.label!)' not in training", default: 0] += 1
            return false
        } }
        guard classNames.count >= 2 else { throw EmovoxError("probe: the training lists have \(classNames.count) class(es) after mapping; need two or more") }
        // Each clip once, however many folds list it: its audio file and its part of it.
        func key(_ c: Clip) -> String { "\(c.audio)\t\(c.start ?? 0)\t\(c.end ?? -1)" }
        var unique: [String: Clip] = [:]
        for clip in (trainSides + testSides).joined() { unique[key(clip)] = clip }
        var skipped: [(String, String)] = []
        let (scored, feats) = ProbeFeatures.extract(manifest: Manifest(clips: unique.values.sorted { key($0) < key($1) }),
                                                    student: student, embedding: embedding, skipped: &skipped)
        guard !feats.isEmpty else { throw EmovoxError("probe: no clip could be scored (first problem: \(skipped.first.map { "\($0.0): \($0.1)" } ?? "none"))") }
        let row = Dictionary(uniqueKeysWithValues: scored.enumerated().map { (key($0.element), $0.offset) })
        let labels = scored.map { classNames.firstIndex(of: $0.label!)! }
        // Index lists per fold; a clip's label is the same on both sides of a fold, so one label per row suffices.
        let splits = zip(trainSides, testSides).map { train, test in
            (train: train.compactMap { row[key($0)] }, test: test.compactMap { row[key($0)] })
        }
        let ids = folds.map(\.id)
        let result = Probe.evaluate(features: feats, labels: labels, classNames: classNames, splits: splits, folds: description, foldIDs: ids, c: c)
        let random = Probe.randomFeatures(count: feats.count, dimension: feats[0].count, seed: seed + 1)
        let base = Probe.evaluate(features: random, labels: labels, classNames: classNames, splits: splits, folds: description, foldIDs: ids, c: c)
        return Outcome(student: result, randomBaseline: base, dropped: dropped, skipped: skipped)
    }
}
