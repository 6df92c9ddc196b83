import Foundation

/// A batch job (predict, teacher, label, probe, spectrogram, corpus scan) never dies on one input: each bad
/// input is reported (item + reason) as it is met and skipped, and the run ends with one summary line and a
/// documented exit status, so scripts can tell "all good" from "some skipped" from "nothing done".
public struct BatchReport {
    /// Exit statuses (README, "Exit status"): every input done, some skipped, none done.
    public static let allDone: Int32 = 0, someSkipped: Int32 = 3, nothingDone: Int32 = 1

    public let job: String
    public private(set) var done = 0
    public private(set) var skipped: [(item: String, reason: String)] = []
    public private(set) var warnings: [(item: String, message: String)] = []
    /// Where per-item lines go as they happen (standard error; tests capture them).
    public var emit: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(_ job: String) { self.job = job }

    public mutating func succeeded(_ count: Int = 1) { done += count }

    public mutating func skip(_ item: String, _ reason: String) {
        skipped.append((item, reason))
        emit("skipped \(item): \(reason)")
    }

    /// The error's message without repeating the item when the error already names it.
    public mutating func skip(_ item: String, _ error: Error) { skip(item, Self.reason(error, item: item)) }

    public mutating func warn(_ item: String, _ message: String) {
        warnings.append((item, message))
        emit("warning: \(item): \(message)")
    }

    public static func reason(_ error: Error, item: String) -> String {
        if let e = error as? EmovoxError, e.file == item { return e.message }
        return "\(error)"
    }

    public var exitCode: Int32 { skipped.isEmpty ? Self.allDone : done == 0 ? Self.nothingDone : Self.someSkipped }

    /// "label: 12 done, 2 skipped: a.mp4 (no video stream); b.mp4 (…)" plus the warning count.
    public var summary: String {
        var s = "\(job): \(done) done, \(skipped.count) skipped"
        if !skipped.isEmpty {
            s += ": " + skipped.prefix(5).map { "\($0.item) (\($0.reason))" }.joined(separator: "; ")
            if skipped.count > 5 { s += "; … and \(skipped.count - 5) more" }
        }
        if !warnings.isEmpty { s += "; \(warnings.count) warning\(warnings.count == 1 ? "" : "s")" }
        return s
    }
}
