import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxAudio

struct SpectrogramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spectrogram",
        abstract: "Write the VGGVox spectrogram of a whole file as float32 [bins, frames] .npy (no dither).")

    @Argument(help: "Audio or video file (WAV natively; anything else through ffmpeg), resampled to 16 kHz.") var input: String
    @Option(help: "Output .npy path.") var out: String
    @Option(help: "512 (full spectrum, as VGGVox) or 257 (one-sided).") var bins: Int = 512
    @Flag(help: "Skip the per-bin mean/std normalisation.") var noNormalize = false

    func validate() throws {
        guard bins == 512 || bins == 257 else { throw ValidationError("--bins must be 512 or 257") }
    }

    func run() throws {
        let audio = try AudioLoader.load(input)
        var cfg = SpectrogramConfig(bins: bins)
        cfg.normalize = !noNormalize
        guard audio.count >= cfg.windowLength else {
            throw EmovoxError("audio is shorter than one 25 ms frame (\(audio.count) samples)", file: input)
        }
        let spec = Spectrogram(config: cfg).compute(audio)
        try NPY.write(spec, to: out)
        print("\(out): \(spec.shape[0]) bins × \(spec.shape[1]) frames (\(String(format: "%.2f", Double(audio.count) / 16000)) s)")
    }
}
