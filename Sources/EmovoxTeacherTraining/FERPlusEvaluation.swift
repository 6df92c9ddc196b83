import Foundation
import EmovoxCore
import EmovoxData
import EmovoxEval
import EmovoxModels

/// Accuracy against the majority vote, per-class recall and the confusion matrix (FER+ protocol).
public struct TeacherEvaluation {
    /// Rows and columns in FER+ order, whatever the teacher's own classes.
    public var report: ClassificationReport
    /// Mean cross-entropy against the targets; nil for a teacher whose classes are not FER+'s.
    public var meanLoss: Double?
    public var faces: Int
    /// FER+ classes the teacher cannot output (fer's FER2013 model has no contempt).
    public var unmappedClasses: [String]
    /// Accuracy on the faces whose majority class the teacher can output at all.
    public var coveredAccuracy: Double
    public var skipped: [(file: String, reason: String)]
    public var accuracy: Double { report.wa }

    public func confusionCSV() -> String {
        "truth\\predicted," + report.classNames.joined(separator: ",") + "\n"
            + zip(report.classNames, report.confusion).map { "\($0)," + $1.map(String.init).joined(separator: ",") + "\n" }.joined()
    }
}

/// Scores FER+ faces with any face teacher — a trained FER+ one or fer's FER2013 model — by the FER+ protocol.
/// A teacher's classes are matched to FER+ ones by name (angry → anger, happy → happiness, …).
public enum FERPlusEvaluation {
    /// FER+ index of each of the teacher's classes (nil: no FER+ counterpart).
    public static func classMap(_ labels: [String]) -> [Int?] {
        let ferplus = FERPlus.emotions.map(Emotion.canonical)
        return labels.map { ferplus.firstIndex(of: Emotion.canonical($0)) }
    }

    public static func evaluate(_ teacher: FaceTeacher, faces: [FERPlusFace], lossMode: TeacherTargetMode = .distribution,
                                batchSize: Int = 128) -> TeacherEvaluation {
        let map = classMap(teacher.labels)
        let sameClasses = teacher.labels == FERPlus.emotions
        let outputs = Set(map.compactMap { $0 })
        let usable = faces.filter { $0.majority != nil }
        var truth: [Int] = [], predicted: [Int] = [], lossSum = 0.0, skipped: [(String, String)] = []
        for start in stride(from: 0, to: usable.count, by: batchSize) {
            let batch = Array(usable[start..<min(start + batchSize, usable.count)])
            let (x, kept, failed) = TeacherTrainer.inputs(batch, size: teacher.cropSize.width, augmentation: nil, seed: 0, epoch: 0, firstPosition: 0)
            skipped += failed
            if kept.isEmpty { continue }
            let logits = teacher.network.logits(x), k = logits.shape[1]
            if sameClasses {
                let targets = kept.flatMap { TeacherTrainer.target(batch[$0], mode: lossMode)! }
                lossSum += Double(Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets)).loss) * Double(kept.count)
            }
            for (r, i) in kept.enumerated() {
                // The best-scoring class that has a FER+ counterpart (fer's classes all do).
                let row = logits.data[(r * k)..<((r + 1) * k)]
                let best = row.indices.filter { map[$0 - r * k] != nil }.max { row[$0] < row[$1] }.map { map[$0 - r * k]! }
                predicted.append(best ?? 0); truth.append(batch[i].majority!)
            }
        }
        let covered = zip(truth, predicted).filter { outputs.contains($0.0) }
        return TeacherEvaluation(report: ClassificationReport(truth: truth, predicted: predicted, classNames: FERPlus.emotions),
                                 meanLoss: sameClasses && !truth.isEmpty ? lossSum / Double(truth.count) : nil, faces: truth.count,
                                 unmappedClasses: FERPlus.emotions.indices.filter { !outputs.contains($0) }.map { FERPlus.emotions[$0] },
                                 coveredAccuracy: covered.isEmpty ? 0 : Double(covered.filter { $0.0 == $0.1 }.count) / Double(covered.count),
                                 skipped: skipped)
    }
}
