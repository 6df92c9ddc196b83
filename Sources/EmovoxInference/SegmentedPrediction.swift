import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxSegmentation

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
