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
    /// [(k − 1), k) / rate — the interval of the mouth motion measured between frames k − 1 and k. With `band` the
    /// samples first pass a 2nd-order Butterworth high-pass at its lower and low-pass at its upper edge.
    public static func envelope(_ path: String, start: Double = 0, end: Double? = nil, binsPerSecond: Double,
                                band: ClosedRange<Double>? = nil) throws -> [Float] {
        var energy: [Double] = [], counts: [Int] = [], index = 0
        let samplesPerBin = Double(sampleRate) / binsPerSecond
        var filters = band.map { [Biquad.highPass(cutoff: $0.lowerBound, sampleRate: Double(sampleRate)),
                                  Biquad.lowPass(cutoff: $0.upperBound, sampleRate: Double(sampleRate))] } ?? []
        try read(path, start: start, end: end) { chunk in
            for raw in chunk {
                var s = raw
                for f in filters.indices { s = filters[f].step(s) }
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
        /// The far offsets the peak is judged against reach this far (±0.32 … ±1.44 s at 12.5 fps).
        public var nullLagSeconds = 1.44
        /// Fewer paired frames than this and a track gets no score (a correlation of a few points means nothing).
        public var minFrames = 20
        /// The speech band whose envelope the mouth is matched to: the formant and consonant range, where
        /// articulation shows, rather than the voicing energy below 1 kHz that a held vowel also has.
        public var speechBand: ClosedRange<Double> = 1000...4000
        public init() {}
    }

    /// The mouth patch: the lower third of the face box, middle 60 % of its width, area-resized to
    /// `mouthWidth`×`mouthHeight` (faces of any size give comparable motion), with `searchRadius` patch pixels of
    /// margin on every side for the head-motion search of `motion`.
    public static let mouthWidth = 48, mouthHeight = 24, searchRadius = 4

    public static func mouthPatch(_ img: GrayImage, box: Box) -> [Float] {
        let rw = Double(box.width) * 0.6, rh = Double(box.height) / 3
        let rx = Double(box.x) + Double(box.width) * 0.2, ry = Double(box.y) + Double(box.height) * 2 / 3
        let mx = rw * Double(searchRadius) / Double(mouthWidth), my = rh * Double(searchRadius) / Double(mouthHeight)
        let x0 = max(0, min(img.width - 1, Int((rx - mx).rounded()))), y0 = max(0, min(img.height - 1, Int((ry - my).rounded())))
        let x1 = max(x0 + 1, min(img.width, Int((rx + rw + mx).rounded()))), y1 = max(y0 + 1, min(img.height, Int((ry + rh + my).rounded())))
        return Resize.area(img.cropped(x: x0, y: y0, width: x1 - x0, height: y1 - y0),
                           width: mouthWidth + 2 * searchRadius, height: mouthHeight + 2 * searchRadius).pixels.map(Float.init)
    }

    /// Mouth motion between two patches (`mouthPatch` of the previous and the current frame in the same box): the
    /// RMS difference of the current patch's centre against the previous patch shifted by up to `searchRadius` pixels,
    /// at the best shift. The shift absorbs head motion (a nod or turn moves the whole lower face); what is left is
    /// the mouth changing shape.
    public static func motion(_ previous: [Float], _ current: [Float]) -> Float {
        let r = searchRadius, w = mouthWidth, h = mouthHeight, stride = w + 2 * r
        precondition(previous.count == current.count && current.count == stride * (h + 2 * r))
        var best = Float.infinity
        previous.withUnsafeBufferPointer { p in current.withUnsafeBufferPointer { c in
            for dy in -r...r { for dx in -r...r {
                var sum: Float = 0
                for y in 0..<h where sum < best {
                    let cRow = (y + r) * stride + r, pRow = (y + r + dy) * stride + r + dx
                    for x in 0..<w { let d = c[cRow + x] - p[pRow + x]; sum += d * d }
                }
                best = min(best, sum)
            } }
        } }
        return (best / Float(w * h)).squareRoot()
    }

    /// How fast the envelope changes: |e[k] − e[k − 1]|, the acoustic counterpart of motion (a mouth moves when the
    /// sound changes — onsets, offsets, transitions — not while a vowel is held). NaN where undefined: bin 0 (before
    /// the first frame) and bin 1 (no bin before it).
    public static func change(_ envelope: [Float]) -> [Float] {
        envelope.indices.map { $0 < 2 ? .nan : abs(envelope[$0] - envelope[$0 - 1]) }
    }

    /// The sync score, SyncNet's decision rule without its network: judge the peak, not the level. The best Pearson r
    /// of motion and envelope over |lag| ≤ `maxLag` (`peakCorrelation`) is compared with the r at far offsets — the
    /// envelope shifted circularly by `maxLag` + 2 … `nullLag` frames either way, where no sync can be — as
    /// (peak − mean) / (standard deviation + 0.01) of those. A face mouthing its own words at a speech-like rhythm
    /// correlates with the voice at many offsets and scores low; the speaker's mouth peaks near lag 0 only. nil when
    /// the peak has no value or fewer than 4 far offsets do (series too short).
    public static func score(motion: [Float], envelope: [Float], maxLag: Int, nullLag: Int, minFrames: Int)
        -> (score: Float, lag: Int, peak: Float)? {
        guard let peak = peakCorrelation(motion: motion, envelope: envelope, maxLag: maxLag, minFrames: minFrames) else { return nil }
        let n = min(motion.count, envelope.count), far = min(nullLag, n - maxLag - 2)
        guard far >= maxLag + 2 else { return nil }
        // A circular shift pairs every motion frame with an envelope bin, so its pair count is the peak's give or take the
        // two undefined envelope bins: no `minFrames` here (a 2 s clip would lose its far offsets to that margin).
        let null = (maxLag + 2...far).flatMap { [$0, -$0] }.compactMap {
            circularCorrelation(motion: motion, envelope: envelope, shift: $0, minFrames: 3).map(Double.init)
        }
        guard null.count >= 4 else { return nil }
        let mean = null.reduce(0, +) / Double(null.count)
        let sd = (null.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(null.count)).squareRoot()
        return (Float((Double(peak.r) - mean) / (sd + 0.01)), peak.lag, peak.r)
    }

    /// Pearson correlation of `motion[k]` with `envelope[k + lag]` over the frames where both exist (motion NaN =
    /// no face there, envelope NaN = no audio measure), maximised over |lag| ≤ maxLag frames. nil when fewer than
    /// `minFrames` pairs remain or a series is constant at every lag (e.g. a silent soundtrack).
    public static func peakCorrelation(motion: [Float], envelope: [Float], maxLag: Int, minFrames: Int) -> (r: Float, lag: Int)? {
        var best: (r: Float, lag: Int)? = nil
        for lag in -maxLag...maxLag {
            guard let r = correlation(motion: motion, envelope: envelope, lag: lag, minFrames: minFrames) else { continue }
            if best == nil || r > best!.r { best = (r, lag) }
        }
        return best
    }

    /// The correlation with the envelope shifted circularly by `shift` frames over the common length n of the two
    /// series: `motion[k]` with `envelope[(k + shift) mod n]` (see `score`).
    public static func circularCorrelation(motion: [Float], envelope: [Float], shift: Int, minFrames: Int) -> Float? {
        let n = min(motion.count, envelope.count)
        guard n > 0 else { return nil }
        var xs: [Double] = [], ys: [Double] = []
        for k in 0..<n where !motion[k].isNaN {
            let j = ((k + shift) % n + n) % n
            guard !envelope[j].isNaN else { continue }
            xs.append(Double(motion[k])); ys.append(Double(envelope[j]))
        }
        guard xs.count >= minFrames else { return nil }
        return pearson(xs, ys).map(Float.init)
    }

    /// The correlation at one lag (see `peakCorrelation`).
    public static func correlation(motion: [Float], envelope: [Float], lag: Int, minFrames: Int) -> Float? {
        var xs: [Double] = [], ys: [Double] = []
        for k in motion.indices where !motion[k].isNaN {
            let j = k + lag
            guard j >= 0, j < envelope.count, !envelope[j].isNaN else { continue }
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
/// frame: the frames since the last detected one are held, and once the next detection says where each track went,
/// the boxes in between are interpolated and each frame's motion against the frame before is measured inside the
/// same box (so box jitter is not motion). A track the detector misses once (a turned or blurred face) is bridged
/// at its next detection, so the frames since its last one are held too (at most 2 × `detectEvery` + 1).
struct MouthMotionTracker {
    let detectEvery: Int
    /// A track missed by up to this many detections in a row is bridged: its boxes are interpolated across the gap.
    static let bridgedMisses = 1
    private var held: [GrayImage] = []          // frames from the oldest frame a bridge may start at
    private var heldFirst = 0                   // frame index of held[0]
    private var lastSeen: [Int: (box: Box, frame: Int)] = [:]  // track → box and frame of its last detection
    private(set) var series: [Int: [Float]] = [:]  // track → motion per frame (NaN where unknown)
    private(set) var frames = 0

    init(detectEvery: Int) { self.detectEvery = detectEvery }

    /// Every decoded frame, in order.
    mutating func push(_ img: GrayImage) { held.append(img); frames += 1 }

    /// The faces found in the latest pushed frame (a detection frame): track id → box.
    mutating func detected(_ boxes: [Int: Box]) {
        guard !held.isEmpty else { return }
        let current = frames - 1
        for (track, box) in boxes {
            guard let (previous, from) = lastSeen[track], from >= heldFirst, from < current else { continue }
            var s = series[track] ?? []
            for j in (from + 1)...current {
                let b = AudioVisualSync.interpolate(previous, box, Double(j - from) / Double(current - from))
                let m = AudioVisualSync.motion(AudioVisualSync.mouthPatch(held[j - 1 - heldFirst], box: b),
                                               AudioVisualSync.mouthPatch(held[j - heldFirst], box: b))
                while s.count < j { s.append(.nan) }
                s.append(m)
            }
            series[track] = s
        }
        for (track, box) in boxes { lastSeen[track] = (box, current) }
        lastSeen = lastSeen.filter { current - $0.value.frame <= Self.bridgedMisses * detectEvery }
        let keepFrom = max(heldFirst, lastSeen.values.map(\.frame).min() ?? current)
        held.removeFirst(min(held.count - 1, keepFrom - heldFirst))
        heldFirst = keepFrom
    }

    /// Series of `track` padded with NaN to the frames seen.
    func motion(_ track: Int) -> [Float] {
        var s = series[track] ?? []
        while s.count < frames { s.append(.nan) }
        return s
    }
}
