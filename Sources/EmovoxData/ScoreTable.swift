import Foundation
import EmovoxCore
import EmovoxUtilities

/// A score table for `emovox roc`: CSV `id,label,<class>…`, one row per item, label = the true class name.
public struct ScoreTable {
    public var classes: [String]
    public var labels: [Int]
    public var scores: [[Double]]

    public static func read(_ path: String) throws -> ScoreTable {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EmovoxError("cannot read (missing, or not UTF-8 text)", file: path) }
        return try parse(text, name: path)
    }

    public static func parse(_ text: String, name: String) throws -> ScoreTable {
        let rows = CSV.parse(text).filter { !($0.count == 1 && $0[0].isEmpty) }
        guard let header = rows.first, let li = header.firstIndex(of: "label") else { throw EmovoxError("needs a 'label' column", file: name) }
        let classCols = header.indices.filter { $0 != li && header[$0] != "id" }
        let classes = classCols.map { header[$0] }
        guard !classes.isEmpty else { throw EmovoxError("no score columns besides id and label", file: name) }
        if let dup = Dictionary(grouping: classes, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw EmovoxError("score column '\(dup)' appears twice", file: name)
        }
        var t = ScoreTable(classes: classes, labels: [], scores: [])
        for (n, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else { throw EmovoxError("line \(n + 2): \(r.count) fields, header has \(header.count)", file: name) }
            guard let l = classes.firstIndex(of: r[li]) else { throw EmovoxError("line \(n + 2): label '\(r[li])' is not a score column", file: name) }
            let v = classCols.map { Double(r[$0]) ?? .nan }
            guard v.allSatisfy({ $0.isFinite }) else { throw EmovoxError("line \(n + 2): a score is missing or not a finite number", file: name) }
            t.labels.append(l); t.scores.append(v)
        }
        return t
    }
}
