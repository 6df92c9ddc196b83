import Foundation
import EmovoxCore

/// Teacher output for one clip: time-stamped frame logits (only frames with a face).
public struct ClipTeacherLabels: Codable {
    public var clip: String
    public var source: String
    public var teacher: String
    public var classes: [String]
    public var times: [Double]
    public var logits: [[Float]]
    /// Per-class maximum of the frame logits over the whole clip (the paper's pooling).
    public var maxLogits: [Float]
    public var framesSampled: Int
    public var framesWithoutFace: Int
    /// The face track taken as the speaker, its audio-visual synchrony score, and every scored track's (by track
    /// id) — present when the clip's soundtrack was matched to its faces; older files load without them.
    public var speakingTrack: Int?
    public var syncScore: Float?
    public var trackSync: [String: Float]?

    public init(clip: String, source: String, teacher: String, classes: [String], times: [Double], logits: [[Float]],
                framesSampled: Int, framesWithoutFace: Int, speakingTrack: Int? = nil, syncScore: Float? = nil, trackSync: [String: Float]? = nil) {
        self.clip = clip; self.source = source; self.teacher = teacher; self.classes = classes
        self.times = times; self.logits = logits
        self.framesSampled = framesSampled; self.framesWithoutFace = framesWithoutFace
        self.speakingTrack = speakingTrack; self.syncScore = syncScore; self.trackSync = trackSync
        maxLogits = DistillationTarget.maxPool(logits, classes: classes.count)
    }

    /// Ground truth of the paper's analysis: the class of the single largest frame logit in the clip.
    public var dominantClass: Int? {
        guard !logits.isEmpty else { return nil }
        return maxLogits.indices.max { maxLogits[$0] < maxLogits[$1] }
    }
}

/// The distillation target: softmax(per-class max over time of the teacher logits / T).
public enum DistillationTarget {
    public static func maxPool(_ frames: [[Float]], classes: Int) -> [Float] {
        var m = [Float](repeating: -.infinity, count: classes)
        for f in frames { for c in 0..<classes { m[c] = max(m[c], f[c]) } }
        return frames.isEmpty ? [Float](repeating: 0, count: classes) : m
    }

    /// Frames whose time lies inside [start, end) are pooled; if the crop holds no face frame,
    /// the whole clip's maximum is used (returned flag = false) so short crops still get a target.
    public static func softTarget(_ labels: ClipTeacherLabels, start: Double, end: Double, temperature: Float) -> (target: [Float], inside: Bool) {
        softTarget(frames: labels.times.count, time: { labels.times[$0] }, logits: { labels.logits[$0] }, clipMax: { labels.maxLogits },
                   classes: labels.classes.count, start: start, end: end, temperature: temperature)
    }

    /// The one definition, for any frame storage (records above, the trainer's flat index): frame k is at
    /// `time(k)` with `logits(k)`.
    public static func softTarget(frames count: Int, time: (Int) -> Double, logits: (Int) -> [Float], clipMax: () -> [Float], classes: Int,
                                  start: Double, end: Double, temperature: Float) -> (target: [Float], inside: Bool) {
        let inside = (0..<count).filter { time($0) >= start && time($0) < end }.map(logits)
        let pooled = inside.isEmpty ? clipMax() : maxPool(inside, classes: classes)
        return (Softmax.probabilities(pooled, temperature: temperature), !inside.isEmpty)
    }
}
