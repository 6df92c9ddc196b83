import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxInference

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

/// Scores segments of streamed audio with the student: segments from the VAD, or from a list. Only the audio
/// of the segment at hand is held (a listed segment longer than the runner's `maxSeconds` is read for its
/// centre only, which is all the runner scores), so hours of audio run in bounded memory.
public enum SegmentedPrediction {
    public enum Source { case vad(VADConfig), list([Segment]) }

    /// Calls `body` for each scored segment in time order; returns the recording's length in seconds.
    @discardableResult
    public static func run(_ stream: AudioStream, runner: StudentRunner, source: Source,
                           _ body: (_ segment: Segment, _ logits: [Float], _ embedding: [Float]) throws -> Void) throws -> Double {
        let rate = stream.sampleRate
        var buffer: [Float] = [], bufferStart = 0, total = 0
        func audio(_ r: Range<Int>) -> [Float] {
            let lo = max(r.lowerBound, bufferStart) - bufferStart, hi = min(r.upperBound, bufferStart + buffer.count) - bufferStart
            return lo < hi ? Array(buffer[lo..<hi]) : []
        }
        func score(_ segment: Segment, _ samples: [Float]) throws {
            guard !samples.isEmpty else { return }
            let (l, e) = runner.score([samples])
            try body(segment, l[0], e[0])
        }
        func trim(keepingFrom sample: Int) {
            let drop = min(max(0, sample - bufferStart), buffer.count)
            if drop > 0 { buffer.removeFirst(drop); bufferStart += drop }
        }
        let chunk = rate / 2
        switch source {
        case .vad(let config):
            let vad = VoiceActivityDetector(config: config, sampleRate: rate)
            func emit(_ ranges: [Range<Int>]) throws {
                for r in ranges {
                    let clipped = r.lowerBound..<min(r.upperBound, total)
                    try score(Segment(start: Double(clipped.lowerBound) / Double(rate), end: Double(clipped.upperBound) / Double(rate)), audio(clipped))
                }
            }
            while true {
                let samples = try stream.readChecked(chunk)
                if samples.isEmpty { break }
                buffer += samples; total += samples.count
                try emit(vad.push(samples))
                trim(keepingFrom: vad.earliestNeededSample)
            }
            try emit(vad.finish())
        case .list(let segments):
            let maxSamples = Int(runner.maxSeconds * Double(rate))
            var ended = false
            for s in segments {
                // The part the runner would score: the centre maxSeconds of a long segment.
                var r = Int(s.start * Double(rate))..<Int(s.end * Double(rate))
                if r.count > maxSamples { let lo = r.lowerBound + (r.count - maxSamples) / 2; r = lo..<(lo + maxSamples) }
                trim(keepingFrom: r.lowerBound)
                while !ended && bufferStart + buffer.count < r.upperBound {
                    let samples = try stream.readChecked(chunk)
                    if samples.isEmpty { ended = true; break }
                    total += samples.count
                    buffer += samples
                    // Nothing before this segment's start is needed again (segments are sorted by start).
                    trim(keepingFrom: r.lowerBound)
                }
                if r.lowerBound >= total && ended {
                    FileHandle.standardError.write(Data("segment \(s.start)–\(s.end) s starts after the end of the audio (\(Double(total) / Double(rate)) s): skipped\n".utf8))
                    continue
                }
                try score(s, audio(r))
            }
            while !ended { let samples = try stream.readChecked(chunk); if samples.isEmpty { ended = true } else { total += samples.count } }
        }
        return Double(total) / Double(rate)
    }
}
