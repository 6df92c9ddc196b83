import Foundation
import EmovoxCore
import EmovoxUtilities

/// Fallback speech for the demo when no real corpus is present: espeak-ng sentences with per-emotion
/// prosody (pitch, rate, loudness) and several voices standing in for speakers. It is synthetic and
/// crude — the demo says so — but exercises the whole pipeline on a fresh machine.
public enum SyntheticSpeech {
    public struct Prosody { public let pitch: Int, speed: Int, amplitude: Int, wordGap: Int }

    public static let prosody: [String: Prosody] = [
        "neutral": Prosody(pitch: 45, speed: 160, amplitude: 100, wordGap: 1),
        "happy": Prosody(pitch: 70, speed: 185, amplitude: 130, wordGap: 0),
        "sad": Prosody(pitch: 30, speed: 120, amplitude: 70, wordGap: 4),
        "angry": Prosody(pitch: 55, speed: 195, amplitude: 190, wordGap: 0),
        "fear": Prosody(pitch: 80, speed: 215, amplitude: 90, wordGap: 0),
        "surprise": Prosody(pitch: 85, speed: 170, amplitude: 140, wordGap: 2),
        "disgust": Prosody(pitch: 35, speed: 135, amplitude: 110, wordGap: 3),
    ]

    public static let voices = ["en+m1", "en+m3", "en+m7", "en+f2", "en+f3", "en+f4"]
    static let sentences = ["Kids are talking by the door.", "Dogs are sitting by the door.",
                            "I will be there in a minute.", "That is not what I ordered."]

    /// Writes WAV files and returns (path, speaker, emotion) rows; existing files are reused.
    public static func generate(into dir: String, clipsPerEmotion: Int = 4) throws -> [(path: String, speaker: String, emotion: String)] {
        guard Subprocess.which("espeak-ng") != nil else {
            throw EmovoxError("espeak-ng is not installed (apt-get install espeak-ng) and no speech corpus was given", file: dir)
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rows: [(String, String, String)] = []
        for (v, voice) in voices.enumerated() {
            let speaker = "espeak\(v + 1)"
            for emotion in prosody.keys.sorted() {
                let p = prosody[emotion]!
                for k in 0..<clipsPerEmotion {
                    let path = "\(dir)/\(speaker)_\(emotion)_\(k + 1).wav"
                    if !FileManager.default.fileExists(atPath: path) {
                        // Small per-clip jitter so the clips of one cell are not identical.
                        let jitter = (k * 7 + v * 3) % 11 - 5
                        _ = try Subprocess.run("espeak-ng", ["-v", voice, "-p", String(p.pitch + jitter), "-s", String(p.speed + 2 * jitter),
                                                             "-a", String(p.amplitude), "-g", String(p.wordGap), "-w", path,
                                                             sentences[(k + v) % sentences.count]], forFile: path)
                    }
                    rows.append((path, speaker, emotion))
                }
            }
        }
        return rows
    }
}
