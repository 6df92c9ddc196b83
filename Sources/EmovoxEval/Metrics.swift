import Foundation
import EmovoxCore

/// ROC analysis with scikit-learn's exact conventions.
public enum ROC {
    public struct Curve: Codable, Equatable {
        public var fpr: [Double], tpr: [Double], thresholds: [Double]
    }

    /// `roc_curve(y, s, drop_intermediate=False)`: a point per distinct score (ties form one step),
    /// starting at (0, 0) with threshold +∞. nil when there are no positives or no negatives.
    public static func curve(scores: [Double], positives: [Bool]) -> Curve? {
        precondition(scores.count == positives.count, "ROC: \(scores.count) scores for \(positives.count) labels")
        let p = positives.filter { $0 }.count, n = positives.count - p
        guard p > 0, n > 0 else { return nil }
        // Descending by score; equal scores keep a stable order (only the tie groups matter).
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }
        var fpr = [0.0], tpr = [0.0], thr = [Double.infinity]
        var tp = 0, fp = 0
        for (k, i) in order.enumerated() {
            if positives[i] { tp += 1 } else { fp += 1 }
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] {
                fpr.append(Double(fp) / Double(n)); tpr.append(Double(tp) / Double(p)); thr.append(scores[i])
            }
        }
        return Curve(fpr: fpr, tpr: tpr, thresholds: thr)
    }

    /// `roc_auc_score`: trapezoidal area under the curve (ties count half). nil for a single class.
    public static func auc(scores: [Double], positives: [Bool]) -> Double? {
        guard let c = curve(scores: scores, positives: positives) else { return nil }
        var a = 0.0
        for k in 1..<c.fpr.count { a += (c.fpr[k] - c.fpr[k - 1]) * (c.tpr[k] + c.tpr[k - 1]) / 2 }
        return a
    }

    public struct ClassResult: Codable {
        public var name: String
        public var auc: Double?
        public var positives: Int
        public var negatives: Int
        public var curve: Curve?
    }

    /// One-vs-rest per class over a score matrix (rows = items, columns = classes).
    public static func oneVsRest(scores: [[Double]], labels: [Int], classNames: [String]) -> [ClassResult] {
        classNames.indices.map { c in
            let pos = labels.map { $0 == c }
            let col = scores.map { $0[c] }
            let np = pos.filter { $0 }.count
            return ClassResult(name: classNames[c], auc: auc(scores: col, positives: pos), positives: np,
                               negatives: labels.count - np, curve: curve(scores: col, positives: pos))
        }
    }
}

/// Classification metrics for unbalanced emotion data: UA (balanced accuracy), WA (accuracy),
/// macro-F1, per-class precision/recall/F1 and the confusion matrix (rows true, columns predicted).
public struct ClassificationReport: Codable {
    public var classNames: [String]
    public var confusion: [[Int]]
    public var ua: Double, wa: Double, macroF1: Double
    public var recall: [Double?], precision: [Double?], f1: [Double?]

    public init(truth: [Int], predicted: [Int], classNames: [String]) {
        precondition(truth.count == predicted.count)
        let k = classNames.count
        var cm = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (t, p) in zip(truth, predicted) { cm[t][p] += 1 }
        self.classNames = classNames; confusion = cm
        let present = (0..<k).filter { c in cm[c].reduce(0, +) > 0 }
        let used = (0..<k).filter { c in cm[c].reduce(0, +) > 0 || cm.reduce(0) { $0 + $1[c] } > 0 }
        let rec: [Double?] = (0..<k).map { c in let s = cm[c].reduce(0, +); return s > 0 ? Double(cm[c][c]) / Double(s) : nil }
        let prec: [Double?] = (0..<k).map { c in let s = cm.reduce(0) { $0 + $1[c] }; return s > 0 ? Double(cm[c][c]) / Double(s) : nil }
        let f: [Double?] = (0..<k).map { c in
            let p = prec[c] ?? 0, r = rec[c] ?? 0
            return used.contains(c) ? (p + r > 0 ? 2 * p * r / (p + r) : 0) : nil
        }
        recall = rec; precision = prec; f1 = f
        ua = present.isEmpty ? 0 : present.map { rec[$0]! }.reduce(0, +) / Double(present.count)
        wa = truth.isEmpty ? 0 : Double((0..<k).reduce(0) { $0 + cm[$1][$1] }) / Double(truth.count)
        macroF1 = used.isEmpty ? 0 : used.map { f[$0]! }.reduce(0, +) / Double(used.count)
    }
}
