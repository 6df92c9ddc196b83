import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio

/// A stretch of a recording, in seconds, with the speaker a diarisation gave it (if any).
public struct Segment: Equatable, Sendable {
    public var start: Double
    public var end: Double
    public var speaker: String?
    public init(start: Double, end: Double, speaker: String? = nil) { self.start = start; self.end = end; self.speaker = speaker }
}

/// Segment lists from other tools: CSV `start,end[,speaker]` (seconds; a header row is allowed) or
/// NIST RTTM (`SPEAKER <file> <channel> <onset> <duration> <NA> <NA> <speaker> …`, e.g. pyannote's output).
public enum SegmentList {
    /// Segments for `recording` (a path: RTTM rows are matched on its file name without extension when the
    /// RTTM names several recordings), sorted by start.
    public static func read(_ path: String, recording: String? = nil) throws -> [Segment] {
        guard let data = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the segment list", file: path) }
        guard let text = String(data: data, encoding: .utf8) else { throw EmovoxError("segment list is not UTF-8 text", file: path) }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        var segments: [Segment] = []
        if lines.first?.hasPrefix("SPEAKER") == true || path.lowercased().hasSuffix(".rttm") {
            var rows: [(file: String, segment: Segment)] = []
            for (i, line) in lines.enumerated() {
                let f = line.split(whereSeparator: \.isWhitespace).map(String.init)
                guard f.count >= 8, f[0] == "SPEAKER", let onset = Double(f[3]), let dur = Double(f[4]) else {
                    throw EmovoxError("line \(i + 1) is not an RTTM SPEAKER row (SPEAKER file channel onset duration <NA> <NA> speaker …): \(line)", file: path)
                }
                rows.append((f[1], Segment(start: onset, end: onset + dur, speaker: f[7])))
            }
            let files = Set(rows.map(\.file))
            if files.count > 1, let recording {
                let stem = ((recording as NSString).lastPathComponent as NSString).deletingPathExtension
                rows = rows.filter { $0.file == stem }
                if rows.isEmpty { throw EmovoxError("no RTTM rows for recording '\(stem)' (the file names \(files.sorted().prefix(5).joined(separator: ", ")))", file: path) }
            }
            segments = rows.map(\.segment)
        } else {
            for (i, line) in lines.enumerated() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard f.count >= 2, let s = Double(f[0]), let e = Double(f[1]) else {
                    if i == 0 { continue }  // header
                    throw EmovoxError("line \(i + 1) is not start,end[,speaker] in seconds: \(line)", file: path)
                }
                segments.append(Segment(start: s, end: e, speaker: f.count > 2 && !f[2].isEmpty ? f[2] : nil))
            }
        }
        for (i, s) in segments.enumerated() where !(s.start >= 0 && s.end > s.start) {
            throw EmovoxError("segment \(i + 1) has start \(s.start) s and end \(s.end) s (needs 0 ≤ start < end)", file: path)
        }
        if segments.isEmpty { throw EmovoxError("the segment list is empty", file: path) }
        return segments.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
    }
}
