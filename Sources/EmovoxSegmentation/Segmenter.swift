import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxData
import EmovoxLabelling

/// How long recordings are cut into utterance clips (`emovox corpus segment`).
public struct SegmentOptions {
    /// Clip length bounds: shorter stretches are dropped, longer ones split evenly.
    public var minSeconds = 2.0
    public var maxSeconds = 20.0
    /// Speech detection on the soundtrack; its longest segment follows `maxSeconds`.
    public var vad: VADConfig = {
        var c = VADConfig()
        c.minPauseSeconds = 0.5   // a breath between phrases does not end an utterance
        // A recording that opens with speech has no quiet frame in a 3 s warm-up: its floor would sit on the quiet
        // syllables and cut them off. Ten seconds usually hold a pause; the 5th percentile finds it.
        c.warmupSeconds = 10
        c.floorPercentile = 0.05
        return c
    }()
    /// Frames are compared at this rate for shot cuts; faces are searched every `detectEvery`-th of them
    /// (12.5 / 3 = the teacher's 25/6 fps), on frames shrunk to at most `maxHeight` rows (faces stay findable,
    /// decoding a 1080p recording costs a fraction).
    public var fps = 12.5
    public var detectEvery = 3
    public var maxHeight = 360
    public var detection = HaarCascade.Options()
    public var shots = ShotCutDetector.Thresholds()

    public init() {}
}

/// Shot cuts from consecutive frames: a jump of the grey-level histogram (half the L1 distance of the normalised
/// 32-bin histograms, 0…1) or of the mean absolute pixel difference. Within a shot, a talking head moves a few grey
/// levels per frame at 12.5 fps; a cut to another scene or from/to a blank frame moves tens.
public struct ShotCutDetector {
    public struct Thresholds: Sendable {
        public var histogram: Float = 0.35
        public var meanAbsDifference: Float = 30
        public init() {}
    }
    public let thresholds: Thresholds
    private var previous: (hist: [Float], pixels: [UInt8])?

    public init(thresholds: Thresholds = Thresholds()) { self.thresholds = thresholds }

    /// Pixels sampled on a grid of this step (a cut changes the whole frame; every pixel is not needed).
    static let step = 2

    public static func histogram(_ img: GrayImage) -> [Float] {
        var h = [Float](repeating: 0, count: 32), n = 0
        for y in stride(from: 0, to: img.height, by: step) { for x in stride(from: 0, to: img.width, by: step) {
            h[Int(img.pixels[y * img.width + x]) >> 3] += 1; n += 1
        } }
        return h.map { $0 / Float(max(n, 1)) }
    }

    static func sampled(_ img: GrayImage) -> [UInt8] {
        var p: [UInt8] = []
        p.reserveCapacity((img.width / step + 1) * (img.height / step + 1))
        for y in stride(from: 0, to: img.height, by: step) { for x in stride(from: 0, to: img.width, by: step) { p.append(img.pixels[y * img.width + x]) } }
        return p
    }

    /// Feeds the next frame; true when it starts a new shot. Also returns the two measures (for tuning and tests).
    public mutating func push(_ img: GrayImage) -> (cut: Bool, histogram: Float, meanAbsDifference: Float) {
        let hist = Self.histogram(img), pixels = Self.sampled(img)
        defer { previous = (hist, pixels) }
        guard let prev = previous, prev.pixels.count == pixels.count else { return (false, 0, 0) }
        var d: Float = 0
        for i in hist.indices { d += abs(hist[i] - prev.hist[i]) }
        var mad = 0
        for i in pixels.indices { mad += abs(Int(pixels[i]) - Int(prev.pixels[i])) }
        let m = Float(mad) / Float(max(pixels.count, 1))
        return (d / 2 >= thresholds.histogram || m >= thresholds.meanAbsDifference, d / 2, m)
    }
}

/// A stretch where one face track was seen (seconds, first to last detection widened by half a detection step).
public struct TrackSpan: Equatable, Sendable {
    public var start: Double, end: Double
    public init(start: Double, end: Double) { self.start = start; self.end = end }
}

/// Long recordings → utterance clips: someone speaks throughout (VAD on the soundtrack) and one face track is
/// continuous (a shot cut or a break in the track ends a clip). One pass over the audio, one over the frames; only
/// segment, cut and track times are kept, so hours of video stream through in bounded memory.
public enum Segmenter {
    public struct Result {
        public var manifest: Manifest
        /// Sources that gave no clip, and why (no audio stream, silent soundtrack, no face…).
        public var skipped: [(source: String, reason: String)] = []
        /// Sources cut with a caveat (audio shorter than the frames…).
        public var warnings: [(source: String, message: String)] = []
    }

    /// Every clip of `manifest` with a video is cut; clips without one are kept as they are. `progress(done, total,
    /// note)` follows the sources and, within one, the frames.
    public static func segment(manifest: Manifest, detector: HaarCascade, options: SegmentOptions = SegmentOptions(),
                               progress: (Int, Int, String) -> Void = { _, _, _ in }) -> Result {
        var result = Result(manifest: Manifest(clips: []))
        for (k, source) in manifest.clips.enumerated() {
            progress(k, manifest.clips.count, source.id)
            guard let video = source.video, VideoReader.isVideo(video) else { result.manifest.clips.append(source); continue }
            do {
                let speech = try scanSpeech(source.audio, start: source.start ?? 0, end: source.end, options: options)
                guard !speech.segments.isEmpty else {
                    result.skipped.append((source.id, "silent soundtrack: no speech found in \(String(format: "%.1f", speech.duration)) s of audio")); continue
                }
                let frames = try scanVideo(video, start: source.start ?? 0, end: source.end, detector: detector, options: options) { t in
                    progress(k, manifest.clips.count, "\(source.id) \(Int(t)) / \(Int(speech.duration)) s")
                }
                if speech.duration < frames.duration - 0.5 {
                    result.warnings.append((source.id, String(format: "audio ends at %.1f s but the frames run to %.1f s: only the part with sound is cut", speech.duration, frames.duration)))
                }
                let pieces = cut(speech: speech.segments, shots: frames.shotCuts, tracks: frames.tracks,
                                 limit: min(speech.duration, frames.duration), options: options)
                guard !pieces.isEmpty else {
                    result.skipped.append((source.id, frames.tracks.isEmpty ? "no face found in the frames"
                                                      : "no stretch of ≥ \(options.minSeconds) s with speech and one continuous face track")); continue
                }
                let offset = source.start ?? 0
                for (n, p) in pieces.enumerated() {
                    var c = source
                    c.id = source.id + "/" + String(format: "%04d", n + 1)
                    c.start = ((offset + p.start) * 1000).rounded() / 1000
                    c.end = ((offset + p.end) * 1000).rounded() / 1000
                    result.manifest.clips.append(c)
                }
            } catch {
                result.skipped.append((source.id, BatchReport.reason(error, item: source.id)))
            }
        }
        progress(manifest.clips.count, manifest.clips.count, "")
        return result
    }

    /// Speech segments of the soundtrack part [start, end) (times relative to `start`) and its length.
    public static func scanSpeech(_ audio: String, start: Double = 0, end: Double? = nil,
                                  options: SegmentOptions) throws -> (segments: [Segment], duration: Double) {
        var config = options.vad
        config.maxSegmentSeconds = options.maxSeconds
        let vad = VoiceActivityDetector(config: config, sampleRate: Soundtrack.sampleRate)
        var ranges: [Range<Int>] = []
        let total = try Soundtrack.read(audio, start: start, end: end) { ranges += vad.push($0) }
        ranges += vad.finish()
        let rate = Double(Soundtrack.sampleRate)
        return (ranges.map { Segment(start: Double($0.lowerBound) / rate, end: min(Double($0.upperBound), Double(total)) / rate) }, Double(total) / rate)
    }

    /// Shot cuts (times between the last frame of a shot and the first of the next) and face-track spans of the
    /// video part [start, end), times relative to `start`.
    public static func scanVideo(_ video: String, start: Double = 0, end: Double? = nil, detector: HaarCascade, options: SegmentOptions,
                                 progress: (Double) -> Void = { _ in }) throws -> (shotCuts: [Double], tracks: [TrackSpan], duration: Double) {
        var shots = ShotCutDetector(thresholds: options.shots), cuts: [Double] = []
        var linker = FaceTracker.Linker(keepObservations: false)
        var spans: [TrackSpan] = []
        let step = Double(options.detectEvery) / options.fps
        let n = try VideoReader.frames(video, fps: options.fps, start: start, end: end, maxHeight: options.maxHeight) { i, t, img in
            if shots.push(img).cut {
                cuts.append(t - 0.5 / options.fps)
                // A face track never continues across a cut.
                linker = FaceTracker.Linker(keepObservations: false, firstId: spans.count)
            }
            guard i % options.detectEvery == 0 else { return }
            if i % 250 == 0 { progress(t) }
            let k = i / options.detectEvery
            let boxes = detector.detect(img, options: options.detection)
            for id in linker.push(boxes.map { FaceObservation(frame: k, time: t, box: $0) }) {
                if id < spans.count { spans[id].end = t + step / 2 } else { spans.append(TrackSpan(start: max(0, t - step / 2), end: t + step / 2)) }
            }
        }
        return (cuts, spans, Double(n) / options.fps)
    }

    /// The clips: each speech segment is split at the shot cuts inside it; in each piece the face track covering
    /// most of it bounds the clip, and what the track leaves uncovered is tried again with the other tracks.
    /// Clips shorter than `minSeconds` are dropped, longer than `maxSeconds` split evenly; nothing passes `limit`.
    public static func cut(speech: [Segment], shots: [Double], tracks: [TrackSpan], limit: Double, options: SegmentOptions) -> [Segment] {
        var out: [Segment] = []
        func place(_ a: Double, _ b: Double) {
            guard b - a >= options.minSeconds else { return }
            let best = tracks.map { (span: $0, overlap: min(b, $0.end) - max(a, $0.start)) }.max { $0.overlap < $1.overlap }
            guard let best, best.overlap >= options.minSeconds else { return }
            let lo = max(a, best.span.start), hi = min(b, best.span.end)
            place(a, lo)
            let parts = max(1, Int(((hi - lo) / options.maxSeconds).rounded(.up)))
            for p in 0..<parts {
                let s = lo + (hi - lo) * Double(p) / Double(parts), e = lo + (hi - lo) * Double(p + 1) / Double(parts)
                if e - s >= options.minSeconds { out.append(Segment(start: s, end: e)) }
            }
            place(hi, b)
        }
        for seg in joiningCappedSplits(speech) {
            let e = min(seg.end, limit)
            var a = seg.start
            for c in shots where c > a && c < e { place(a, c); a = c }
            place(a, e)
        }
        return out.sorted { $0.start < $1.start }
    }

    /// Speech the VAD split only because it reached its length cap is one stretch again: such pieces touch or overlap
    /// (each is padded), while a real pause leaves a gap. The shot cuts and the even split at `maxSeconds` then decide
    /// where it ends — not the cap, whose short remainder before the next cut would be dropped as under `minSeconds`.
    static func joiningCappedSplits(_ speech: [Segment]) -> [Segment] {
        var out: [Segment] = []
        for seg in speech {
            if let last = out.last, seg.start <= last.end { out[out.count - 1].end = max(last.end, seg.end) } else { out.append(seg) }
        }
        return out
    }
}
