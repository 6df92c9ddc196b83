import Foundation
import EmovoxCore
import EmovoxAudio

/// Thresholds of the voice-activity detector. Times in seconds, levels in dB relative to full scale of
/// the speech-band signal (a full-scale sine in the band is 0 dB; 16-bit silence sits below −90 dB).
public struct VADConfig: Codable, Equatable, Sendable {
    /// Analysis frame and hop: 25 ms frames every 10 ms, the usual speech framing.
    public var frameSeconds = 0.025
    public var hopSeconds = 0.010
    /// The speech band kept by the filters before measuring energy: 200 Hz high-pass (hum, rumble, DC) and
    /// 4 kHz low-pass (hiss) — most voiced-speech energy lies between them.
    public var lowHz = 200.0
    public var highHz = 4000.0
    /// A frame is speech when its band energy is at least this far above the running noise floor…
    public var marginDB: Float = 12
    /// …and above this absolute level, so a recording of near-digital silence never yields speech.
    public var absoluteDB: Float = -55
    /// The noise floor starts as this percentile of the first `warmupSeconds` of frame energies, then
    /// follows quieter frames down (a fifth of the gap per frame) and creeps up by `floorRiseDBPerSecond`.
    public var floorPercentile = 0.1
    public var warmupSeconds = 3.0
    public var floorRiseDBPerSecond: Float = 1
    /// A segment ends after this much non-speech (shorter pauses — between words — do not cut)…
    public var minPauseSeconds = 0.35
    /// …holds at least this much speech (clicks and coughs shorter than it are dropped)…
    public var minSpeechSeconds = 0.25
    /// …is widened by this on both sides (speech onsets and offsets are quieter than the vowels)…
    public var paddingSeconds = 0.10
    /// …and is cut at this length when nobody pauses, so memory and the scored window stay bounded.
    public var maxSegmentSeconds = 10.0

    public init() {}
}

/// Energy/spectral voice-activity detection over streamed 16 kHz audio (see `VADConfig` for the rules).
/// Audio is pushed in chunks of any size; closed segments come back as sample ranges as soon as the
/// pause after them is long enough, so hours of audio need only the current segment in memory.
public final class VoiceActivityDetector {
    public let config: VADConfig
    public let sampleRate: Int
    let frame: Int, hop: Int
    private var highPass: Biquad, lowPass: Biquad
    private var filtered: [Float] = []      // band-filtered samples not yet fully consumed by frames
    private var filteredStart = 0           // absolute index of filtered[0]
    private var framesDone = 0
    private var warmup: [Float] = []        // frame energies before the floor is known
    private var floor: Float?
    // Current run of speech: first and last speech frame, frames of non-speech since the last one.
    private var runFirst: Int?
    private var runLast = 0
    private var silentFrames = 0
    private var speechFrames = 0

    public init(config: VADConfig = VADConfig(), sampleRate: Int = 16000) {
        self.config = config; self.sampleRate = sampleRate
        frame = Int(config.frameSeconds * Double(sampleRate)); hop = Int(config.hopSeconds * Double(sampleRate))
        highPass = Biquad.highPass(cutoff: config.lowHz, sampleRate: Double(sampleRate))
        lowPass = Biquad.lowPass(cutoff: config.highHz, sampleRate: Double(sampleRate))
    }

    /// The earliest sample a segment still to be returned may start at: callers keep audio from here on.
    public var earliestNeededSample: Int {
        let pad = Int(config.paddingSeconds * Double(sampleRate))
        if let first = runFirst { return max(0, first * hop - pad) }
        // No run is open: the next one starts at a frame not yet decided (warm-up frames are undecided too).
        let undecided = framesDone - warmup.count
        return max(0, undecided * hop - pad)
    }

    /// Feeds samples; returns the segments closed by them (sample ranges, padded, in order).
    public func push(_ samples: [Float]) -> [Range<Int>] {
        filtered.reserveCapacity(filtered.count + samples.count)
        for s in samples { filtered.append(lowPass.step(highPass.step(s))) }
        var closed: [Range<Int>] = []
        while (framesDone * hop - filteredStart) + frame <= filtered.count {
            let offset = framesDone * hop - filteredStart
            var energy: Float = 0
            for i in offset..<(offset + frame) { energy += filtered[i] * filtered[i] }
            // Mean square relative to a full-scale sine (mean square 1/2); −120 dB stands in for digital zero.
            let db = 10 * log10(max(2 * energy / Float(frame), 1e-12))
            framesDone += 1
            closed += decide(db)
        }
        // Drop filtered samples no future frame reads.
        let keepFrom = framesDone * hop - filteredStart
        if keepFrom > 0 { filtered.removeFirst(min(keepFrom, filtered.count)); filteredStart += keepFrom }
        return closed
    }

    /// Ends the stream: closes an open segment (and decides warm-up frames of a short recording).
    public func finish() -> [Range<Int>] {
        var closed: [Range<Int>] = []
        if floor == nil { closed += startFloor() }
        if runFirst != nil { closed += close() }
        return closed
    }

    private func decide(_ db: Float) -> [Range<Int>] {
        guard floor != nil else {
            warmup.append(db)
            return Double(warmup.count) * config.hopSeconds >= config.warmupSeconds ? startFloor() : []
        }
        return classify(db, index: framesDone - 1)
    }

    /// The floor from the warm-up frames, then their decisions.
    private func startFloor() -> [Range<Int>] {
        guard !warmup.isEmpty else { return [] }
        let sorted = warmup.sorted()
        floor = sorted[min(sorted.count - 1, Int(config.floorPercentile * Double(sorted.count)))]
        let first = framesDone - warmup.count, pending = warmup
        warmup = []
        return pending.enumerated().flatMap { classify($0.element, index: first + $0.offset) }
    }

    private func classify(_ db: Float, index: Int) -> [Range<Int>] {
        var f = floor!
        let isSpeech = db >= f + config.marginDB && db >= config.absoluteDB
        f = db < f ? f + 0.2 * (db - f) : f + config.floorRiseDBPerSecond * Float(config.hopSeconds)
        floor = f
        var closed: [Range<Int>] = []
        if isSpeech {
            if runFirst == nil { runFirst = index; speechFrames = 0 }
            runLast = index; silentFrames = 0; speechFrames += 1
            if Double(index - runFirst! + 1) * config.hopSeconds >= config.maxSegmentSeconds - 2 * config.paddingSeconds {
                closed += close()
            }
        } else if runFirst != nil {
            silentFrames += 1
            if Double(silentFrames) * config.hopSeconds >= config.minPauseSeconds { closed += close() }
        }
        return closed
    }

    private func close() -> [Range<Int>] {
        guard let first = runFirst else { return [] }
        runFirst = nil; silentFrames = 0
        guard Double(speechFrames) * config.hopSeconds >= config.minSpeechSeconds else { return [] }
        let pad = Int(config.paddingSeconds * Double(sampleRate))
        let start = max(0, first * hop - pad)
        let end = runLast * hop + frame + pad
        return [start..<end]
    }
}
