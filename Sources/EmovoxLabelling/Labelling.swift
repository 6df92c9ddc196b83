import Foundation
import EmovoxCore
import EmovoxData
import EmovoxVision

/// `emovox label`: the teacher over every clip's faces, one JSONL record per clip, resumable and shardable.
public enum Labelling {
    public struct Summary {
        public var labelled = 0, skippedDone = 0, failed: [(String, String)] = [], noFaces = 0, noMedia = 0
        /// Clips dropped by `minSync`: no track's mouth followed the speech well enough (the score, or why none).
        public var noSpeaker: [(clip: String, why: String)] = []
        /// Clips labelled with the longest track because their soundtrack could not be matched (without `minSync`).
        public var unmatched: [(clip: String, why: String)] = []
    }

    /// `sync`: match a video clip's faces to its soundtrack (`clip.audio`, the same time line) to find the speaker.
    /// `minSync`: clips whose speaking track scores below it (or has no score) are not written, and listed.
    public static func run(manifest: Manifest, runner: TeacherRunner, out: String, shard: (index: Int, count: Int) = (0, 1),
                           sync: Bool = true, minSync: Float? = nil,
                           progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> Summary {
        let done = Set(try LabelStore.read(out).map(\.clip))
        let appender = try LabelStore.Appender(out)
        var summary = Summary()
        let mine = manifest.clips.enumerated().filter { $0.offset % shard.count == shard.index }.map(\.element)
        for (k, clip) in mine.enumerated() {
            progress(k + 1, mine.count, clip.id)
            if done.contains(clip.id) { summary.skippedDone += 1; continue }
            guard let source = clip.faces ?? clip.video else { summary.noMedia += 1; continue }  // audio-only clip: nothing to label
            do {
                runner.jitterClip = clip.id
                let isVideo = clip.faces == nil && VideoReader.isVideo(source)
                // A single image in `faces` is a ready face crop (e.g. a 48×48 FER+ face): scored without detection.
                let run = try runner.run(source, crops: clip.faces != nil && ImageIO.isImage(source), start: clip.start ?? 0, end: clip.end, audio: sync && isVideo ? clip.audio : nil)
                if let minSync, isVideo, !((run.syncScore ?? -.infinity) >= minSync) {
                    let why = run.syncScore.map { String(format: "sync score %.2f < %.2f", $0, minSync) }
                        ?? run.syncProblem ?? (run.results.isEmpty ? "no face" : "no face track long enough to score")
                    summary.noSpeaker.append((clip.id, "no confident speaker: " + why)); continue
                }
                if let problem = run.syncProblem { summary.unmatched.append((clip.id, problem)) }
                let faces = run.speakingResults
                if faces.isEmpty { summary.noFaces += 1 }
                try appender.append(ClipTeacherLabels(clip: clip.id, source: source, teacher: runner.teacher.name, classes: runner.teacher.labels,
                                                      times: faces.map(\.time), logits: faces.map(\.logits),
                                                      framesSampled: run.framesSampled, framesWithoutFace: run.framesWithoutFace,
                                                      speakingTrack: run.trackSync.isEmpty ? nil : run.speakingTrack, syncScore: run.syncScore,
                                                      trackSync: run.trackSync.isEmpty ? nil
                                                          : Dictionary(uniqueKeysWithValues: run.trackSync.map { (String($0.key), $0.value) })))
                summary.labelled += 1
            } catch {
                // Bad media must not stop a corpus-sized job: report it and carry on.
                summary.failed.append((clip.id, "\(error)"))
            }
        }
        return summary
    }
}
