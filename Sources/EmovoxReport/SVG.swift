import Foundation
import EmovoxCore
import EmovoxUtilities

/// Hand-written SVG figures: no plotting library, readable output, fixed colours per emotion.
public enum Palette {
    static let emotion: [String: String] = [
        "neutral": "#7f7f7f", "happy": "#e6a700", "happiness": "#e6a700", "surprise": "#ff7f0e", "sad": "#1f77b4", "sadness": "#1f77b4",
        "angry": "#d62728", "anger": "#d62728", "disgust": "#2ca02c", "fear": "#9467bd", "contempt": "#8c564b", "calm": "#17becf",
    ]
    static let cycle = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]

    public static func color(_ name: String, index: Int = 0) -> String { emotion[name.lowercased()] ?? cycle[index % cycle.count] }
}

public func xmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

public struct Series {
    public var label: String, x: [Double], y: [Double], color: String, dashed: Bool, step: Bool
    public init(label: String, x: [Double], y: [Double], color: String, dashed: Bool = false, step: Bool = false) {
        self.label = label; self.x = x; self.y = y; self.color = color; self.dashed = dashed; self.step = step
    }
}

/// A panel a `Figure` can lay out in its grid.
public protocol FigurePanel {
    var width: Double { get }
    var height: Double { get }
    /// The panel as an SVG group translated to (dx, dy).
    func group(dx: Double, dy: Double) -> String
}

/// One panel of line plots with axes, ticks, labels, legend and an optional chance diagonal.
public struct LinePlot: FigurePanel {
    public var title: String
    public var xLabel: String, yLabel: String
    public var xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
    public var series: [Series] = []
    public var diagonal = false
    public var note: String? = nil
    public var width = 360.0, height = 320.0

    public init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double> = 0...1, yRange: ClosedRange<Double> = 0...1) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.xRange = xRange; self.yRange = yRange
    }

    static let margin = (left: 52.0, right: 12.0, top: 30.0, bottom: 44.0)

    /// Maps data to pixel coordinates of this panel (origin at the lower-left of the axes).
    public func point(_ x: Double, _ y: Double) -> (Double, Double) {
        let m = Self.margin
        let pw = width - m.left - m.right, ph = height - m.top - m.bottom
        let span = { (r: ClosedRange<Double>) in r.upperBound - r.lowerBound == 0 ? 1 : r.upperBound - r.lowerBound }
        return (m.left + (x - xRange.lowerBound) / span(xRange) * pw, m.top + ph - (y - yRange.lowerBound) / span(yRange) * ph)
    }

    static func ticks(_ r: ClosedRange<Double>) -> [Double] {
        let span = r.upperBound - r.lowerBound
        guard span > 0 else { return [r.lowerBound] }
        let raw = span / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = ceil(r.lowerBound / step) * step, out: [Double] = []
        while t <= r.upperBound + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func fmt(_ v: Double) -> String {
        abs(v - v.rounded()) < 1e-9 ? String(Int(v.rounded())) : String(format: abs(v) < 1 ? "%.2g" : "%.1f", v)
    }

    /// The panel as an SVG group translated to (dx, dy).
    public func group(dx: Double = 0, dy: Double = 0) -> String {
        let m = Self.margin
        var s = "<g transform=\"translate(\(dx),\(dy))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        let (x0, y0) = point(xRange.lowerBound, yRange.lowerBound), (x1, y1) = point(xRange.upperBound, yRange.upperBound)
        s += "<rect x=\"\(x0)\" y=\"\(y1)\" width=\"\(x1 - x0)\" height=\"\(y0 - y1)\" fill=\"#fff\" stroke=\"#333\" stroke-width=\"1\"/>\n"
        for t in Self.ticks(xRange) {
            let (px, _) = point(t, yRange.lowerBound)
            s += "<line x1=\"\(px)\" y1=\"\(y0)\" x2=\"\(px)\" y2=\"\(y1)\" stroke=\"#eee\"/><line x1=\"\(px)\" y1=\"\(y0)\" x2=\"\(px)\" y2=\"\(y0 + 4)\" stroke=\"#333\"/>"
            s += "<text x=\"\(px)\" y=\"\(y0 + 16)\" font-size=\"11\" text-anchor=\"middle\">\(Self.fmt(t))</text>\n"
        }
        for t in Self.ticks(yRange) {
            let (_, py) = point(xRange.lowerBound, t)
            s += "<line x1=\"\(x0)\" y1=\"\(py)\" x2=\"\(x1)\" y2=\"\(py)\" stroke=\"#eee\"/><line x1=\"\(x0 - 4)\" y1=\"\(py)\" x2=\"\(x0)\" y2=\"\(py)\" stroke=\"#333\"/>"
            s += "<text x=\"\(x0 - 7)\" y=\"\(py + 4)\" font-size=\"11\" text-anchor=\"end\">\(Self.fmt(t))</text>\n"
        }
        if diagonal {
            let (a, b) = point(xRange.lowerBound, yRange.lowerBound), (c, d) = point(xRange.upperBound, yRange.upperBound)
            s += "<line x1=\"\(a)\" y1=\"\(b)\" x2=\"\(c)\" y2=\"\(d)\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
        }
        for sr in series where !sr.x.isEmpty {
            var pts: [(Double, Double)] = []
            for i in sr.x.indices {
                if sr.step && i > 0 { pts.append(point(sr.x[i], sr.y[i - 1])) }
                pts.append(point(sr.x[i], sr.y[i]))
            }
            let d = pts.map { String(format: "%.2f,%.2f", $0.0, $0.1) }.joined(separator: " ")
            s += "<polyline class=\"series\" points=\"\(d)\" fill=\"none\" stroke=\"\(sr.color)\" stroke-width=\"2\"\(sr.dashed ? " stroke-dasharray=\"6 3\"" : "")/>\n"
        }
        s += "<text x=\"\((x0 + x1) / 2)\" y=\"\(m.top - 10)\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">\(xmlEscape(title))</text>\n"
        s += "<text x=\"\((x0 + x1) / 2)\" y=\"\(height - 8)\" font-size=\"12\" text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
        s += "<text transform=\"translate(14,\((y0 + y1) / 2)) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">\(xmlEscape(yLabel))</text>\n"
        let labelled = series.filter { !$0.label.isEmpty }
        for (i, sr) in labelled.enumerated() {
            let ly = y0 - 10 - Double(labelled.count - 1 - i) * 15
            s += "<g class=\"legend\"><line x1=\"\(x1 - 150)\" y1=\"\(ly - 4)\" x2=\"\(x1 - 134)\" y2=\"\(ly - 4)\" stroke=\"\(sr.color)\" stroke-width=\"3\"\(sr.dashed ? " stroke-dasharray=\"6 3\"" : "")/>"
            s += "<text x=\"\(x1 - 130)\" y=\"\(ly)\" font-size=\"10.5\">\(xmlEscape(sr.label))</text></g>\n"
        }
        if let note { s += "<text x=\"\((x0 + x1) / 2)\" y=\"\((y0 + y1) / 2)\" font-size=\"12\" fill=\"#a33\" text-anchor=\"middle\">\(xmlEscape(note))</text>\n" }
        return s + "</g>\n"
    }

    public var svg: String { Figure(panels: [[self]]).svg }
}

/// Panels in a grid (rows of equally sized panels), as one SVG document.
public struct Figure {
    public var panels: [[any FigurePanel]]
    public var title: String?
    public init(panels: [[any FigurePanel]], title: String? = nil) { self.panels = panels; self.title = title }

    public var svg: String {
        let pw = panels.flatMap { $0 }.map(\.width).max() ?? 360, ph = panels.flatMap { $0 }.map(\.height).max() ?? 320
        let top = title == nil ? 0.0 : 28.0
        let w = pw * Double(panels.map(\.count).max() ?? 1), h = ph * Double(panels.count) + top
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        if let title { s += "<text x=\"\(w / 2)\" y=\"20\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\">\(xmlEscape(title))</text>\n" }
        for (r, row) in panels.enumerated() { for (c, p) in row.enumerated() { s += p.group(dx: Double(c) * pw, dy: top + Double(r) * ph) } }
        return s + "</svg>\n"
    }

    /// Writes the SVG and, when a converter is installed, a PNG beside it. Returns the PNG path if made.
    @discardableResult
    public func write(svgPath: String, png: Bool = true) throws -> String? {
        try AtomicFile.write(svg, to: svgPath)
        return png ? PNG.convert(svgPath: svgPath) : nil
    }
}

public enum PNG {
    /// SVG → PNG through rsvg-convert (Debian librsvg2-bin); nil when it is not installed.
    public static func convert(svgPath: String, scale: Double = 1.5) -> String? {
        guard Subprocess.which("rsvg-convert") != nil else { return nil }
        let png = (svgPath as NSString).deletingPathExtension + ".png"
        guard (try? Subprocess.run("rsvg-convert", ["-z", String(scale), "-b", "white", "-o", png, svgPath], forFile: svgPath)) != nil else { return nil }
        return png
    }
}
