import Foundation

/// Console progress on standard error: `label 12/1200 [##…] 3.1 it/s ETA 6m12s  name`.
public final class ProgressBar {
    let title: String, total: Int, start = Date()
    var last = Date.distantPast
    public init(_ title: String, total: Int) { self.title = title; self.total = total }

    /// Redrawn in place on a terminal; in logs (CI, files) a line every 25 % instead.
    public static let interactive = isatty(2) != 0
    var lastQuarter = -1

    public func update(_ done: Int, _ note: String = "") {
        let now = Date()
        if !Self.interactive {
            let quarter = total > 0 ? 4 * done / total : 4
            guard quarter > lastQuarter else { return }
            lastQuarter = quarter
        } else {
            guard done == total || now.timeIntervalSince(last) > 0.2 else { return }
        }
        last = now
        let rate = Double(done) / max(now.timeIntervalSince(start), 1e-6)
        let width = 24, filled = total > 0 ? width * done / total : 0
        let eta = rate > 0 ? ProgressBar.formatDuration(Double(total - done) / rate) : "?"
        let line = String(format: "\r%@ %d/%d [%@%@] %.1f/s ETA %@  %@", title, done, total, String(repeating: "#", count: filled),
                          String(repeating: ".", count: width - filled), rate, eta, String(note.suffix(40)))
        if Self.interactive {
            FileHandle.standardError.write(Data(line.padding(toLength: max(line.count, 110), withPad: " ", startingAt: 0).utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data((line.dropFirst() + "\n").utf8))
        }
    }

    /// "3m05s" or "1h02m"; "?" when unknown.
    public static func formatDuration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let t = Int(s)
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}
