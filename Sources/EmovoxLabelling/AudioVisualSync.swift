import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxAudio

/// The one place labelling and segmentation read a soundtrack: 16 kHz mono samples of a time range, decoded
/// in-process by the same `AudioDecoder` as every other audio read (seeking to `start`, no process per clip).
public enum Soundtrack {
    public static let sampleRate = AudioLoader.sampleRate

    /// Calls `body` with consecutive chunks of the samples in [start, end) seconds; returns how many were delivered.
    @discardableResult
    public static func read(_ path: String, start: Double = 0, end: Double? = nil, chunk: Int = 8000,
                            _ body: ([Float]) throws -> Void) throws -> Int {
        let decoder = try AudioDecoder(path, sampleRate: sampleRate, start: start > 0 ? start : nil, end: end)
        var delivered = 0
        while true {
            let samples = try decoder.read(chunk)
            if samples.isEmpty { break }
            delivered += samples.count
            try body(samples)
        }
        if delivered == 0 {
            throw EmovoxError("no audio samples" + (start > 0 || end != nil ? " between \(start) s and \(end.map { "\($0) s" } ?? "the end")" : ""), file: path)
        }
        return delivered
    }

    /// The speech envelope: RMS of the samples in bins of 1/`binsPerSecond` s from `start`, bin k covering
    /// [(k − 1), k) / rate — the interval of the mouth motion measured between frames k − 1 and k.
    public static func envelope(_ path: String, start: Double = 0, end: Double? = nil, binsPerSecond: Double) throws -> [Float] {
        var energy: [Double] = [], counts: [Int] = [], index = 0
        let samplesPerBin = Double(sampleRate) / binsPerSecond
        try read(path, start: start, end: end) { chunk in
            for s in chunk {
                let bin = Int(Double(index) / samplesPerBin) + 1
                while energy.count <= bin { energy.append(0); counts.append(0) }
                energy[bin] += Double(s) * Double(s); counts[bin] += 1
                index += 1
            }
        }
        // Bin 0 lies before the first frame (no motion pairs with it); a partial last bin is still an RMS.
        return zip(energy, counts).map { $1 == 0 ? 0 : Float(($0 / Double($1)).squareRoot()) }
    }
}

/// Model-free audio-visual synchrony: how well a face's mouth motion follows the speech envelope.
public enum AudioVisualSync {
    /// Decoding rate of the mouth motion (an odd multiple of the teacher's 25/6 fps, so the teacher's frames are every
    /// `detectEvery`-th decoded frame and the very pictures it sees at 25/6 fps), and the lags searched.
    public struct Options: Sendable {
        public var detectEvery = 3
        public var maxLagSeconds = 0.2
        /// Fewer paired frames than this and a track gets no score (a correlation of a few points means nothing).
        public var minFrames = 20
        public init() {}
    }

    /// The mouth region: the lower third of the face box, middle 60 % of its width, area-resized to 24×12 so
    /// faces of any size give comparable energies.
    public static func mouthPatch(_ img: GrayImage, box: Box) -> [Float] {
        let x = box.x + box.width / 5, w = max(1, box.width * 3 / 5)
        let y = box.y + box.height * 2 / 3, h = max(1, box.height / 3)
        let x0 = max(0, min(img.width - 1, x)), y0 = max(0, min(img.height - 1, y))
        let x1 = max(x0 + 1, min(img.width, x + w)), y1 = max(y0 + 1, min(img.height, y + h))
        return Resize.area(img.cropped(x: x0, y: y0, width: x1 - x0, height: y1 - y0), width: 24, height: 12).pixels.map(Float.init)
    }

    /// Motion energy between two patches: their mean absolute difference.
    public static func motion(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var s: Float = 0
        for i in a.indices { s += abs(a[i] - b[i]) }
        return s / Float(max(a.count, 1))
    }

    /// Pearson correlation of `motion[k]` with `envelope[k + lag]` over the frames where both exist (motion NaN =
    /// no face there), maximised over |lag| ≤ maxLag frames. nil when fewer than `minFrames` pairs remain or a
    /// series is constant at every lag (e.g. a silent soundtrack).
    public static func score(motion: [Float], envelope: [Float], maxLag: Int, minFrames: Int) -> (score: Float, lag: Int)? {
        var best: (score: Float, lag: Int)? = nil
        for lag in -maxLag...maxLag {
            guard let r = correlation(motion: motion, envelope: envelope, lag: lag, minFrames: minFrames) else { continue }
            if best == nil || r > best!.score { best = (r, lag) }
        }
        return best
    }

    /// The correlation at one lag (see `score`).
    public static func correlation(motion: [Float], envelope: [Float], lag: Int, minFrames: Int) -> Float? {
        var xs: [Double] = [], ys: [Double] = []
        for k in motion.indices where !motion[k].isNaN {
            let j = k + lag
            guard j >= 0, j < envelope.count else { continue }
            xs.append(Double(motion[k])); ys.append(Double(envelope[j]))
        }
        guard xs.count >= minFrames else { return nil }
        return pearson(xs, ys).map(Float.init)
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { let dx = x[i] - mx, dy = y[i] - my; sxy += dx * dy; sxx += dx * dx; syy += dy * dy }
        guard sxx > 1e-12, syy > 1e-12 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Box at fraction `f` of the way from `a` to `b` (boxes between the detected frames).
    public static func interpolate(_ a: Box, _ b: Box, _ f: Double) -> Box {
        func mix(_ p: Int, _ q: Int) -> Int { Int((Double(p) + f * Double(q - p)).rounded()) }
        return Box(x: mix(a.x, b.x), y: mix(a.y, b.y), width: mix(a.width, b.width), height: mix(a.height, b.height))
    }
}

/// Mouth-motion series per face track over densely decoded frames, with faces detected every `detectEvery`-th
/// frame: the frames since the last detected one are held (at most `detectEvery`), and once the next detection says
/// where each track went, the boxes in between are interpolated and each frame's motion against the frame before is
/// measured inside the same box (so box jitter is not motion).
struct MouthMotionTracker {
    let detectEvery: Int
    private var held: [GrayImage] = []          // frames from the last detected one on
    private var heldFirst = 0                   // frame index of held[0]
    private var lastBoxes: [Int: Box] = [:]     // track → box at the last detected frame
    private(set) var series: [Int: [Float]] = [:]  // track → motion per frame (NaN where unknown)
    private(set) var frames = 0

    init(detectEvery: Int) { self.detectEvery = detectEvery }

    /// Every decoded frame, in order.
    mutating func push(_ img: GrayImage) { held.append(img); frames += 1 }

    /// The faces found in the latest pushed frame (a detection frame): track id → box.
    mutating func detected(_ boxes: [Int: Box]) {
        let current = frames - 1
        for (track, box) in boxes {
            guard let previous = lastBoxes[track], !held.isEmpty else { continue }
            var s = series[track] ?? []
            let span = current - heldFirst
            for j in (heldFirst + 1)...current where span > 0 {
                let b = AudioVisualSync.interpolate(previous, box, Double(j - heldFirst) / Double(span))
                let m = AudioVisualSync.motion(AudioVisualSync.mouthPatch(held[j - heldFirst], box: b),
                                               AudioVisualSync.mouthPatch(held[j - 1 - heldFirst], box: b))
                while s.count < j { s.append(.nan) }
                s.append(m)
            }
            series[track] = s
        }
        lastBoxes = boxes
        held = [held[held.count - 1]]
        heldFirst = current
    }

    /// Series of `track` padded with NaN to the frames seen.
    func motion(_ track: Int) -> [Float] {
        var s = series[track] ?? []
        while s.count < frames { s.append(.nan) }
        return s
    }
}
