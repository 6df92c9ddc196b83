import Foundation
import EmovoxCore
import EmovoxAudioStore
import EmovoxLabelling

/// One training clip held in memory (small corpora, tests): 16 kHz audio and the teacher's frame logits.
public struct DistillationItem {
    public let id: String
    public let audio: [Float]
    public let labels: ClipTeacherLabels
    public init(id: String, audio: [Float], labels: ClipTeacherLabels) { self.id = id; self.audio = audio; self.labels = labels }
}

/// The teacher's frame logits of every clip in flat arrays with offsets (~36 bytes per face frame and no
/// per-clip allocations), so the index of a million-clip corpus stays small.
public struct TeacherFrameIndex {
    public let classes: Int
    private var frameStart: [Int] = [0]
    private var times: [Double] = []
    private var logits: [Float] = []
    private var maxLogits: [Float] = []

    public init(classes: Int) { self.classes = classes }
    public var count: Int { frameStart.count - 1 }

    public mutating func append(_ l: ClipTeacherLabels) {
        times += l.times
        for f in l.logits { logits += f }
        maxLogits += l.maxLogits
        frameStart.append(times.count)
    }

    /// Copies clip `i` of another index.
    public mutating func append(_ other: TeacherFrameIndex, clip i: Int) {
        let r = other.frameStart[i]..<other.frameStart[i + 1]
        times += other.times[r]
        logits += other.logits[(r.lowerBound * classes)..<(r.upperBound * classes)]
        maxLogits += other.maxLogits[(i * classes)..<((i + 1) * classes)]
        frameStart.append(times.count)
    }

    public func clipMax(_ i: Int) -> [Float] { Array(maxLogits[(i * classes)..<((i + 1) * classes)]) }

    /// The analysis ground truth: the class of the single largest frame logit in the clip.
    public func dominantClass(_ i: Int) -> Int {
        let m = clipMax(i)
        return m.indices.max { m[$0] < m[$1] } ?? 0
    }

    /// `DistillationTarget.softTarget` on the flat arrays: frames inside [start, end) pooled by their maximum,
    /// the clip's maximum when no face frame falls inside the crop.
    public func softTarget(_ i: Int, start: Double, end: Double, temperature: Float) -> (target: [Float], inside: Bool) {
        let first = frameStart[i], c = classes
        return DistillationTarget.softTarget(frames: frameStart[i + 1] - first, time: { times[first + $0] },
                                             logits: { Array(logits[((first + $0) * c)..<((first + $0 + 1) * c)]) },
                                             clipMax: { clipMax(i) }, classes: c, start: start, end: end, temperature: temperature)
    }
}

/// What the trainer reads: clip audio from a source (memory or packed store) and the teacher's frames.
public struct DistillationSet {
    public let ids: [String]
    public let audio: ClipAudioSource
    public let teacher: TeacherFrameIndex
    public var count: Int { ids.count }

    public init(ids: [String], audio: ClipAudioSource, teacher: TeacherFrameIndex) {
        precondition(ids.count == audio.clipCount && ids.count == teacher.count, "training set: ids, audio and teacher frames differ in count")
        self.ids = ids; self.audio = audio; self.teacher = teacher
    }

    /// In-memory clips (tests, the demo).
    public init(_ items: [DistillationItem]) {
        var t = TeacherFrameIndex(classes: items.first?.labels.classes.count ?? 0)
        for it in items { t.append(it.labels) }
        self.init(ids: items.map(\.id), audio: InMemoryClipAudio(items.map(\.audio)), teacher: t)
    }
}
