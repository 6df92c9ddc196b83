import Foundation
import EmovoxCore
import EmovoxAudio
import EmovoxData

public enum ProbeFeatures {
    /// Probe features: student logits or fc7 embeddings on whole clips (centre ≤ 10 s).
    public static func extract(manifest: Manifest, student: StudentRunner, embedding: Bool,
                               skipped: inout [(String, String)],
                               warn: (_ file: String, _ message: String) -> Void = AudioLoader.printWarning) -> (clips: [Clip], features: [[Double]]) {
        var clips: [Clip] = [], feats: [[Double]] = []
        let progress = ProgressBar("student features", total: manifest.clips.count)
        for start in stride(from: 0, to: manifest.clips.count, by: 32) {
            let part = Array(manifest.clips[start..<min(start + 32, manifest.clips.count)])
            var ok: [Clip] = [], audio: [[Float]] = []
            for c in part {
                do { audio.append(try AudioLoader.load(c.audio, warn: warn)); ok.append(c) } catch { skipped.append((c.id, "\(error)")) }
            }
            let (l, e) = student.score(audio)
            clips += ok
            feats += (embedding ? e : l).map { $0.map(Double.init) }
            progress.update(min(start + 32, manifest.clips.count), part.last?.id ?? "")
        }
        return (clips, feats)
    }
}
