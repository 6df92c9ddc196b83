import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxAudioStore
import EmovoxData
import EmovoxModels
import EmovoxLabelling

extension DistillationTrainer {
    /// A trainer whose featuriser is the VGGVox spectrogram matching the model's input bins.
    public static func make(config: DistillationConfig, classes: [String], runDir: String, resume: Bool) throws -> DistillationTrainer {
        let bins = StudentConfig.named(config.model, classes: classes.count).bins
        let spec = Spectrogram(config: SpectrogramConfig(bins: bins))
        return try DistillationTrainer(config: config, classes: classes, runDir: runDir,
                                       featurize: { crops, dithers in spec.batch(crops, dithers: dithers) }, resume: resume)
    }
}

public enum Pipelines {
    /// Where clip audio comes from: loaded whole into memory, or read crop by crop from a packed store.
    public enum AudioOrigin {
        case memory
        case store(AudioStore)
    }

    /// The store `distill` uses without `--audio-store`: `<manifest>.store/` beside the manifest, if it was packed.
    public static func storeBeside(manifest path: String) -> String? {
        let p = path + ".store"
        return FileManager.default.fileExists(atPath: p + "/" + AudioStoreFormat.indexName) ? p : nil
    }

    /// At most `n` clips spread evenly over `clips` (all when fewer): a fixed held-out subset.
    public static func evenlySpaced<T>(_ clips: [T], _ n: Int) -> [T] {
        guard clips.count > n else { return clips }
        return (0..<n).map { clips[$0 * clips.count / n] }
    }

    /// Training clips (split "train", or none) and held-out clips ("heard", at most `validationClips`) that have
    /// teacher frames, in manifest order. Labels are streamed; unusable clips are skipped and reported.
    public static func sets(manifest: Manifest, labels labelsPath: String, audio: AudioOrigin, validationClips: Int = 2000,
                            skipped: inout [(String, String)]) throws -> (train: DistillationSet, validation: DistillationSet, classes: [String]) {
        // A split name outside the known ones (a typo) would silently leave its clips out of training.
        if let odd = manifest.clips.first(where: { $0.split.map { SplitName(rawValue: $0) == nil } ?? false }) {
            throw EmovoxError("clip \(odd.id) has split '\(odd.split!)' (known: \(SplitName.allCases.map(\.rawValue).joined(separator: ", ")), or none for train)")
        }
        let train = manifest.clips.filter { ($0.split ?? SplitName.train.rawValue) == SplitName.train.rawValue }
        let heard = evenlySpaced(manifest.clips.filter { $0.split == SplitName.heard.rawValue }, validationClips)
        var wanted = Set(train.map(\.id)); wanted.formUnion(heard.map(\.id))

        // 1. The teacher frames of wanted clips, in label-file order.
        var classes: [String]? = nil
        var staged: TeacherFrameIndex? = nil
        var row: [String: Int] = [:], reported = Set<String>()
        try LabelStore.forEach(labelsPath) { l in
            guard wanted.contains(l.clip), row[l.clip] == nil else { return }
            if classes == nil { classes = l.classes; staged = TeacherFrameIndex(classes: l.classes.count) }
            guard l.classes == classes! else { throw EmovoxError("clip \(l.clip) has classes \(l.classes), earlier clips \(classes!)", file: labelsPath) }
            guard !l.logits.isEmpty else { skipped.append((l.clip, "no face found by the teacher")); reported.insert(l.clip); return }
            guard l.logits.allSatisfy({ $0.count == l.classes.count && $0.allSatisfy(\.isFinite) }) else {
                skipped.append((l.clip, "teacher logits are not finite or have the wrong length")); reported.insert(l.clip); return
            }
            row[l.clip] = staged!.count
            staged!.append(l)
        }
        guard let classes, let staged else { throw EmovoxError("no label records for the manifest's train/heard clips", file: labelsPath) }

        // 2. Per split, in manifest order: audio (loaded, or located in the store) and teacher frames.
        func build(_ clips: [Clip], _ name: String) -> DistillationSet {
            var ids: [String] = [], teacher = TeacherFrameIndex(classes: classes.count)
            var loaded: [[Float]] = [], entries: [Int] = []
            let progress: ProgressBar? = if case .memory = audio { ProgressBar("loading \(name) audio", total: clips.count) } else { nil }
            for (k, c) in clips.enumerated() {
                progress?.update(k + 1, c.id)
                guard let r = row[c.id] else {
                    if !reported.contains(c.id) { skipped.append((c.id, "no teacher labels")) }
                    continue
                }
                switch audio {
                case .memory:
                    do { loaded.append(try AudioLoader.load(c.audio, start: c.start, end: c.end)) } catch { skipped.append((c.id, "\(error)")); continue }
                case .store(let store):
                    guard let e = store.entry(c.id) else { skipped.append((c.id, "not in the audio store \(store.path) (run `emovox corpus pack`)")); continue }
                    entries.append(e)
                }
                ids.append(c.id)
                teacher.append(staged, clip: r)
            }
            let source: ClipAudioSource = if case .store(let s) = audio { StoreClipAudio(store: s, entries: entries) } else { InMemoryClipAudio(loaded) }
            return DistillationSet(ids: ids, audio: source, teacher: teacher)
        }
        return (build(train, "train"), build(heard, "held-out"), classes)
    }
}
