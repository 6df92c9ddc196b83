import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels

/// Student inference on whole clips and on windows of long audio.
public final class StudentRunner {
    public let model: StudentModel
    public let classes: [String]
    public let spectrogram: Spectrogram
    /// Clips longer than this are scored on their centre (the paper's analysis uses ≤ 10 s).
    public var maxSeconds = 10.0
    public var batchSize = 16

    public init(checkpoint: String) throws {
        let (m, c, meta) = try StudentCheckpoint.load(checkpoint)
        model = m; classes = c
        // Students saved before the version was recorded saw version 1 (no int16 scaling of ε).
        guard let version = Int(meta["spectrogram"] ?? "1") else {
            throw EmovoxError("spectrogram version '\(meta["spectrogram"]!)' in the metadata is not a number", file: checkpoint)
        }
        spectrogram = Spectrogram(config: try SpectrogramConfig.version(version, bins: m.config.bins, source: checkpoint))
    }

    public init(model: StudentModel, classes: [String]) {
        self.model = model; self.classes = classes
        spectrogram = Spectrogram(config: SpectrogramConfig(bins: model.config.bins))
    }

    /// Minimum input so that every pooling stage has something to pool (shorter audio is zero-padded).
    var minimumSamples: Int { (model.minimumFrames - 1) * 160 + 400 }

    /// Logits and fc7 embeddings for whole clips (centre ≤ maxSeconds), batched by equal length.
    public func score(_ audios: [[Float]]) -> (logits: [[Float]], embeddings: [[Float]]) {
        let maxSamples = Int(maxSeconds * 16000)
        let crops = audios.map { Spectrogram.centreCrop($0, maxSamples: maxSamples, minSamples: minimumSamples).crop }
        var logits = [[Float]](repeating: [], count: crops.count), emb = logits
        // Group equal lengths so a batch is one tensor; most corpora have many distinct lengths, so batch 1 is common.
        let groups = Dictionary(grouping: crops.indices, by: { crops[$0].count })
        for (_, idx) in groups.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: idx.count, by: batchSize) {
                let part = Array(idx[start..<min(start + batchSize, idx.count)])
                var none: SeededRNG? = nil
                let x = spectrogram.batch(part.map { crops[$0] }, dither: &none)
                let (l, e) = model.logitsAndEmbedding(x)
                let c = l.shape[1], d = e.shape[1]
                for (k, i) in part.enumerated() {
                    logits[i] = Array(l.data[(k * c)..<((k + 1) * c)]); emb[i] = Array(e.data[(k * d)..<((k + 1) * d)])
                }
            }
        }
        return (logits, emb)
    }
}
