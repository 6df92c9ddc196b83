import Foundation
import EmovoxCore
import EmovoxAudio
import EmovoxData
import EmovoxModels
import EmovoxEval

extension DistillationTrainer {
    /// A trainer whose featuriser is the VGGVox spectrogram matching the model's input bins.
    public static func make(config: DistillationConfig, classes: [String], runDir: String, resume: Bool) throws -> DistillationTrainer {
        let bins = try StudentConfig.named(config.model, classes: classes.count).bins
        let spec = Spectrogram(config: SpectrogramConfig(bins: bins))
        return try DistillationTrainer(config: config, classes: classes, runDir: runDir,
                                       featurize: { crops, rng in spec.batch(crops, dither: &rng) }, resume: resume)
    }
}

public enum Pipelines {
    /// Training items for clips of `splits` that have teacher frames; audio that cannot be read is skipped and reported.
    public static func items(manifest: Manifest, labels: [ClipTeacherLabels], splits: Set<String>,
                             skipped: inout [(String, String)]) -> [DistillationItem] {
        let byClip = Dictionary(labels.map { ($0.clip, $0) }, uniquingKeysWith: { a, _ in a })
        let clips = manifest.clips.filter { splits.contains($0.split ?? "train") }
        let progress = Progress("loading audio", total: clips.count)
        var out: [DistillationItem] = []
        for (k, c) in clips.enumerated() {
            progress.update(k + 1, c.id)
            guard let l = byClip[c.id] else { skipped.append((c.id, "no teacher labels")); continue }
            guard !l.logits.isEmpty else { skipped.append((c.id, "no face found by the teacher")); continue }
            guard l.logits.allSatisfy({ $0.allSatisfy(\.isFinite) }) else { skipped.append((c.id, "teacher logits are not finite")); continue }
            do { out.append(DistillationItem(id: c.id, audio: try AudioLoader.load(c.audio), labels: l)) } catch {
                skipped.append((c.id, "\(error)"))
            }
        }
        return out
    }

    /// Probe features: student logits or fc7 embeddings on whole clips (centre ≤ 10 s).
    public static func probeFeatures(manifest: Manifest, student: StudentRunner, embedding: Bool,
                                     skipped: inout [(String, String)]) -> (clips: [Clip], features: [[Double]]) {
        var clips: [Clip] = [], feats: [[Double]] = []
        let progress = Progress("student features", total: manifest.clips.count)
        for start in stride(from: 0, to: manifest.clips.count, by: 32) {
            let part = Array(manifest.clips[start..<min(start + 32, manifest.clips.count)])
            var ok: [Clip] = [], audio: [[Float]] = []
            for c in part {
                do { audio.append(try AudioLoader.load(c.audio)); ok.append(c) } catch { skipped.append((c.id, "\(error)")) }
            }
            let (l, e) = student.score(audio)
            clips += ok
            feats += (embedding ? e : l).map { $0.map(Double.init) }
            progress.update(min(start + 32, manifest.clips.count), part.last?.id ?? "")
        }
        return (clips, feats)
    }
}
