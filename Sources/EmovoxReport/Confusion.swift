import Foundation

/// A confusion matrix as a heat map: rows are true classes, columns predicted ones, each cell shaded by the
/// share of its row (so the diagonal reads as per-class recall) and labelled with its count; the row's
/// recall and support are printed at the right. Rows without items are greyed out.
public struct ConfusionPlot: FigurePanel {
    public var title: String
    public var classNames: [String]
    /// counts[true][predicted]
    public var counts: [[Int]]
    public var width = 420.0, height = 400.0

    public init(title: String, classNames: [String], counts: [[Int]]) {
        precondition(counts.count == classNames.count && counts.allSatisfy { $0.count == classNames.count }, "confusion: shape mismatch")
        self.title = title; self.classNames = classNames; self.counts = counts
    }

    static let margin = (left: 78.0, right: 62.0, top: 34.0, bottom: 74.0)

    /// Row recall (nil for a class with no items) and support.
    public var recall: [(recall: Double?, support: Int)] {
        counts.enumerated().map { i, row in
            let n = row.reduce(0, +)
            return (n > 0 ? Double(row[i]) / Double(n) : nil, n)
        }
    }

    /// White → blue by share of the row.
    static func shade(_ share: Double) -> String {
        let t = min(max(share, 0), 1)
        let r = Int(255 - t * (255 - 31)), g = Int(255 - t * (255 - 119)), b = Int(255 - t * (255 - 180))
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    public func group(dx: Double = 0, dy: Double = 0) -> String {
        let m = Self.margin, k = Double(max(classNames.count, 1))
        let cell = min((width - m.left - m.right) / k, (height - m.top - m.bottom) / k)
        var s = "<g class=\"confusion\" transform=\"translate(\(dx),\(dy))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        s += "<text x=\"\(m.left + cell * k / 2)\" y=\"\(m.top - 14)\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">\(xmlEscape(title))</text>\n"
        let rec = recall
        for (i, row) in counts.enumerated() {
            let y = m.top + Double(i) * cell, n = row.reduce(0, +)
            for (j, c) in row.enumerated() {
                let x = m.left + Double(j) * cell, share = n > 0 ? Double(c) / Double(n) : 0
                s += "<rect class=\"cell\" x=\"\(x)\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(n > 0 ? Self.shade(share) : "#eeeeee")\" stroke=\"\(i == j ? "#333" : "#fff")\"/>"
                if c > 0 {
                    s += "<text x=\"\(x + cell / 2)\" y=\"\(y + cell / 2 + 4)\" font-size=\"10.5\" text-anchor=\"middle\" fill=\"\(share > 0.55 ? "#fff" : "#222")\">\(c)</text>"
                }
            }
            s += "<text x=\"\(m.left - 5)\" y=\"\(y + cell / 2 + 4)\" font-size=\"11\" text-anchor=\"end\">\(xmlEscape(classNames[i]))</text>"
            let r = rec[i].recall.map { String(format: "%.2f", $0) } ?? "–"
            s += "<text class=\"recall\" x=\"\(m.left + cell * k + 5)\" y=\"\(y + cell / 2 + 4)\" font-size=\"10.5\">\(r) (\(n))</text>\n"
        }
        for (j, name) in classNames.enumerated() {
            let x = m.left + (Double(j) + 0.5) * cell, y = m.top + cell * k + 8
            s += "<text transform=\"translate(\(x),\(y)) rotate(45)\" font-size=\"11\">\(xmlEscape(name))</text>"
        }
        s += "\n<text x=\"\(m.left + cell * k / 2)\" y=\"\(height - 6)\" font-size=\"12\" text-anchor=\"middle\">predicted</text>"
        s += "<text x=\"\(m.left + cell * k + 5)\" y=\"\(m.top - 2)\" font-size=\"10\">recall (n)</text>"
        s += "<text transform=\"translate(12,\(m.top + cell * k / 2)) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">true</text>\n"
        return s + "</g>\n"
    }

    public var svg: String { Figure(panels: [[self]]).svg }
}
