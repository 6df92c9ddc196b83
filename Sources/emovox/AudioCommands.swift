import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio

struct SpectrogramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spectrogram",
        abstract: "Write the VGGVox spectrogram of a whole file as float32 [bins, frames] .npy (no dither).")

    @Argument(help: "Audio or video files (WAV natively; anything else decoded in-process by libav), resampled to 16 kHz.") var inputs: [String]
    @Option(help: "Output .npy path for one input; for several inputs a folder that receives <name>.npy per input.") var out: String
    @Option(help: "512 (full spectrum, as VGGVox) or 257 (one-sided).") var bins: Int = 512
    @Flag(help: "Skip the per-bin mean/std normalisation.") var noNormalize = false

    func validate() throws {
        guard bins == 512 || bins == 257 else { throw ValidationError("--bins must be 512 or 257") }
        let stems = inputs.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        if let dup = Dictionary(grouping: stems, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw ValidationError("two inputs are both named '\(dup)': their .npy files would collide in --out")
        }
    }

    func run() throws {
        var cfg = SpectrogramConfig(bins: bins)
        cfg.normalize = !noNormalize
        let spectrogram = Spectrogram(config: cfg)
        var report = BatchReport("spectrogram")
        for input in inputs {
            let path = inputs.count == 1 ? out : (out as NSString).appendingPathComponent(((input as NSString).lastPathComponent as NSString).deletingPathExtension + ".npy")
            do {
                let audio = try AudioLoader.load(input, warn: { report.warn($0, $1) })
                let spec = spectrogram.compute(audio)
                try NPY.write(spec, to: path)
                print("\(path): \(spec.shape[0]) bins × \(spec.shape[1]) frames (\(String(format: "%.2f", Double(audio.count) / 16000)) s)")
                report.succeeded()
            } catch { report.skip(input, error) }
        }
        try report.finish()
    }
}
