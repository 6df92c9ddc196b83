import Foundation
import EmovoxCore
import EmovoxUtilities

/// A self-contained HTML page: inline CSS and SVG figures, tables, config, provenance and caveats.
public struct HTMLReport {
    public var title: String
    var body = ""

    public init(title: String) { self.title = title }

    public mutating func heading(_ text: String) { body += "<h2>\(xmlEscape(text))</h2>\n" }
    public mutating func paragraph(_ text: String) { body += "<p>\(xmlEscape(text))</p>\n" }
    public mutating func caveat(_ text: String) { body += "<div class=\"caveat\">\(xmlEscape(text))</div>\n" }
    public mutating func html(_ raw: String) { body += raw }

    public mutating func table(header: [String], rows: [[String]], caption: String? = nil) {
        body += "<table>" + (caption.map { "<caption>\(xmlEscape($0))</caption>" } ?? "")
        body += "<tr>" + header.map { "<th>\(xmlEscape($0))</th>" }.joined() + "</tr>\n"
        for r in rows { body += "<tr>" + r.map { "<td>\(xmlEscape($0))</td>" }.joined() + "</tr>\n" }
        body += "</table>\n"
    }

    public mutating func keyValues(_ pairs: [(String, String)]) {
        table(header: ["setting", "value"], rows: pairs.map { [$0.0, $0.1] })
    }

    public mutating func figure(_ f: Figure, caption: String) {
        body += "<figure>\(f.svg)<figcaption>\(xmlEscape(caption))</figcaption></figure>\n"
    }

    public var document: String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(xmlEscape(title))</title>
        <style>
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1000px;color:#222;line-height:1.45}
        h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em}
        table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
        th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}caption{caption-side:top;text-align:left;font-weight:bold;padding:.3em 0}
        figure{margin:1em 0;overflow-x:auto}figcaption{font-size:.9em;color:#555}svg{max-width:100%;height:auto}
        .caveat{background:#fff6e0;border-left:4px solid #e6a700;padding:.6em 1em;margin:1em 0}
        </style></head><body>
        <h1>\(xmlEscape(title))</h1>
        \(body)
        </body></html>
        """
    }

    public func write(to path: String) throws { try AtomicFile.write(document, to: path) }
}
