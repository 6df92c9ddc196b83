import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxData
import EmovoxVision
import EmovoxLabelling
import EmovoxSegmentation

/// The options of cutting long recordings into utterances, shared by `corpus segment` and `corpus scan --segment`.
struct SegmentingOptions: ParsableArguments {
    @Option(help: "Shortest clip kept, seconds.") var minSeconds: Double = 2
    @Option(help: "Longest clip, seconds (longer stretches are split evenly).") var maxSeconds: Double = 20
    @Option(help: "Silence that ends an utterance, seconds.") var minPause: Double = 0.5
    @Option(help: "Folder with haarcascade_frontalface_default.xml (default: the teacher folder).") var teacherDir: String?

    func options() throws -> SegmentOptions {
        guard minSeconds > 0, maxSeconds >= minSeconds else { throw ValidationError("need 0 < --min-seconds ≤ --max-seconds") }
        guard minPause > 0 else { throw ValidationError("--min-pause must be positive") }
        var o = SegmentOptions()
        o.minSeconds = minSeconds; o.maxSeconds = maxSeconds; o.vad.minPauseSeconds = minPause
        return o
    }

    /// Cuts every video clip of `manifest`; skipped sources and caveats go to `report`.
    func segment(_ manifest: Manifest, report: inout BatchReport) throws -> Manifest {
        guard let dir = teacherDir ?? TeacherRunner.locateTeacherDir() else {
            throw EmovoxError("no face detector found: run scripts/setup.sh (fetches the Haar cascade into .cache/teacher) or pass --teacher-dir")
        }
        let detector = try HaarCascade(contentsOf: dir + "/haarcascade_frontalface_default.xml")
        let bar = ProgressBar("segment", total: manifest.clips.count)
        let r = Segmenter.segment(manifest: manifest, detector: detector, options: try options()) { k, _, note in bar.update(k, note) }
        for (source, message) in r.warnings { report.warn(source, message) }
        for (source, reason) in r.skipped { report.skip(source, reason) }
        return r.manifest
    }
}

extension CorpusCommand {
    struct Segment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cut long recordings into utterance clips (2–20 s): speech throughout, one continuous face track.",
            discussion: """
            Each video clip of the manifest is cut where speech (voice-activity detection on its soundtrack) and one face
            track both hold; a shot cut or a break in the track ends a clip. The clips keep the source's media files,
            speaker and label, with start/end seconds; ids are <source id>/0001, …. Sources without audio, with a silent
            soundtrack or without a face are skipped and listed (exit 3). See docs/segmentation.md.
            """)
        @Argument(help: "Input manifest (.jsonl/.csv).") var manifest: String
        @Option(help: "Output manifest (.jsonl or .csv).") var out: String
        @OptionGroup var segmenting: SegmentingOptions

        func run() throws {
            var report = BatchReport("corpus segment")
            let input = try Manifest.read(manifest)
            let m = try segmenting.segment(input, report: &report)
            report.succeeded(input.clips.count - report.skipped.count)
            try m.write(out)
            let seconds = m.clips.compactMap(\.duration).reduce(0, +)
            print("\(out): \(m.clips.count) clips, \(String(format: "%.1f", seconds)) s of speech with a face")
            try report.finish()
        }
    }
}
