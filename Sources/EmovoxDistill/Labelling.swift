import Foundation
import EmovoxCore
import EmovoxData
import EmovoxVision

/// `emovox label`: the teacher over every clip's faces, one JSONL record per clip, resumable and shardable.
public enum Labelling {
    public struct Summary { public var labelled = 0, skippedDone = 0, failed: [(String, String)] = [], noFaces = 0, noMedia = 0 }

    public static func run(manifest: Manifest, runner: TeacherRunner, out: String, shard: (index: Int, count: Int) = (0, 1),
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
                let run = try runner.run(source)
                let faces = run.speakingResults
                if faces.isEmpty { summary.noFaces += 1 }
                try appender.append(ClipTeacherLabels(clip: clip.id, source: source, teacher: runner.teacher.name, classes: runner.teacher.labels,
                                                      times: faces.map(\.time), logits: faces.map(\.logits),
                                                      framesSampled: run.framesSampled, framesWithoutFace: run.framesWithoutFace))
                summary.labelled += 1
            } catch {
                // Bad media must not stop a corpus-sized job: report it and carry on.
                summary.failed.append((clip.id, "\(error)"))
            }
        }
        return summary
    }
}

/// Console progress on standard error: `label 12/1200 [##…] 3.1 it/s ETA 6m12s  name`.
public final class Progress {
    let title: String, total: Int, start = Date()
    var last = Date.distantPast
    public init(_ title: String, total: Int) { self.title = title; self.total = total }

    /// Redrawn in place on a terminal; in logs (CI, files) a line every 25 % instead.
    static let interactive = isatty(2) != 0
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
        let eta = rate > 0 ? DistillationTrainer.formatDuration(Double(total - done) / rate) : "?"
        let line = String(format: "\r%@ %d/%d [%@%@] %.1f/s ETA %@  %@", title, done, total, String(repeating: "#", count: filled),
                          String(repeating: ".", count: width - filled), rate, eta, String(note.suffix(40)))
        if Self.interactive {
            FileHandle.standardError.write(Data(line.padding(toLength: max(line.count, 110), withPad: " ", startingAt: 0).utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data((line.dropFirst() + "\n").utf8))
        }
    }
}
