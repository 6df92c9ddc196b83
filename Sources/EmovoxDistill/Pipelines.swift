import Foundation
import EmovoxCore
import EmovoxAudio
import EmovoxData
import EmovoxModels
import EmovoxLabelling

extension DistillationTrainer {
    /// A trainer whose featuriser is the VGGVox spectrogram matching the model's input bins.
    public static func make(config: DistillationConfig, classes: [String], runDir: String, resume: Bool) throws -> DistillationTrainer {
        let bins = try StudentConfig.named(config.model, classes: classes.count).bins
        let spec = Spectrogram(config: SpectrogramConfig(bins: bins))
        return try DistillationTrainer(config: config, classes: classes, runDir: runDir,
                                       featurize: { crops, dithers in spec.batch(crops, dithers: dithers) }, resume: resume)
    }
}

public enum Pipelines {
    /// Training items for clips of `splits` that have teacher frames; audio that cannot be read is skipped and reported.
    public static func items(manifest: Manifest, labels: [ClipTeacherLabels], splits: Set<String>,
                             skipped: inout [(String, String)]) -> [DistillationItem] {
        let byClip = Dictionary(labels.map { ($0.clip, $0) }, uniquingKeysWith: { a, _ in a })
        let clips = manifest.clips.filter { splits.contains($0.split ?? "train") }
        let progress = ProgressBar("loading audio", total: clips.count)
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
}
