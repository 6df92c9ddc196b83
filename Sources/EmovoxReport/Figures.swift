import Foundation

/// One ROC curve of one class in one split.
public struct ROCSeries {
    public var name: String, fpr: [Double], tpr: [Double], auc: Double?, positives: Int, negatives: Int
    public init(name: String, fpr: [Double], tpr: [Double], auc: Double?, positives: Int, negatives: Int) {
        self.name = name; self.fpr = fpr; self.tpr = tpr; self.auc = auc; self.positives = positives; self.negatives = negatives
    }
}

public enum ReportFigures {
    static func aucText(_ a: Double?) -> String { a.map { String(format: "%.2f", $0) } ?? "n/a" }

    /// A panel per split, a curve per emotion, AUC in the legend.
    public static func rocBySplit(_ splits: [(split: String, classes: [ROCSeries])], minPositives: Int = 1) -> Figure {
        let row = splits.map { split -> LinePlot in
            var p = LinePlot(title: split.split, xLabel: "false positive rate", yLabel: "true positive rate")
            p.diagonal = true
            for (i, c) in split.classes.enumerated() where c.auc != nil && c.positives >= minPositives {
                p.series.append(Series(label: "\(c.name) (AUC \(aucText(c.auc)))", x: c.fpr, y: c.tpr, color: Palette.color(c.name, index: i)))
            }
            if p.series.isEmpty { p.note = "no class with positives and negatives" }
            return p
        }
        return Figure(panels: [row])
    }

    /// The paper's grid: a row per emotion, three panels (train, heard, unheard), AUC in each title.
    public static func rocGrid(_ splits: [(split: String, classes: [ROCSeries])], minPositives: Int = 5) -> Figure {
        let names = splits.first?.classes.map(\.name) ?? []
        let rows = names.enumerated().map { (i, name) -> [LinePlot] in
            splits.map { split in
                let c = split.classes.first { $0.name == name }
                var p = LinePlot(title: "\(name) · \(split.split) · AUC \(aucText(c?.auc))", xLabel: "false positive rate", yLabel: "true positive rate")
                p.width = 300; p.height = 270
                p.diagonal = true
                if let c, c.auc != nil, c.positives >= minPositives {
                    p.series.append(Series(label: "", x: c.fpr, y: c.tpr, color: Palette.color(name, index: i)))
                } else {
                    p.note = "too few positives (n=\(c?.positives ?? 0))"
                }
                return p
            }
        }
        return Figure(panels: rows)
    }

    /// Per-class probability over time; the title names the dominant class.
    public static func timeline(times: [Double], probabilities: [[Double]], classes: [String], title: String) -> Figure {
        var p = LinePlot(title: title, xLabel: "time (s)", yLabel: "probability", xRange: 0...max(times.last ?? 1, 1e-3), yRange: 0...1)
        p.width = 900; p.height = 300
        for (c, name) in classes.enumerated() {
            p.series.append(Series(label: name, x: times, y: probabilities.map { $0[c] }, color: Palette.color(name, index: c)))
        }
        return Figure(panels: [[p]])
    }

    /// Training and held-out loss per epoch.
    public static func lossCurve(epochs: [Double], train: [Double], heldOut: [Double?], title: String = "distillation loss") -> Figure {
        let all = train + heldOut.compactMap { $0 }
        let lo = (all.min() ?? 0), hi = (all.max() ?? 1)
        var p = LinePlot(title: title, xLabel: "epoch", yLabel: "cross-entropy (T = 2)", xRange: (epochs.first ?? 0)...max(epochs.last ?? 1, (epochs.first ?? 0) + 1),
                         yRange: (lo - 0.05 * (hi - lo + 1e-6))...(hi + 0.05 * (hi - lo + 1e-6)))
        p.width = 520; p.height = 300
        p.series.append(Series(label: "train", x: epochs, y: train, color: "#1f77b4"))
        let h = zip(epochs, heldOut).compactMap { e, v in v.map { (e, $0) } }
        if !h.isEmpty { p.series.append(Series(label: "held-out (heard)", x: h.map(\.0), y: h.map(\.1), color: "#d62728", dashed: true)) }
        return Figure(panels: [[p]])
    }
}
