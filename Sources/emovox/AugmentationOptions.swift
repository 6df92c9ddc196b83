import ArgumentParser
import EmovoxAudio

/// Training-time audio augmentation flags, shared by `distill` and `demo`. All off by default for `distill`;
/// `demo` takes its recipe's augmentation unless one of these is given (docs/recipe-search.md).
struct AugmentationOptions: ParsableArguments {
    @Flag(help: "Place clips shorter than the crop at a random offset (else at the start).") var randomPlacement = false
    @Option(help: "Speed perturbation factor range lo:hi, e.g. 0.9:1.1 (band-limited resampling).") var speed: String?
    @Option(help: "Additive white noise at an SNR (dB) drawn from lo:hi, e.g. 10:30.") var noiseSnr: String?
    @Option(help: "Gain (dB) drawn from lo:hi, e.g. --gain-db=-6:6 (write the = when the range starts with a minus).") var gainDb: String?
    @Option(help: "SpecAugment time masks per crop.") var timeMasks: Int = 0
    @Option(help: "Widest time mask (frames of 10 ms).") var timeMaskFrames: Int = 40
    @Option(help: "SpecAugment frequency masks per crop.") var freqMasks: Int = 0
    @Option(help: "Widest frequency mask (bins).") var freqMaskBins: Int = 30

    func validate() throws {
        guard timeMasks >= 0, freqMasks >= 0, timeMaskFrames >= 0, freqMaskBins >= 0 else {
            throw ValidationError("mask counts and widths must be ≥ 0")
        }
    }

    /// nil when every part is off, so the trainer takes its plain path (and old runs resume unchanged).
    func augmentation() throws -> AudioAugmentation? {
        var a = AudioAugmentation()
        a.randomPlacement = randomPlacement
        a.speed = try speed.map { try AudioAugmentation.range($0, name: "--speed") }
        if let s = a.speed, s.lowerBound <= 0 { throw ValidationError("--speed factors must be positive") }
        a.noiseSNR = try noiseSnr.map { try AudioAugmentation.range($0, name: "--noise-snr") }
        a.gainDB = try gainDb.map { try AudioAugmentation.range($0, name: "--gain-db") }
        a.timeMasks = timeMasks; a.timeMaskFrames = timeMaskFrames
        a.frequencyMasks = freqMasks; a.frequencyMaskBins = freqMaskBins
        return a.isOff ? nil : a
    }
}
