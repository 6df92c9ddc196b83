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
        let classes = headModel?.classNames ?? runner.classes
        if segments != nil && window != nil { throw ValidationError("--segments and --window are alternatives: use one") }
        if corpus != nil && !inputs.isEmpty { throw ValidationError("give files or --corpus, not both") }
        if corpus == nil && inputs.isEmpty { throw ValidationError("give audio/video files, '-', or --corpus MANIFEST") }
        if let segments {
            if corpus != nil { throw ValidationError("--segments scores whole recordings: give the files, not --corpus") }
            return try runSegments(segments, runner: runner, head: headModel, classes: classes)
        }
        // What to score: files whole, or the clips of a manifest (their part of the media).
        let items = try corpus.map { try Manifest.read($0).clips.map { Item(id: $0.id, file: $0.audio, start: $0.start, end: $0.end) } }
            ?? inputs.map { Item(id: nil, file: $0, start: nil, end: nil) }
        var header = (corpus == nil ? "" : "id,") + "file,start_s,end_s,label," + classes.map { "p_\($0)" }.joined(separator: ",")
        if logits { header += "," + runner.classes.map { "logit_\($0)" }.joined(separator: ",") }
        let sink = OutputSink(path: out)
        sink.write(header + "\n")
        var report = BatchReport("predict")
        func emit(_ item: Item, _ start: Double, _ end: Double, _ l: [Float], _ e: [Float]) throws -> [Double] {
            guard l.allSatisfy(\.isFinite) else { throw EmovoxError("the student's outputs are not finite numbers", file: item.file) }
            let p = Self.probabilities(l, e, head: headModel)
            let best = p.indices.max { p[$0] < p[$1] }!
            var row = (item.id.map { [CSV.escape($0)] } ?? []) + [CSV.escape(item.file), String(format: "%.2f", start), String(format: "%.2f", end), classes[best]] + p.map { String(format: "%.5f", $0) }
            if logits { row += l.map { String(format: "%.5f", $0) } }
            sink.write(row.joined(separator: ",") + "\n")
            return p
        }
        var timeline: (times: [Double], probs: [[Double]], file: String)? = nil
        if let window {
            let w = Int(window * 16000), h = max(1, Int(hop * 16000))
            for item in items {
                do {
                    let stream = item.file == "-" ? AudioStream(rawPCM16: .standardInput) : try AudioStream(path: item.file, start: item.start, end: item.end)
                    var times: [Double] = [], probs: [[Double]] = []
                    try stream.windows(window: w, hop: h) { start, samples, valid in
                        let (l, e) = runner.score([Array(samples.prefix(max(valid, 1)))])
                        let t0 = (item.start ?? 0) + Double(start) / 16000  // times on the media's time line
                        probs.append(try emit(item, t0, t0 + Double(valid) / 16000, l[0], e[0])); times.append(t0 + Double(valid) / 32000)
                    }
                    if timeline == nil { timeline = (times, probs, item.name) }
                    report.succeeded()
                } catch { report.skip(item.name, error) }
            }
        } else {
            // One bad file is reported and skipped; the rest are scored and written.
            for start in stride(from: 0, to: items.count, by: 16) {
                var scored: [Item] = [], audio: [[Float]] = []
                for item in items[start..<min(start + 16, items.count)] {
                    do {
                        audio.append(try item.file == "-" ? AudioLoader.check(readAllStdin(), sampleRate: 16000, name: "<stdin>", warn: { report.warn($0, $1) })
                                                          : AudioLoader.load(item.file, start: item.start, end: item.end, warn: { report.warn($0, $1) }))
                        scored.append(item)
                    } catch { report.skip(item.name, error) }
                }
                let (l, e) = runner.score(audio)
                for (i, item) in scored.enumerated() {
                    let t0 = item.start ?? 0
                    do { _ = try emit(item, t0, t0 + Double(audio[i].count) / 16000, l[i], e[i]); report.succeeded() } catch { report.skip(item.name, error) }
                }
            }
        }
        if let plot, let t = timeline, !t.times.isEmpty {
            try ReportFigures.timeline(times: t.times, probabilities: t.probs, classes: classes, title: "student on \((t.file as NSString).lastPathComponent)").write(svgPath: plot)
        }
        try sink.close()
        try report.finish()
    }

    /// A file scored whole, or a manifest clip: its id and its part of the media.
    struct Item {
        let id: String?, file: String, start: Double?, end: Double?
        var name: String { id ?? file }
    }

    static func probabilities(_ logits: [Float], _ embedding: [Float], head: CalibrationHead?) -> [Double] {
        guard let h = head else { return Softmax.probabilities(logits).map(Double.init) }
        return h.probabilities([(h.features == "embedding" ? embedding : logits).map(Double.init)])[0]
    }

    /// Rows `file,start_s,end_s,[speaker,]label,p_*` per speech segment; a file without speech gets one
    /// `no-speech` row with empty probabilities (and a note on stderr) instead of an emotion.
    func runSegments(_ spec: String, runner: StudentRunner, head: CalibrationHead?, classes: [String]) throws {
        let listed = try spec == "vad" ? nil : inputs.map { try SegmentList.read(spec, recording: $0) }
        let withSpeaker = listed?.contains { $0.contains { $0.speaker != nil } } ?? false
        let sink = OutputSink(path: out)
        sink.write("file,start_s,end_s," + (withSpeaker ? "speaker," : "") + "label," + classes.map { "p_\($0)" }.joined(separator: ",") + "\n")
        var report = BatchReport("predict")
        for (i, file) in inputs.enumerated() { do {
            let stream = file == "-" ? AudioStream(rawPCM16: .standardInput) : try AudioStream(path: file)
            var found = 0
            let seconds = try SegmentedPrediction.run(stream, runner: runner, source: listed.map { .list($0[i]) } ?? .vad(VADConfig())) { seg, l, e in
                let p = Self.probabilities(l, e, head: head)
                let best = p.indices.max { p[$0] < p[$1] }!
                var row = [CSV.escape(file), String(format: "%.2f", seg.start), String(format: "%.2f", seg.end)]
                if withSpeaker { row.append(CSV.escape(seg.speaker ?? "")) }
                sink.write((row + [classes[best]] + p.map { String(format: "%.5f", $0) }).joined(separator: ",") + "\n")
                found += 1
            }
            if found == 0 {
                FileHandle.standardError.write(Data("\(file): no speech found (\(String(format: "%.2f", seconds)) s of silence or noise): no emotion predicted\n".utf8))
                var row = [CSV.escape(file), "0.00", String(format: "%.2f", seconds)]
                if withSpeaker { row.append("") }
                sink.write((row + ["no-speech"] + classes.map { _ in "" }).joined(separator: ",") + "\n")
            }
            report.succeeded()
        } catch { report.skip(file, error) } }  // one bad recording does not stop the batch
        try sink.close()
        try report.finish()
    }

    func readAllStdin() -> [Float] {
        let d = FileHandle.standardInput.readDataToEndOfFile()
        return d.withUnsafeBytes { $0.bindMemory(to: Int16.self).map { Float(Int16(littleEndian: $0)) / 32768 } }
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
