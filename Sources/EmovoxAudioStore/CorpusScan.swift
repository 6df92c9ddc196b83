import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData

/// `emovox corpus scan`: a corpus on disk → a manifest of the clips whose speech can be read. Each clip's audio is
/// vetted without decoding it whole: a WAV from its header; any other media (a video's soundtrack, mp3, …) by
/// its stream information and its first sound, so a video without an audio stream, or whose soundtrack is silent,
/// is skipped and listed instead of reaching `label` and `distill`.
public enum CorpusScan {
    public static func scan(_ root: String, format: CorpusFormat = .auto, speaker: SpeakerRule? = nil,
                            report: inout BatchReport, note: (String) -> Void = { print($0) }) throws -> Manifest {
        let detected = format == .auto ? try CorpusReader.format(of: root) : format
        var manifest: Manifest
        if detected == .video {
            let found = try CorpusReader.videoFolder(root, speaker: speaker)
            found.notes.forEach(note)
            for s in found.skipped { report.skip(s.path, s.reason) }
            guard !found.manifest.clips.isEmpty else {
                throw EmovoxError("no videos found (format video)" + (found.skipped.isEmpty ? "" : ": \(found.skipped.count) skipped"), file: root)
            }
            manifest = found.manifest
        } else {
            if speaker != nil { note("note: --speaker applies to video folders; the \(detected.rawValue) layout names its own speakers") }
            manifest = try CorpusReader.read(root, format: detected)
        }
        let progress = manifest.clips.count >= 200 ? ProgressBar("scan", total: manifest.clips.count) : nil
        var k = 0
        manifest.clips = manifest.clips.filter { clip in
            k += 1
            progress?.update(k, clip.id)
            do {
                if clip.audio.lowercased().hasSuffix(".wav") {
                    for w in try WAVReader.inspect(clip.audio) { report.warn(clip.audio, w) }
                } else {
                    try vetSoundtrack(clip.audio)
                }
                report.succeeded()
                return true
            } catch { report.skip(clip.audio, error); return false }
        }
        return manifest
    }

    /// Throws unless the media has an audio stream with some sound in it.
    public static func vetSoundtrack(_ path: String) throws {
        switch try MediaProbe.soundtrack(path) {
        case .sound: return
        case .missing:
            let name = (path as NSString).lastPathComponent
            let hint = name.hasPrefix("02-") && CorpusReader.ravdess(name) != nil ? " (RAVDESS modality 02 is video-only)" : ""
            throw EmovoxError("no audio stream\(hint): nothing for the student to hear", file: path)
        case .silent:
            throw EmovoxError(String(format: "silent soundtrack (no sample above %.0f dBFS): nothing for the student to hear",
                                     20 * log10(Double(MediaProbe.silencePeak))), file: path)
        }
    }
}
