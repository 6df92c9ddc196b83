import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxDistill
import EmovoxEval
import EmovoxReport
import EmovoxLabelling
import EmovoxInference
import EmovoxAnalysis
import EmovoxSegmentation

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe",
        abstract: "Frozen-student evaluation on a labelled corpus: logistic regression on the student's outputs, cross-validated, vs random features.")
    @Option(help: "Student checkpoint (.safetensors).") var student: String
    @Option(help: "Labelled corpus: RAVDESS/CREMA-D/EmoDB/IEMOCAP folder, CSV file,speaker,emotion, or a manifest.") var corpus: String?
    @Option(help: "Corpus format.") var format: CorpusFormat = .auto
    @Option(help: "speaker[:k] (default 5), loso, random:10 (the paper's, speaker-dependent), session, or emobox:DIR (EmoBox fold lists).") var folds: String = "speaker:5"
    @Option(help: "Where the wav paths of EmoBox lists are resolved (default: the EmoBox folder); unmatched paths are found by file name under it.") var audioRoot: String?
    @Option(help: "Cross-corpus: train the head on all of --corpus, test on this corpus.") var testCorpus: String?
    @Option(help: "Label mapping between corpora, e.g. calm=neutral,surprised=- ('-' drops the class).") var map: String?
    @Option(help: "Student outputs the probe reads: the logits or the fc7 embedding.") var features: ProbeFeatureKind = .logits
    @Option(help: "Inverse L2 strength of the logistic regression.") var c: Double = 1.0
    @Option var seed: UInt64 = 0
    @Option(help: "Folder for results (probe.json, confusion.csv).") var out: String?
    @Option(help: "Fit on all clips and save the classifier as a calibration head (JSON).") var saveHead: String?

    func run() throws {
        if folds.hasPrefix("emobox:") || testCorpus != nil { return try runListed() }
        guard let corpus else { throw ValidationError("--corpus is required (except with --folds emobox:DIR)") }
        var manifest = try CorpusReader.read(corpus, format: format)
        manifest.clips = manifest.clips.filter { $0.label != nil }
        let names = Array(Set(manifest.clips.map { $0.label! })).sorted()
        let runner = try StudentRunner(checkpoint: student)
        var report = BatchReport("probe"), skipped: [(String, String)] = []
        let (clips, x) = ProbeFeatures.extract(manifest: manifest, student: runner, embedding: features == .embedding, skipped: &skipped,
                                               warn: { report.warn($0, $1) })
        for (id, why) in skipped { report.skip(id, why) }
        report.succeeded(clips.count)
        guard !clips.isEmpty else { try report.finish(); return }
        let y = clips.map { names.firstIndex(of: $0.label!)! }
        let spec = try FoldSpec(folds)
        let groups = clips.map { $0.extra?["session"] ?? $0.speaker }
        let (res, base) = try Probe.withBaseline(features: x, labels: y, speakers: clips.map(\.speaker), groups: groups, classNames: names,
                                                 folds: spec, seed: seed, c: c)
        print(res.table(title: "student \(features)"), terminator: "")
        print(base.table(title: "random features (baseline)"), terminator: "")
        try save(res, base)
        if let saveHead {
            let head = CalibrationHead(classNames: names, features: features.rawValue, x: x, y: y, c: c)
            try AtomicFile.write(try CanonicalJSON.encoder().encode(head), to: saveHead)
            print("calibration head: \(saveHead)")
        }
        try report.finish()
    }

    func save(_ res: ProbeResult, _ base: ProbeResult) throws {
        guard let out else { return }
        let names = res.classNames
        try AtomicFile.write(try CanonicalJSON.encoder(pretty: true).encode(["student": res, "random_baseline": base]), to: out + "/probe.json")
        var csv = "true\\predicted," + names.joined(separator: ",") + "\n"
        for (i, row) in res.pooled.confusion.enumerated() { csv += names[i] + "," + row.map(String.init).joined(separator: ",") + "\n" }
        try AtomicFile.write(csv, to: out + "/confusion.csv")
        print("results: \(out)/probe.json, \(out)/confusion.csv")
    }

    /// EmoBox fold lists (`--folds emobox:DIR`) or one cross-corpus split (`--test-corpus`), printed per fold as EmoBox does.
    func runListed() throws {
        let labelMap = try parsing("--map") { try LabelMap(map) }
        let listed: [ListedFoldProbe.Fold], title: String
        if folds.hasPrefix("emobox:") {
            let dir = String(folds.dropFirst("emobox:".count))
            listed = try EmoBox.folds(dir, audioRoot: audioRoot).map { .init(id: $0.index, train: $0.train, test: $0.test) }
            title = "EmoBox folds of \(dir)"
        } else {
            guard let corpus, let testCorpus else { throw ValidationError("--test-corpus needs --corpus (the training side)") }
            listed = [.init(id: 1, train: try CorpusReader.read(corpus, format: format).clips, test: try CorpusReader.read(testCorpus).clips)]
            title = "cross-corpus \(corpus) → \(testCorpus)"
        }
        let outcome = try ListedFoldProbe.run(listed, description: title, student: try StudentRunner(checkpoint: student),
                                              embedding: features == .embedding, map: labelMap, c: c, seed: seed)
        let res = outcome.student
        print(res.table(title: "student \(features)"), terminator: "")
        print(res.foldTable(), terminator: "")
        print(outcome.randomBaseline.table(title: "random features (baseline)"), terminator: "")
        print("confusion (pooled over test folds, rows true):")
        print(res.confusionTable(), terminator: "")
        for (why, n) in outcome.dropped.sorted(by: { $0.key < $1.key }) { print("left out \(n) clips: \(why)") }
        if !outcome.skipped.isEmpty { print("skipped \(outcome.skipped.count) clips, e.g. \(outcome.skipped[0].0): \(outcome.skipped[0].1)") }
        try save(res, outcome.randomBaseline)
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict",
        abstract: "Emotion per file, or over time on long audio (--window/--hop, streamed); '-' reads 16 kHz s16le mono PCM from stdin.")
    @Option(help: "Student checkpoint.") var student: String
    @Option(help: "Calibration head from `emovox probe --save-head` (maps to that corpus's labels).") var head: String?
    @Argument(help: "Audio/video files (a video's soundtrack is scored), or - for raw PCM on stdin.") var inputs: [String] = []
    @Option(help: "Score the clips of a manifest instead of files: each clip's [start, end) part of its media (output rows lead with the clip id).")
    var corpus: String?
    @Option(help: "Output CSV (default: stdout).") var out: String?
    @Option(help: "Window length in seconds (enables per-window output).") var window: Double?
    @Option(help: "Hop in seconds.") var hop: Double = 1
    @Flag(help: "Add the raw logits.") var logits = false
    @Option(help: "Timeline SVG (+PNG) of the first input.") var plot: String?
    @Option(help: "Score speech segments: 'vad' (cut at pauses by voice-activity detection) or a CSV start,end[,speaker] / RTTM file.")
    var segments: String?

    func run() throws {
        let runner = try StudentRunner(checkpoint: student)
        let headModel = try head.map { path -> CalibrationHead in
            guard let d = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the calibration head", file: path) }
            do { return try JSONDecoder().decode(CalibrationHead.self, from: d) } catch {
                throw EmovoxError("not a calibration head from `emovox probe --save-head`: \(error)", file: path)
            }
        }
        if segments != nil && window != nil { throw ValidationError("--segments and --window are alternatives: use one") }
        if corpus != nil && !inputs.isEmpty { throw ValidationError("give files or --corpus, not both") }
        if corpus == nil && inputs.isEmpty { throw ValidationError("give audio/video files, '-', or --corpus MANIFEST") }
        if segments != nil && corpus != nil { throw ValidationError("--segments scores whole recordings: give the files, not --corpus") }
        if let window, Int(window * 16000) < 1 { throw ValidationError("--window must be at least one sample (1/16000 s) long") }
        let mode: Prediction.Mode = segments.map { .segments($0 == "vad" ? .vad(VADConfig()) : .list(path: $0)) }
            ?? window.map { .windows(seconds: $0, hop: hop) } ?? .whole
        // What to score: files whole, or the clips of a manifest (their part of the media).
        let items = try corpus.map { try Manifest.read($0).clips.map(Prediction.Input.init(clip:)) } ?? inputs.map(Prediction.Input.init(file:))
        let prediction = try Prediction(runner: runner, head: headModel, mode: mode, inputs: items, includeLogits: logits)
        let sink = OutputSink(path: out)
        sink.write(prediction.header + "\n")
        var report = BatchReport("predict")
        let timeline = prediction.run(report: &report) { row in
            if row.probabilities == nil {
                FileHandle.standardError.write(Data("\(row.file): no speech found (\(String(format: "%.2f", row.end)) s of silence or noise): no emotion predicted\n".utf8))
            }
            sink.write(prediction.csv(row) + "\n")
        }
        if let plot, let t = timeline, !t.times.isEmpty {
            try ReportFigures.timeline(times: t.times, probabilities: t.probabilities, classes: prediction.classes,
                                       title: "student on \((t.name as NSString).lastPathComponent)").write(svgPath: plot)
        }
        try sink.close()
        try report.finish()
    }
}

/// Rows to a file (written atomically at the end) or to stdout as they come (streaming).
final class OutputSink {
    let path: String?
    var buffer = ""
    init(path: String?) { self.path = path }
    func write(_ s: String) {
        if path == nil { FileHandle.standardOutput.write(Data(s.utf8)) } else { buffer += s }
    }
    func close() throws { if let path { try AtomicFile.write(buffer, to: path); print("\(path) written") } }
}
